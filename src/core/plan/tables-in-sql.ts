import type { TableRef } from '../ddl/quote';

export interface TouchedTables {
  /** Tables a statement alters (columns, types, constraints): their policies may depend on what changes. */
  readonly altered: readonly TableRef[];
  /** Tables a statement drops: their policies go with them and must come back on the way down. */
  readonly dropped: readonly TableRef[];
}

const IDENT = '"((?:[^"]|"")+)"';
const STATEMENT = new RegExp(`^\\s*(alter|drop)\\s+table\\s+(?:if\\s+exists\\s+)?(?:${IDENT}\\.)?${IDENT}`, 'i');

const unquote = (s: string) => s.replace(/""/g, '"');

/**
 * Which tables MikroORM's schema diff alters or drops. MikroORM always quotes identifiers, so a small
 * parser of the statement head is exact for its output; unquoted statements written by hand are ignored.
 */
export function tablesInSchemaSql(statements: readonly string[], defaultSchema: string): TouchedTables {
  const altered = new Map<string, TableRef>();
  const dropped = new Map<string, TableRef>();
  for (const statement of statements) {
    const match = STATEMENT.exec(statement);
    if (!match) continue;
    const table = { schema: match[2] ? unquote(match[2]) : defaultSchema, name: unquote(match[3]) };
    (match[1].toLowerCase() === 'drop' ? dropped : altered).set(`${table.schema}.${table.name}`, table);
  }
  return { altered: [...altered.values()], dropped: [...dropped.values()] };
}
