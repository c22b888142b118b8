import { canonicalizeSpecs } from '../catalog/canonicalize';
import { findMissingTables, readLiveState } from '../catalog/live-state';
import { readPartitions } from '../catalog/partitions';
import type { Queryable } from '../catalog/queryable';
import type { TableRlsSpec } from '../ddl/policy-spec';
import { tableLabel, type TableRef } from '../ddl/quote';
import { dropPolicySql } from '../ddl/statements';
import { tableKey } from '../ddl/table-keys';
import { RlsConfigurationError } from '../errors/rls-configuration-error';
import { postgresErrorText } from './postgres-error-text';
import { inRolledBackSavepoint } from './rolled-back-savepoint';
import { joinStatements } from './split-statements';
import { statementTarget } from './tables-in-sql';

/**
 * Tables probed per savepoint. Each chunk creates its tables and probes inside a savepoint that is rolled
 * back, which releases its locks: a chunk holds about 8 locks per table (the table, its row types,
 * sequences, primary key, TOAST table), some 800 of the 64 x max_connections (6,400) a server with default
 * settings has for all its sessions, whatever the size of the migration.
 */
export const PROBE_CHUNK_TABLES = 100;

/** The schema statements the policies are probed after, as MikroORM writes them. */
export interface SchemaToProbeAfter {
  readonly statements: readonly string[];
  readonly defaultSchema: string;
}

// A quoted identifier, a bare word (PostgreSQL folds it to lower case), or a string literal (skipped).
const TOKEN = /'(?:[^']|'')*'|"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)/g;

function* identifiersIn(text: string): Generator<string> {
  for (const match of text.matchAll(TOKEN)) {
    if (match[1] !== undefined) yield match[1].replace(/""/g, '"');
    else if (match[2] !== undefined) yield match[2].toLowerCase();
  }
}

/**
 * The schema statements indexed by the table each is about, so a chunk runs only what its tables need:
 * every statement about no table in particular (`create schema`, `create type`, ...), and those about its
 * tables and the tables they name (a policy's subquery, a partition's parent), in their original order.
 * Foreign keys and indexes are left out: they change nothing in what an expression means, and a foreign
 * key would pull in the table it references, and that one the next.
 */
class StatementsByTable {
  private readonly general: number[] = [];
  private readonly byTable = new Map<string, number[]>();
  private readonly tablesByName = new Map<string, TableRef[]>();
  private readonly altered = new Map<string, TableRef>();

  constructor(private readonly statements: readonly string[], defaultSchema: string) {
    statements.forEach((statement, i) => {
      if (statement.trim() === '') return;
      const target = statementTarget(statement, defaultSchema);
      if (!target) {
        this.general.push(i);
        return;
      }
      if (target.kind === 'foreign-key' || target.kind === 'index') return;
      const key = tableKey(target.table);
      if (target.kind === 'alter-table') this.altered.set(key, target.table);
      const list = this.byTable.get(key);
      if (list) {
        list.push(i);
      } else {
        this.byTable.set(key, [i]);
        const named = this.tablesByName.get(target.table.name);
        if (named) named.push(target.table);
        else this.tablesByName.set(target.table.name, [target.table]);
      }
    });
  }

  /** The statements `specs` need, in order, and which of the tables they run on they alter. */
  for(specs: readonly TableRlsSpec[]): { statements: string[]; altered: TableRef[] } {
    const needed = new Set<string>();
    const queue: string[] = [];
    const need = (key: string) => {
      if (needed.has(key)) return;
      needed.add(key);
      queue.push(key);
    };
    // A name may be a column or a keyword that happens to name a table too: running that table's
    // statements as well is harmless, missing one would not be.
    const needTablesNamedIn = (text: string | null) => {
      if (text === null) return;
      for (const name of identifiersIn(text)) for (const table of this.tablesByName.get(name) ?? []) need(tableKey(table));
    };
    for (const spec of specs) {
      need(tableKey(spec.table));
      for (const policy of spec.policies) {
        needTablesNamedIn(policy.using);
        needTablesNamedIn(policy.withCheck);
      }
    }
    for (let key = queue.pop(); key !== undefined; key = queue.pop()) {
      for (const i of this.byTable.get(key) ?? []) needTablesNamedIn(this.statements[i]);
    }
    const indices = [...this.general, ...[...needed].flatMap((key) => this.byTable.get(key) ?? [])];
    return {
      statements: indices.sort((a, b) => a - b).map((i) => this.statements[i]),
      altered: [...needed].flatMap((key) => this.altered.get(key) ?? []),
    };
  }
}

// What PostgreSQL says when a statement meets a schema other than the one it was written for: an object
// it creates exists already, or one it changes does not exist.
const STATE_MISMATCH = new Set(['42P07', '42P01', '42701', '42703', '42710', '42704', '42P06', '3F000']);

async function runSchemaStatement(db: Queryable, statement: string): Promise<void> {
  try {
    await db.query(statement);
  } catch (error) {
    const mismatch = STATE_MISMATCH.has(String((error as { code?: unknown }).code));
    throw new RlsConfigurationError(
      'Cannot plan the policies: PostgreSQL checks them against the schema as this migration leaves it, so ' +
        `MikroORM's schema statements run first (in a transaction that is rolled back), and one failed: ${postgresErrorText(error, statement)}. ` +
        `The statement: ${statement}.` +
        (mismatch
          ? ' The database is not at the state the migration starts from: run the pending migrations (migration:up), ' +
            'or create the migration against a database that is.'
          : ''),
      { cause: error },
    );
  }
}

/**
 * Drops, for the probe only, the live policies of tables the statements alter and of their partitions:
 * PostgreSQL refuses to change the type of a column a policy uses, and the migration drops them first too.
 */
async function dropPoliciesOf(db: Queryable, altered: readonly TableRef[]): Promise<void> {
  if (altered.length === 0) return;
  const partitions = await readPartitions(db, altered);
  for (const table of await readLiveState(db, [...altered, ...partitions.map((p) => p.table)])) {
    for (const policy of table.policies) await db.query(dropPolicySql(table.table, policy.name));
  }
}

/**
 * Runs the statements in one message (thousands of them would otherwise be thousands of round trips);
 * when that fails, again one by one from a savepoint, so that the error names the statement.
 */
async function runSchemaStatements(db: Queryable, statements: readonly string[]): Promise<void> {
  if (statements.length === 0) return;
  await db.query('savepoint mikro_orm_rls_schema');
  try {
    await db.query(joinStatements(statements));
  } catch {
    // Not swallowed: the failing statement is found and reported below.
    await db.query('rollback to savepoint mikro_orm_rls_schema');
    for (const statement of statements) await runSchemaStatement(db, statement);
  }
  await db.query('release savepoint mikro_orm_rls_schema');
}

async function assertTablesExist(db: Queryable, specs: readonly TableRlsSpec[]): Promise<void> {
  const missing = await findMissingTables(db, specs.map((s) => s.table));
  if (missing.length === 0) return;
  throw new RlsConfigurationError(
    `Cannot plan the policies of ${missing.map(tableLabel).join(', ')}: the table does not exist in the database and ` +
      "this migration's schema statements do not create it. Create the migration against the database the " +
      'earlier migrations were applied to (run migration:up first).',
  );
}

/**
 * PostgreSQL's canonical text of the policies of `specs` (one spec per table; see `canonicalizeSpecs`), as
 * they will be once `schema` ran: each chunk of tables runs the statements it needs and probes its
 * policies inside a savepoint that is rolled back. Runs inside the caller's transaction; changes nothing.
 */
export async function probeAfterSchema(db: Queryable, specs: readonly TableRlsSpec[], schema: SchemaToProbeAfter): Promise<TableRlsSpec[]> {
  const statements = new StatementsByTable(schema.statements, schema.defaultSchema);
  const probed: TableRlsSpec[] = [];
  for (let start = 0; start < specs.length; start += PROBE_CHUNK_TABLES) {
    const chunk = specs.slice(start, start + PROBE_CHUNK_TABLES);
    const canonical = await inRolledBackSavepoint(db, 'mikro_orm_rls_probe', async () => {
      const needed = statements.for(chunk);
      await dropPoliciesOf(db, needed.altered);
      await runSchemaStatements(db, needed.statements);
      await assertTablesExist(db, chunk);
      return canonicalizeSpecs(db, chunk);
    });
    probed.push(...canonical);
  }
  return probed;
}
