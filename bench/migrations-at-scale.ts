import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { CliProject } from '../tests/fixtures/cli-project';
import { buildPackageUnderV7, V7CliProject } from '../tests/fixtures/v7-cli-project';
import { ensureTestRoles } from '../tests/support/ensure-test-roles';
import { runSql } from '../tests/support/sql-client';
import { SUPERUSER_URL_ENV } from '../tests/support/superuser-url';
import { createTestDatabase } from '../tests/support/test-database';
import { describeMachine } from './machine';

// `npm run bench:migrations [-- --sizes=1000,3000] [-- --majors=6,7] [-- --out=<dir>]`: the migration
// commands at scale, through the real MikroORM CLI of each major, on the machine's PostgreSQL
// (DATABASE_URL, a superuser URL): N entity tables of 4 policies over 2 condition args each, with this
// package, against plain MikroORM (the same tables without policies, without withRls) in the same run.
// Per size: `migration:create --initial`, `migration:up` and `migration:check` (nothing to do), with the
// size of the RLS snapshot; with this package also `migration:create` after one policy changed before
// `migration:up` ran (the database behind the snapshot). One measurement per cell: a run at 3,000 tables
// takes minutes. Writes bench/results/migrations-at-scale.{md,json}.

interface Cell {
  major: 6 | 7;
  tables: number;
  variant: 'plain MikroORM' | 'mikro-orm-rls';
  /** Wall time in seconds of each command, or the first line of its error when it failed. */
  create: number | string;
  up: number | string;
  check: number | string;
  /** `migration:create` after one policy changed before `migration:up` (this package only). */
  changeBeforeUp?: number | string;
  snapshotBytes?: number;
  rlsSnapshotBytes?: number;
  migrationBytes?: number;
}

function parseArgs(argv: string[]) {
  const get = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  for (const arg of argv) if (!/^--(sizes|majors|out)=/.test(arg)) throw new Error(`Unknown argument "${arg}". Use --sizes=1000,3000, --majors=6,7 and --out=<dir>.`);
  return {
    sizes: (get('sizes') ?? '1000,3000').split(',').map(Number),
    majors: (get('majors') ?? '6,7').split(',').map(Number) as (6 | 7)[],
    out: resolve(get('out') ?? join(__dirname, 'results')),
  };
}

/** The entities of the project, in its language; `policy` names the declared policy (`own` by default). */
function entities(major: 6 | 7, tables: number, withPolicies: boolean, policy = 'own'): string {
  const rls = withPolicies
    ? `rls: { policies: [Permissive({ conditionArgs: [accountId, ownerId], cmd: [Command.select, Command.insert, Command.update, Command.delete], customPolicyName: i === 0 ? ${JSON.stringify(policy)} : 'own' })] },`
    : '';
  return `
const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
const ownerId = ConditionArg({ comparatorName: 'owner_id', type: 'integer' });
const tables = Array.from({ length: ${tables} }, (_, i) => new EntitySchema${major === 6 ? '<any>' : ''}({
  name: 'T' + i, tableName: 't' + i,
  properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' }, ownerId: { type: 'integer' } },
  ${rls}
}));
${major === 6 ? 'export const entities = tables;\nvoid Restrictive; void column; void sql;' : 'exports.entities = tables;'}
`;
}

type Project = CliProject | V7CliProject;

/** Seconds the command took, or what it failed with. */
function timed(project: Project, env: Record<string, string>, ...args: string[]): number | string {
  const started = process.hrtime.bigint();
  const result = project.runWith(env, ...args);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status === 0) return Math.round(seconds * 10) / 10;
  const reason = /(out of shared memory[^\n]*|[A-Za-z]*Error: [^\n]*)/.exec(result.output)?.[1] ?? result.output.trim().split('\n').pop();
  return `fails after ${seconds.toFixed(1)} s: ${reason}`;
}

const sizeOf = (dir: string, pattern: RegExp) => {
  const file = readdirSync(dir).find((f) => pattern.test(f));
  return file ? statSync(join(dir, file)).size : undefined;
};

async function measure(major: 6 | 7, tables: number, rls: boolean, v7Build: string | undefined): Promise<Cell> {
  const db = await createTestDatabase('rls_bench_m');
  const project: Project = major === 6 ? new CliProject(db.ownerUrl) : new V7CliProject(db.ownerUrl, v7Build!);
  project.timeoutMs = 1_800_000;
  const env: Record<string, string> = rls ? {} : { RLS_TEST_NATIVE_ONLY: '1' };
  const variant = rls ? 'mikro-orm-rls' : 'plain MikroORM';
  console.log(`MikroORM ${major}, ${tables} tables, ${variant}...`);
  try {
    project.entities(entities(major, tables, rls));
    const cell: Cell = { major, tables, variant, create: timed(project, env, 'migration:create', '--initial'), up: '', check: '' };
    const migrations = join(project.dir, 'migrations');
    cell.migrationBytes = sizeOf(migrations, /^Migration.*\.(ts|js)$/);
    cell.snapshotBytes = sizeOf(migrations, /^\.snapshot-.*(?<!\.rls)\.json$/);
    cell.rlsSnapshotBytes = sizeOf(migrations, /\.rls\.json$/);
    if (rls) {
      // A policy renamed before migration:up: the next migration is planned against a database behind it.
      project.entities(entities(major, tables, rls, 'renamed'));
      await new Promise((r) => setTimeout(r, 1050 - (Date.now() % 1000)));
      cell.changeBeforeUp = timed(project, env, 'migration:create');
    }
    cell.up = timed(project, env, 'migration:up');
    cell.check = timed(project, env, 'migration:check');
    console.log(cell);
    return cell;
  } finally {
    project.remove();
    await db.drop();
  }
}

const show = (v: number | string | undefined) => (v === undefined ? '' : typeof v === 'number' ? `${v} s` : v);
const mb = (bytes: number | undefined) => (bytes === undefined ? '' : `${(bytes / 1e6).toFixed(2)} MB`);
const ratio = (a: number | string, b: number | string) => (typeof a === 'number' && typeof b === 'number' ? `${(a / b).toFixed(2)}x` : '');

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const superUrl = process.env.DATABASE_URL;
  if (!superUrl) throw new Error('Set DATABASE_URL to a superuser URL of the PostgreSQL to measure on.');
  process.env[SUPERUSER_URL_ENV] = superUrl;
  await ensureTestRoles(superUrl);
  const [server] = await runSql(superUrl, `select version() as version, current_setting('max_locks_per_transaction') as locks, current_setting('max_connections') as connections`);
  const machine = describeMachine(server.version);
  const load = loadavg().map((l) => l.toFixed(1)).join(', ');
  const v7Build = args.majors.includes(7) ? buildPackageUnderV7(mkdtempSync(join(__dirname, '..', 'v7', '.rls-build-'))) : undefined;
  const cells: Cell[] = [];
  try {
    for (const major of args.majors) for (const tables of args.sizes) for (const rls of [false, true]) cells.push(await measure(major, tables, rls, v7Build));
  } finally {
    if (v7Build) rmSync(v7Build, { recursive: true, force: true });
  }
  const rows = cells.map((c) => {
    const plain = cells.find((p) => p.major === c.major && p.tables === c.tables && p.variant === 'plain MikroORM')!;
    return `| ${c.major} | ${c.tables} | ${c.variant} | ${show(c.create)} | ${c === plain ? '' : ratio(c.create, plain.create)} | ${show(c.changeBeforeUp)} | ${show(c.up)} | ${show(c.check)} | ${c === plain ? '' : ratio(c.check, plain.check)} | ${mb(c.migrationBytes)} | ${mb(c.rlsSnapshotBytes)} |`;
  });
  const md = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB, ${machine.os}, Node.js ${machine.node} (MikroORM 7 on Node 22), ${machine.postgres};`,
    `max_locks_per_transaction = ${server.locks}, max_connections = ${server.connections}; load average at the start ${load}. One measurement per cell (wall time of the CLI command).`,
    '',
    '| MikroORM | tables | variant | migration:create --initial | vs plain | create after a change before up | migration:up | migration:check | vs plain | migration file | RLS snapshot |',
    '|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows,
    '',
  ].join('\n');
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, 'migrations-at-scale.md'), md);
  writeFileSync(join(args.out, 'migrations-at-scale.json'), `${JSON.stringify({ machine, server, load, cells }, null, 2)}\n`);
  console.log(`\n${md}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
