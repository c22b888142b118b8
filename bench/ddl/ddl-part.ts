import { performance } from 'node:perf_hooks';
import type { MikroORM } from '@mikro-orm/core';
import { MikroORM as PostgresMikroORM, type Options } from '@mikro-orm/postgresql';
import { createPolicies, withRls } from '../../src';
import type { RlsOperation } from '../../src/core/diff/operation';
import { CHUNKS_AT_ONCE } from '../../src/core/plan/apply-declared-state';
import { rlsSettingsOf } from '../../src/core/settings/rls-settings';
import { inOrmTransaction } from '../../tests/support/in-orm-transaction';
import { RoundTripCounter } from '../../tests/support/round-trip-counter';
import { manyTableEntities, recreateTables } from '../../tests/fixtures/many-tables';
import { applyOneStatementPerRoundTrip } from './one-statement-per-round-trip';

// The DDL section's measuring loop, the same on both MikroORM majors (bench/ddl/ddl-section.ts runs it
// on MikroORM 6 in the bench's process and on MikroORM 7 in a Node 22 child, bench/v7/ddl-main.ts).

/** `createPolicies` as shipped, and the baseline: the same plan with one statement per round trip. */
export type DdlPathId = 'createPolicies' | 'oneStatementPerRoundTrip';
export type DdlRun = 'fresh' | 'no change';

export const DDL_PATH_LABELS: Record<DdlPathId, string> = {
  createPolicies: 'createPolicies',
  oneStatementPerRoundTrip: 'one statement per round trip (before issue 14)',
};

export interface DdlSample {
  ms: number;
  roundTrips: number;
  operations: number;
}

export interface DdlRow {
  major: number;
  tables: number;
  path: DdlPathId;
  /** `fresh`: tables without RLS; `no change`: right after, everything already as declared. */
  run: DdlRun;
  /** One per round, in round order; fewer when it failed. */
  samples: DdlSample[];
  /** The first line of its error, when the path cannot do it (for example out of shared memory). */
  error?: string;
}

export interface DdlPlan {
  /** Table counts, each measured with a fresh set of tables. */
  readonly sizes: readonly number[];
  readonly rounds: number;
}

const firstLine = (error: unknown) => String((error as Error)?.message ?? error).split('\n')[0];

const PATHS: Record<DdlPathId, (orm: MikroORM) => Promise<RlsOperation[]>> = {
  createPolicies: (orm) => createPolicies(orm),
  oneStatementPerRoundTrip: (orm) => {
    const settings = rlsSettingsOf(orm.config);
    return inOrmTransaction(orm.em, (db) =>
      applyOneStatementPerRoundTrip(db, { desired: settings.tables, entityTables: settings.entityTables, manageAllPolicies: settings.manageAllPolicies }),
    );
  },
};

async function timed(counter: RoundTripCounter, run: () => Promise<RlsOperation[]>): Promise<DdlSample> {
  let operations: RlsOperation[] = [];
  const start = performance.now();
  const roundTrips = await counter.during(async () => {
    operations = await run();
  });
  return { ms: performance.now() - start, roundTrips, operations: operations.length };
}

/**
 * Measures both paths at every size: per round (the paths' order rotating), each path gets a fresh set
 * of tables, applies the policies (`fresh`), then applies them again (`no change`, which must find
 * nothing to do). A path that fails keeps its error and is not run again at that size.
 */
export async function measureDdl(major: 6 | 7, ownerUrl: string, plan: DdlPlan): Promise<DdlRow[]> {
  const ids = Object.keys(PATHS) as DdlPathId[];
  const rows: DdlRow[] = [];
  let created = 0;
  for (const tables of plan.sizes) {
    const counter = new RoundTripCounter();
    const options: Options = counter.installIn({ clientUrl: ownerUrl, entities: manyTableEntities(tables), pool: { min: 1, max: CHUNKS_AT_ONCE } });
    const orm = await PostgresMikroORM.init(withRls(options));
    try {
      const row = new Map(ids.flatMap((path) => (['fresh', 'no change'] as const).map((run) => [`${path}/${run}`, { major, tables, path, run, samples: [] } as DdlRow])));
      for (const r of row.values()) rows.push(r);
      for (let round = 0; round < plan.rounds; round++) {
        for (const path of [...ids.slice(round % ids.length), ...ids.slice(0, round % ids.length)]) {
          const fresh = row.get(`${path}/fresh`)!;
          const again = row.get(`${path}/no change`)!;
          if (fresh.error || again.error) continue;
          await recreateTables(ownerUrl, tables, created);
          created = Math.max(created, tables);
          try {
            fresh.samples.push(await timed(counter, () => PATHS[path](orm)));
          } catch (error) {
            fresh.error = again.error = firstLine(error);
            process.stdout.write(`  DDL ${major} ${tables} tables, ${DDL_PATH_LABELS[path]}: failed: ${fresh.error}\n`);
            continue;
          }
          const second = await timed(counter, () => PATHS[path](orm));
          if (second.operations !== 0) throw new Error(`${DDL_PATH_LABELS[path]} on ${tables} tables: the second run still had ${second.operations} operations; the measurement would not be of a run with nothing to do.`);
          again.samples.push(second);
          process.stdout.write(`  DDL ${major} ${tables} tables, ${DDL_PATH_LABELS[path]}: fresh ${fresh.samples.at(-1)!.ms.toFixed(0)} ms, no change ${second.ms.toFixed(0)} ms\n`);
        }
      }
    } finally {
      await orm.close(true);
    }
  }
  await recreateTables(ownerUrl, 0, created);
  return rows;
}
