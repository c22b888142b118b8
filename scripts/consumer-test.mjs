#!/usr/bin/env node
// The package as a new user gets it: `npm pack`, a new project in a temporary folder outside the
// repository, installed with exactly the README's install line (the tarball in place of the name), then
//   (a) a CommonJS script and an ES module script that declare a tenant policy, apply it as the owner and
//       check isolation as the application role: scoped find outside a transaction, scoped transaction,
//       bypass (scripts/consumer/tenant-isolation.*)
//   (b) `tsc --noEmit` on a file importing the root and every subpath, under each module setting
//   (c) `mikro-orm-rls audit --help` and `policies --help`, and `mikro-orm migration:create` writing the policy DDL.
// Nothing of the repository's node_modules reaches the project: it lives outside the repository, and
// the commands run without npm's PATH entries and variables. Temporary folders, databases and roles are
// removed at the end, also after a failure.
//
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run test:consumer
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { check, consumerEnv, failures, indent, installArgs, pack, run, spawnCaptured, StepFailed, timings } from './consumer-harness.mjs';

/** The README's install line, run as is with the packed tarball in place of the package name. */
const INSTALL_LINE = 'npm i -E mikro-orm-rls zod @mikro-orm/core@6.6.16 @mikro-orm/postgresql@6.6.16';
/** What the CLI steps need besides: MikroORM's CLI and migrations, and ts-node to load a TS config. */
const DEV_INSTALL_LINE = 'npm i -D -E @mikro-orm/cli@6.6.16 @mikro-orm/migrations@6.6.16 typescript@5.9.3 ts-node@10.9.2 @types/node@20';
/** Packages the subpaths' declarations import; installed at the versions of the repository's devDependencies. */
const SUBPATH_TYPE_PACKAGES = ['@types/express', 'express', 'fastify', '@nestjs/common', '@nestjs/core', '@mikro-orm/nestjs', 'reflect-metadata', 'rxjs'];
/** The TypeScript settings a user may have; `.mts` is checked where Node's ES module rules apply. */
const MODULE_SETTINGS = [
  { name: 'commonjs-node10', module: 'commonjs', moduleResolution: 'node10', files: ['imports.ts'], loads: ['cjs'] },
  { name: 'node16', module: 'node16', moduleResolution: 'node16', files: ['imports.ts', 'imports.mts'], loads: ['cjs', 'esm'] },
  { name: 'nodenext', module: 'nodenext', moduleResolution: 'nodenext', files: ['imports.ts', 'imports.mts'], loads: ['cjs', 'esm'] },
  { name: 'bundler', module: 'esnext', moduleResolution: 'bundler', files: ['imports.ts'], loads: ['esm'] },
];
/** Declarations of each entry point, by build (`loads` above), that tsc must have read. */
const DECLARATIONS = {
  cjs: ['index.d.ts', 'integrations/express/index.d.ts', 'integrations/fastify/index.d.ts', 'integrations/nestjs/index.d.ts', 'migrations/index.d.ts', 'testing/index.d.ts'].map((f) => `dist/cjs/${f}`),
  esm: ['index.d.mts', 'integrations/express/index.d.mts', 'integrations/fastify/index.d.mts', 'integrations/nestjs/index.d.mts', 'migrations/index.d.mts', 'testing/index.d.mts'].map((f) => `dist/esm/${f}`),
};
/** Files of scripts/consumer copied into the project. */
const FIXTURES = ['database.cjs', 'isolation-check.cjs', 'tenant-isolation.cjs', 'tenant-isolation.mjs', 'entities.ts', 'mikro-orm.config.ts'];

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = join(repo, 'scripts', 'consumer');
const repoPackage = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));

function checkReadme() {
  const step = 'README.md shows the install line this test installs with';
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  if (readme.includes(INSTALL_LINE)) return console.log(`\n--- ${step}\nok`);
  const message =
    `README.md does not contain the line\n  ${INSTALL_LINE}\n` +
    'This test installs exactly that line (with the packed tarball in place of the name), so a user who copies ' +
    "the README's line gets what was tested. Put it in the README's Install section, or change INSTALL_LINE in " +
    'scripts/consumer-test.mjs together with the README.';
  console.error(`\nFAILED: ${step} (the other steps still run)\n${indent(message)}`);
  failures.push(`${step}: the line is missing`);
}

async function main() {
  const superUrl = process.env.DATABASE_URL;
  if (!superUrl) {
    console.error('Set DATABASE_URL to a PostgreSQL superuser URL, e.g.\n  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run test:consumer');
    return 2;
  }
  checkReadme();

  const work = realpathSync(mkdtempSync(join(tmpdir(), 'mikro-orm-rls-consumer-')));
  if (!relative(realpathSync(repo), work).startsWith('..')) {
    console.error(`The temporary folder ${work} is inside the repository; set TMPDIR to a folder outside it.`);
    return 2;
  }
  const project = join(work, 'project');
  const runId = `rls_consumer_${randomBytes(4).toString('hex')}`;
  const databases = { cjs: `${runId}_cjs`, esm: `${runId}_esm`, migrations: `${runId}_mig` };
  const started = Date.now();
  try {
    const tarball = await pack(repo, work);
    createProject(project);
    await run('install: the README line', 'npm', installArgs(INSTALL_LINE, tarball), { cwd: project });
    await checkResolvesInsideProject(project);

    await run('(a) CommonJS script: tenant isolation', 'node', ['tenant-isolation.cjs', databases.cjs], { cwd: project, env: consumerEnv({ DATABASE_URL: superUrl }) });
    await run('(a) ES module script: tenant isolation', 'node', ['tenant-isolation.mjs', databases.esm], { cwd: project, env: consumerEnv({ DATABASE_URL: superUrl }) });

    await run('install: CLI tools (dev)', 'npm', installArgs(DEV_INSTALL_LINE, tarball), { cwd: project });
    const help = await run('(c) mikro-orm-rls audit --help', 'npx', ['--no', '--', 'mikro-orm-rls', 'audit', '--help'], { cwd: project, timeoutSeconds: 60 });
    check('(c) mikro-orm-rls audit --help', help.includes('Usage: mikro-orm-rls audit'), `No usage text in:\n${help}`);
    const policiesHelp = await run('(c) mikro-orm-rls policies --help', 'npx', ['--no', '--', 'mikro-orm-rls', 'policies', '--help'], { cwd: project, timeoutSeconds: 60 });
    check('(c) mikro-orm-rls policies --help', policiesHelp.includes('Usage: mikro-orm-rls policies'), `No usage text in:\n${policiesHelp}`);
    await createMigration(project, superUrl, databases.migrations);

    const versions = SUBPATH_TYPE_PACKAGES.map((name) => {
      const version = repoPackage.devDependencies[name];
      if (!version) throw new Error(`${name} is not in package.json devDependencies: add it there, or drop it from SUBPATH_TYPE_PACKAGES`);
      return `${name}@${version}`;
    });
    await run("install: the subpaths' type dependencies (dev)", 'npm', ['i', '-D', '-E', ...versions], { cwd: project });
    for (const setting of MODULE_SETTINGS) for (const skipLibCheck of [false, true]) await typeCheck(project, setting, skipLibCheck);
  } catch (error) {
    if (!(error instanceof StepFailed)) throw error;
    failures.push(error.message);
  } finally {
    await cleanUp(work, project, superUrl, Object.values(databases));
  }

  console.log('\n==== consumer test: timings');
  for (const [step, seconds] of timings) console.log(`${seconds.toFixed(1).padStart(7)} s  ${step}`);
  console.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(7)} s  total`);
  if (failures.length > 0) {
    console.error(`\nconsumer test FAILED:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    return 1;
  }
  console.log('\nconsumer test passed');
  return 0;
}

/** A new CommonJS project (no "type"), as `npm init -y` makes it, with the CLI reading the TS config. */
function createProject(project) {
  mkdirSync(project);
  const pkg = { name: 'rls-consumer', version: '1.0.0', private: true, 'mikro-orm': { useTsNode: true, configPaths: ['./mikro-orm.config.ts'] } };
  writeFileSync(join(project, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  // The project's own tsconfig.json, as ts-node reads it for mikro-orm.config.ts.
  const tsconfig = { compilerOptions: { target: 'ES2022', module: 'commonjs', moduleResolution: 'node10', strict: true, esModuleInterop: true, skipLibCheck: true } };
  writeFileSync(join(project, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
  for (const file of FIXTURES) copyFileSync(join(fixtures, file), join(project, file));
  copyFileSync(join(fixtures, 'imports.ts'), join(project, 'imports.ts'));
  copyFileSync(join(fixtures, 'imports.ts'), join(project, 'imports.mts'));
}

/** The package, MikroORM and the `pg` that MikroORM's knex loads all come from the project's node_modules. */
async function checkResolvesInsideProject(project) {
  const probe = `
    const { dirname } = require('node:path');
    const from = (id, base) => require.resolve(id, base && { paths: [dirname(require.resolve(base))] });
    const files = {
      'mikro-orm-rls': from('mikro-orm-rls'),
      '@mikro-orm/core': from('@mikro-orm/core'),
      '@mikro-orm/postgresql': from('@mikro-orm/postgresql'),
      'pg (as @mikro-orm/knex loads it)': from('pg', from('@mikro-orm/knex', '@mikro-orm/postgresql')),
    };
    const pg = require(require.resolve('pg/package.json', { paths: [dirname(files['pg (as @mikro-orm/knex loads it)'])] }));
    console.log(JSON.stringify({ files, pgVersion: pg.version }));`;
  const output = await run('the project loads its own packages', 'node', ['-e', probe], { cwd: project, timeoutSeconds: 60 });
  const { files } = JSON.parse(output.split('\n').pop());
  const outside = Object.entries(files).filter(([, file]) => relative(project, file).startsWith('..'));
  check('the project loads its own packages', outside.length === 0, `Resolved outside ${project}:\n${outside.map(([id, file]) => `${id}: ${file}`).join('\n')}`);
}

/** `mikro-orm migration:create` as the owner of an empty database writes the table and its policy. */
async function createMigration(project, superUrl, id) {
  const created = await run('(c) database for the CLI (superuser)', 'node', ['database.cjs', 'create', id], { cwd: project, env: consumerEnv({ DATABASE_URL: superUrl }), timeoutSeconds: 60 });
  const { ownerUrl } = JSON.parse(created.split('\n').pop());
  const step = '(c) mikro-orm migration:create';
  await run(step, 'npx', ['--no', '--', 'mikro-orm', 'migration:create'], { cwd: project, env: consumerEnv({ OWNER_DATABASE_URL: ownerUrl }), timeoutSeconds: 120 });
  const folder = join(project, 'migrations');
  const files = existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith('.ts')) : [];
  check(step, files.length === 1, `Expected one migration in ${folder}, found: ${files.join(', ') || 'none'}`);
  const migration = readFileSync(join(folder, files[0]), 'utf8');
  const expected = [/create table "notes"/, /create policy "[^"]+" on "public"\."notes"/, /alter table "public"\."notes" enable row level security/, /alter table "public"\."notes" force row level security/];
  const missing = expected.filter((pattern) => !pattern.test(migration));
  check(step, missing.length === 0, `${files[0]} lacks ${missing.join(', ')}:\n${migration}`);
  console.log(indent(migration.split('\n').filter((line) => /policy|row level security/.test(line)).join('\n')));
}

/**
 * `tsc --noEmit` under one module setting, strict, without skipLibCheck (the declarations are checked
 * too) and with it (what most projects set: the `rls` augmentation must still merge and its wrong
 * pivotTables key stay an error); esModuleInterop as `tsc --init` sets it (MikroORM's declarations need
 * it under commonjs).
 */
async function typeCheck(project, { name, module, moduleResolution, files, loads }, skipLibCheck) {
  const config = `tsconfig.${name}-skipLibCheck-${skipLibCheck}.json`;
  const compilerOptions = { module, moduleResolution, target: 'ES2022', strict: true, esModuleInterop: true, skipLibCheck, noEmit: true, types: ['node'] };
  writeFileSync(join(project, config), `${JSON.stringify({ compilerOptions, files }, null, 2)}\n`);
  const step = `(b) tsc --noEmit, module ${module}, moduleResolution ${moduleResolution}, skipLibCheck ${skipLibCheck} (${files.join(', ')})`;
  await run(step, 'npx', ['--no', '--', 'tsc', '-p', config], { cwd: project, timeoutSeconds: 180 });
  // skipLibCheck changes what is checked, not what is read: list the files once per module setting.
  if (skipLibCheck) return;
  // Which declarations that run read (--listFilesOnly resolves the imports without checking them again).
  const listed = await run(`${step}: files read`, 'npx', ['--no', '--', 'tsc', '-p', config, '--listFilesOnly'], { cwd: project, timeoutSeconds: 60, quiet: true });
  const read = new Set(listed.split('\n').map((file) => relative(join(project, 'node_modules', repoPackage.name), file.trim())));
  const unread = loads.flatMap((build) => DECLARATIONS[build]).filter((file) => !read.has(file));
  check(step, unread.length === 0, `tsc passed without reading the declarations it should resolve to:\n${unread.join('\n')}`);
  // The published types are the same for both majors: no adapter's own declarations among them.
  const adapterFiles = [...read].filter((file) => file.startsWith('dist/cjs/adapters/mikro-orm-'));
  check(step, adapterFiles.length === 0, `tsc read an adapter's declarations (the published types must not depend on one major):\n${adapterFiles.join('\n')}`);
}

/** Removes the databases and roles (through the project's own database.cjs), then the temporary folder. */
async function cleanUp(work, project, superUrl, ids) {
  console.log('\n--- clean-up');
  // Nothing is created in PostgreSQL before the project's packages are installed.
  if (existsSync(join(project, 'node_modules', '@mikro-orm', 'postgresql'))) {
    for (const id of ids) {
      const env = consumerEnv({ DATABASE_URL: superUrl });
      const result = await spawnCaptured('node', ['database.cjs', 'drop', id], { cwd: project, env, timeoutSeconds: 60 });
      if (result.status !== 0) {
        failures.push(`clean-up: could not drop database ${id} and its roles`);
        console.error(`Could not drop database ${id} and roles ${id}_owner, ${id}_app, ${id}_bypass (${result.why}); drop them by hand.\n${indent(result.output)}`);
      }
    }
    console.log(`dropped databases ${ids.join(', ')} and their roles, where they existed`);
  }
  rmSync(work, { recursive: true, force: true });
  console.log(`removed ${work}`);
}

process.exitCode = await main();
