import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Options } from '@mikro-orm/core';
import { MikroORM } from '@mikro-orm/postgresql';
import ts from 'typescript';
import { withRls } from '../../src';
import { buildPackageUnderV7 } from '../fixtures/v7-cli-project';
import { mikroOrmTreeOfThisRun } from '../support/mikro-orm-tree';
import { createSchema } from '../support/schema-generator';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { TEST_ROLES } from '../support/test-roles';

// The README's "Testing your policies" file, run as the README says by `node --test` (no Jest: the kit
// needs no test framework): on MikroORM 7 as printed, TypeScript through `node --import tsx/esm`; on
// MikroORM 6 compiled to CommonJS first. With the Quickstart's entities.ts, on a database whose tables and policies exist, as
// the owner and the unprivileged application role. The package is compiled to JavaScript inside the
// run's install tree (the root for MikroORM 6, v7/ for MikroORM 7), so the file loads that major.

jest.setTimeout(180_000);

const repo = join(__dirname, '..', '..');
const readme = readFileSync(join(repo, 'README.md'), 'utf8');
const entitiesBlock = /```ts\n(\/\/ file: entities\.ts\n[\s\S]*?)```/.exec(readme)?.[1];
const testBlock = /```ts\n(\/\/ file: policies\.test\.ts\n[\s\S]*?)```/.exec(readme)?.[1];

let db: TestDatabase | undefined;
const folders: string[] = [];
afterAll(async () => {
  await db?.drop();
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

/** A README block as CommonJS, its imports of the package pointed at the build. */
function toCommonJs(code: string, build: string): string {
  const js = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
  return js
    .replace(/require\("mikro-orm-rls\/testing"\)/g, `require(${JSON.stringify(join(build, 'testing'))})`)
    .replace(/require\("mikro-orm-rls"\)/g, `require(${JSON.stringify(join(build, 'index'))})`);
}

/** A README block kept as TypeScript (ES modules), its imports of the package pointed at the build. */
function asTypeScript(code: string, build: string): string {
  return code
    .replace(/from 'mikro-orm-rls\/testing'/g, `from ${JSON.stringify(join(build, 'testing', 'index.js'))}`)
    .replace(/from 'mikro-orm-rls'/g, `from ${JSON.stringify(join(build, 'index.js'))}`);
}

/** How the README runs the file on this run's major: MikroORM 6 as CommonJS JavaScript, MikroORM 7 as TypeScript through `node --import tsx/esm --test`. */
function writeProject(project: string, build: string, v7: boolean): string[] {
  if (!v7) {
    writeFileSync(join(project, 'entities.js'), toCommonJs(entitiesBlock!, build));
    writeFileSync(join(project, 'policies.test.js'), toCommonJs(testBlock!, build));
    return ['--test', '--test-reporter=tap', 'policies.test.js'];
  }
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'readme-policy-tests', private: true, type: 'module' }));
  writeFileSync(join(project, 'entities.ts'), asTypeScript(entitiesBlock!, build));
  writeFileSync(join(project, 'policies.test.ts'), asTypeScript(testBlock!, build));
  // The CommonJS copy only for this process, which creates the tables from the same entities.
  writeFileSync(join(project, 'entities.cjs'), toCommonJs(entitiesBlock!, build));
  return ['--import', 'tsx/esm', '--test', '--test-reporter=tap', 'policies.test.ts'];
}

it("the README's policy test file passes under node --test, as the application role", async () => {
  if (!entitiesBlock || !testBlock) throw new Error('README.md lacks the entities.ts block or the policies.test.ts block');
  const tree = join(repo, mikroOrmTreeOfThisRun() === 'v7' ? 'v7' : 'node_modules');
  const build = buildPackageUnderV7(mkdtempSync(join(tree, '.rls-build-')));
  const project = mkdtempSync(join(tree, '.readme-policy-tests-'));
  folders.push(build, project);
  const v7 = mikroOrmTreeOfThisRun() === 'v7';
  const command = writeProject(project, build, v7);

  // The tables and their policies, as the project's migrations would leave them.
  db = await createTestDatabase();
  const { entities } = require(join(project, v7 ? 'entities.cjs' : 'entities.js')) as { entities: Options['entities'] };
  const owner = await MikroORM.init(withRls({ clientUrl: db.ownerUrl, entities }));
  try {
    await createSchema(owner);
  } finally {
    await owner.close(true);
  }
  await db.assertAppRoleIsUnprivileged();

  const env = { ...process.env, OWNER_DATABASE_URL: db.ownerUrl, APP_DATABASE_URL: db.appUrl, BYPASS_ROLE: TEST_ROLES.bypass };
  // Twice: seedAsOwner commits its rows, and a rerun on the same database must pass too (it failed on a
  // duplicate key before the sample deleted what an earlier run left).
  for (const runNumber of [1, 2]) {
    const run = spawnSync(process.execPath, command, { cwd: project, encoding: 'utf8', timeout: 70_000, env });
    const output = `${run.stdout}${run.stderr}`;
    expect({ runNumber, status: run.status, output }).toEqual({ runNumber, status: 0, output: expect.stringMatching(/# pass 4\n# fail 0\n/) });
  }
});
