import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPackageUnderV7 } from '../fixtures/v7-cli-project';

// MikroORM 7 with TypeScript run by tsx, as the README tells (MikroORM 7 only: tests/v7-only.txt). tsx's
// full hook (`node --import tsx`, `npx tsx`) also compiles ES modules reached by require() to CommonJS,
// which gives this package's CommonJS build a second copy of MikroORM 7: withRls refuses it with what to
// run instead. tsx's ES module loader (`node --import tsx/esm`) leaves require() alone, and works.

jest.setTimeout(120_000);

const v7 = join(__dirname, '..', '..', 'v7');
const folders: string[] = [];
afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

function project(): string {
  const build = buildPackageUnderV7(mkdtempSync(join(v7, '.rls-build-')));
  const dir = mkdtempSync(join(v7, '.tsx-project-'));
  folders.push(build, dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'tsx-project', private: true, type: 'module' }));
  // The package's ES module entry re-exports its CommonJS build: a default import of it goes the same way.
  writeFileSync(
    join(dir, 'app.ts'),
    `import { defineConfig } from '@mikro-orm/postgresql';
import rls from ${JSON.stringify(join(build, 'index.js'))};
const options: Parameters<typeof defineConfig>[0] = { entities: [], clientUrl: 'postgres://nobody@127.0.0.1:1/none' };
const config = rls.withRls(defineConfig(options));
console.log('withRls ok:', typeof config.rls);
`,
  );
  return dir;
}

const run = (dir: string, loader: string) => spawnSync(process.execPath, ['--import', loader, 'app.ts'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });

it('node --import tsx/esm runs a MikroORM 7 app that uses withRls', () => {
  const result = run(project(), 'tsx/esm');
  expect({ status: result.status, out: result.stdout, err: result.stderr }).toEqual({ status: 0, out: 'withRls ok: object\n', err: '' });
});

it('node --import tsx (a second MikroORM through its require hook) is refused with what to run instead', () => {
  const result = run(project(), 'tsx');
  expect(result.status).not.toBe(0);
  expect(result.stderr).toContain("withRls: the configuration's driver comes from another copy of MikroORM than the one this package loaded.");
  expect(result.stderr).toContain('`node --import tsx/esm app.ts`');
  expect(result.stderr).not.toContain('RlsAdapterAssumptionError');
});
