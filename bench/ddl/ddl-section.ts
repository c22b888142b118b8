import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSql } from '../../tests/support/sql-client';
import { createBenchDatabase } from '../dataset';
import { describeMachine } from '../machine';
import { runOnNode22 } from '../v7/run-part';
import { measureDdl, type DdlPlan, type DdlRow } from './ddl-part';
import { checkDdlBudget, type DdlReport } from './ddl-report';
import { readLockTableSettings } from '../../src/core/catalog/lock-budget';
import { CHUNKS_AT_ONCE } from '../../src/core/plan/apply-declared-state';

const DATABASE = 'rls_bench_ddl';

/** Sizes and rounds: the full run measures issue 14's sizes; `--quick` only proves the section works. */
export const ddlPlan = (quick: boolean): DdlPlan => (quick ? { sizes: [40], rounds: 1 } : { sizes: [1000, 3000], rounds: 3 });

/** What the MikroORM 7 child of the DDL section is given (bench/v7/ddl-main.ts). */
export interface DdlPartInput {
  ownerUrl: string;
  plan: DdlPlan;
}

async function measureOnMikroOrm7(input: DdlPartInput): Promise<DdlRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'mikro-orm-rls-bench-ddl-'));
  try {
    const inputFile = join(dir, 'input.json');
    const outputFile = join(dir, 'output.json');
    writeFileSync(inputFile, JSON.stringify(input));
    await runOnNode22(join(__dirname, '..', 'v7', 'ddl-main.ts'), [inputFile, outputFile]);
    return JSON.parse(readFileSync(outputFile, 'utf8')) as DdlRow[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The DDL section: `createPolicies` against the baseline (the same plan sent one statement per round
 * trip, as before issue 14) on MikroORM 6 here and on MikroORM 7 in a Node 22 child, in a database of
 * its own on the bench's server.
 */
export async function runDdlSection(superuserUrl: string, quick: boolean, postgresVersion: string): Promise<DdlReport> {
  const db = await createBenchDatabase(superuserUrl, DATABASE);
  try {
    const plan = ddlPlan(quick);
    console.log(`DDL section: createPolicies on ${plan.sizes.join(' and ')} tables, ${plan.rounds} round(s), MikroORM 6 then 7`);
    const rows = await measureDdl(6, db.ownerUrl, plan);
    rows.push(...(await measureOnMikroOrm7({ ownerUrl: db.ownerUrl, plan })));
    const server = await readLockTableSettings({ query: (text, params) => runSql(db.superUrl, text, params as unknown[]) });
    return { date: new Date().toISOString(), machine: describeMachine(postgresVersion), server, plan, pool: CHUNKS_AT_ONCE, rows, budget: checkDdlBudget(rows, server) };
  } finally {
    await runSql(superuserUrl, `drop database if exists ${DATABASE} with (force)`);
  }
}
