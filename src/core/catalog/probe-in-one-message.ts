import type { TableRlsSpec } from '../ddl/policy-spec';
import { rowLevelSecuritySql, createPolicySql } from '../ddl/statements';
import { tableLabel, type TableRef } from '../ddl/quote';
import { tableKey, tableSet } from '../ddl/table-keys';
import { canonicalFromProbes, probeName } from './canonicalize';
import { readLiveState, type LivePolicy } from './live-state';
import type { Queryable } from './queryable';
import { refusedStatementError, refusedStatementsError } from './refused-statement';
import { runInOneMessage } from './statements-in-one-message';

const SAVEPOINT = 'mikro_orm_rls_probe';

export interface ProbedTables {
  /** The probed specs, with PostgreSQL's canonical text (see `canonicalizeSpecs`). */
  readonly canonical: TableRlsSpec[];
  /** The live policies of the tables read, by table key, decompiled (the probes left out). */
  readonly policies: Map<string, LivePolicy[]>;
}

/**
 * `canonicalizeSpecs` for many tables at once, reading their live policies on the way: in a savepoint
 * that is rolled back, every probe goes in one message, then one query reads the policies of `tables`
 * (and of the specs' tables): the probes, and the live policies, which it decompiles as well.
 *
 * RLS is switched off on those tables first, within the savepoint: with RLS on, PostgreSQL parses all of
 * a table's policies each time it reloads the table's definition, which it does after each probe and to
 * decompile a policy; off, the whole takes about half the time. The table flags read here are therefore
 * not the live ones: only the policies are returned.
 *
 * Must run inside a transaction; the tables must exist, and the role must own them.
 */
export async function probeInOneMessage(
  db: Queryable,
  specs: readonly TableRlsSpec[],
  tables: readonly TableRef[],
  options: { manageAll?: boolean; rejected?: (make: (after: string) => Error, cause: unknown) => Error } = {},
): Promise<ProbedTables> {
  const rejected = options.rejected ?? ((make) => make(''));
  const probedTables = specs.map((s) => s.table);
  const read = [...tables, ...probedTables.filter((t) => !tableSet(tables).has(tableKey(t)))];
  const statements = [
    ...read.map((table) => ({ table, sql: rowLevelSecuritySql(table, false) })),
    ...specs.flatMap((spec) => spec.policies.map((policy, i) => ({ table: spec.table, policy: policy.name, sql: createPolicySql(spec.table, { ...policy, name: probeName(i) }) }))),
  ];
  await db.query(`savepoint ${SAVEPOINT}`);
  let failed = false;
  try {
    await runInOneMessage(db, statements, (statement, error, message) =>
      rejected(
        (after) =>
          statement ? refusedStatementError(statement, error, message, after) : refusedStatementsError(`Trying the declared policies of ${tablesNamed(probedTables)}`, error, message, after),
        error,
      ),
    );
    const live = new Map((await readLiveState(db, read, { manageAll: options.manageAll })).map((state) => [tableKey(state.table), state.policies]));
    const isProbe = (p: LivePolicy, spec: TableRlsSpec) => spec.policies.some((_, i) => p.name === probeName(i));
    const probedKeys = new Map(specs.map((spec) => [tableKey(spec.table), spec]));
    return {
      canonical: specs.map((spec) => canonicalFromProbes(spec, live.get(tableKey(spec.table)))),
      policies: new Map(
        [...live].map(([key, policies]) => {
          const spec = probedKeys.get(key);
          return [key, spec ? policies.filter((p) => !isProbe(p, spec)) : [...policies]];
        }),
      ),
    };
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    try {
      // One message; after a failed probe, PostgreSQL accepts it in the aborted transaction as well.
      await db.query(`rollback to savepoint ${SAVEPOINT};\nrelease savepoint ${SAVEPOINT}`);
    } catch (error) {
      // After a failure, that failure is the error thrown: this one follows from it (a connection it
      // broke), and the caller's transaction is rolled back either way.
      if (!failed) throw error;
    }
  }
}

/** The tables, for a message: the first three and how many more. */
export function tablesNamed(tables: readonly TableRef[]): string {
  const labels = tables.map(tableLabel);
  return labels.length > 3 ? `${labels.slice(0, 3).join(', ')} and ${labels.length - 3} more tables` : labels.join(', ');
}
