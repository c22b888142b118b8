import type { TableRef } from '../ddl/quote';

export interface TouchedTables {
  /** Tables a statement alters (columns, types, constraints): their policies may depend on what changes. */
  readonly altered: readonly TableRef[];
  /** Tables a statement drops: their policies go with them and must come back on the way down. */
  readonly dropped: readonly TableRef[];
}

/**
 * What a schema statement does to which table: `foreign-key` is an `alter table ... add constraint ...
 * foreign key` (it also names the referenced table), `index` a `create [unique] index ... on`.
 */
export type StatementKind = 'create-table' | 'alter-table' | 'foreign-key' | 'drop-table' | 'index' | 'comment';

export interface StatementTarget {
  readonly table: TableRef;
  readonly kind: StatementKind;
}

const IDENT = '"((?:[^"]|"")+)"';
const TABLE = `(?:${IDENT}\\.)?${IDENT}`;
const HEADS: readonly [RegExp, StatementKind][] = [
  [new RegExp(`^\\s*create\\s+(?:unlogged\\s+)?table\\s+(?:if\\s+not\\s+exists\\s+)?${TABLE}`, 'i'), 'create-table'],
  [new RegExp(`^\\s*alter\\s+table\\s+(?:if\\s+exists\\s+)?(?:only\\s+)?${TABLE}`, 'i'), 'alter-table'],
  [new RegExp(`^\\s*drop\\s+table\\s+(?:if\\s+exists\\s+)?${TABLE}`, 'i'), 'drop-table'],
  [new RegExp(`^\\s*create\\s+(?:unique\\s+)?index\\s+(?:concurrently\\s+)?(?:if\\s+not\\s+exists\\s+)?(?:${IDENT}\\s+)?on\\s+(?:only\\s+)?${TABLE}`, 'i'), 'index'],
  [new RegExp(`^\\s*comment\\s+on\\s+table\\s+${TABLE}`, 'i'), 'comment'],
];
// `comment on column "schema"."table"."column"` or `"table"."column"`.
const COLUMN_COMMENT = new RegExp(`^\\s*comment\\s+on\\s+column\\s+${IDENT}\\.${IDENT}(?:\\.${IDENT})?`, 'i');
const FOREIGN_KEY = new RegExp(`\\badd\\s+constraint\\s+${IDENT}\\s+foreign\\s+key\\b`, 'i');

const unquote = (s: string) => s.replace(/""/g, '"');

/**
 * The table a schema statement as MikroORM writes it is about, or undefined for any other statement
 * (`create schema`, `create type`, `set ...`). MikroORM always quotes identifiers, so a small parser of
 * the statement head is exact for its output; unquoted statements written by hand are not recognised.
 */
export function statementTarget(statement: string, defaultSchema: string): StatementTarget | undefined {
  for (const [head, kind] of HEADS) {
    const match = head.exec(statement);
    if (!match) continue;
    // The index head has the index name first: the table is always the last two groups.
    const [schema, name] = match.slice(-2);
    const table = { schema: schema !== undefined ? unquote(schema) : defaultSchema, name: unquote(name) };
    return { table, kind: kind === 'alter-table' && FOREIGN_KEY.test(statement) ? 'foreign-key' : kind };
  }
  const column = COLUMN_COMMENT.exec(statement);
  if (!column) return undefined;
  const table = column[3] !== undefined ? { schema: unquote(column[1]), name: unquote(column[2]) } : { schema: defaultSchema, name: unquote(column[1]) };
  return { table, kind: 'comment' };
}

/** Which tables MikroORM's schema diff alters (foreign keys included) or drops. */
export function tablesInSchemaSql(statements: readonly string[], defaultSchema: string): TouchedTables {
  const altered = new Map<string, TableRef>();
  const dropped = new Map<string, TableRef>();
  for (const statement of statements) {
    const target = statementTarget(statement, defaultSchema);
    if (target?.kind === 'alter-table' || target?.kind === 'foreign-key') altered.set(`${target.table.schema}.${target.table.name}`, target.table);
    if (target?.kind === 'drop-table') dropped.set(`${target.table.schema}.${target.table.name}`, target.table);
  }
  return { altered: [...altered.values()], dropped: [...dropped.values()] };
}
