import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPackageUnderV7 } from '../fixtures/v7-cli-project';

// MikroORM 7 with TypeScript run by tsx, as the README tells (MikroORM 7 only: tests/v7-only.txt). tsx's
// full hook (`npx tsx`, `node --import tsx`) also compiles ES modules reached by require() to CommonJS.
// The package's ES module entry (dist/esm, made by scripts/build-esm-wrappers.mjs) shares the
// application's MikroORM 7 with the CommonJS build before loading it (src/esm/share-es-module-peers.mjs),
// so an ES module application that imports the package by its name works under every tsx loader. In a
// CommonJS project the hook compiles MikroORM itself (one copy, reformatted by esbuild), which the
// start-up checks of MikroORM's internals read through source-text.ts. The CommonJS build reached some
// other way under that hook (an import of a file inside the package) gets a second copy of MikroORM 7:
// withRls refuses it with what to do instead.
// scripts/consumer-test-v7.mjs (d) runs the tenant isolation test from the packed tarball under `npx tsx`.

jest.setTimeout(180_000);

const repo = join(__dirname, '..', '..');
const v7 = join(repo, 'v7');
const node22 = process.execPath;
const folders: string[] = [];
afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

let built: string | undefined;
/** The package as npm installs it, built from src: package.json, dist/cjs, and dist/esm made over it. */
function installedPackage(): string {
  if (built) return built;
  const pkg = mkdtempSync(join(v7, '.rls-package-'));
  folders.push(pkg);
  cpSync(join(repo, 'package.json'), join(pkg, 'package.json'));
  buildPackageUnderV7(join(pkg, 'dist', 'cjs'));
  const wrappers = spawnSync(node22, [join(repo, 'scripts', 'build-esm-wrappers.mjs'), join(pkg, 'dist', 'cjs'), join(pkg, 'dist', 'esm')], { encoding: 'utf8', timeout: 60_000 });
  if (wrappers.status !== 0) throw new Error(`build-esm-wrappers failed:\n${wrappers.stdout}${wrappers.stderr}`);
  return (built = pkg);
}

const APP = (importLine: string) => `import { defineConfig } from '@mikro-orm/postgresql';
${importLine}
const options: Parameters<typeof defineConfig>[0] = { entities: [], clientUrl: 'postgres://nobody@127.0.0.1:1/none' };
const config = withRls(defineConfig(options));
console.log('withRls ok:', typeof config.rls);
`;

/** A project under v7/ (so that MikroORM 7 and tsx resolve from the v7 tree) with the package installed. */
function project(type: 'module' | 'commonjs' = 'module'): string {
  const dir = mkdtempSync(join(v7, '.tsx-project-'));
  folders.push(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'tsx-project', private: true, type }));
  mkdirSync(join(dir, 'node_modules'));
  cpSync(installedPackage(), join(dir, 'node_modules', 'mikro-orm-rls'), { recursive: true });
  writeFileSync(join(dir, 'app.ts'), APP("import { withRls } from 'mikro-orm-rls';"));
  return dir;
}

const LOADERS: Record<string, string[]> = {
  'npx tsx': [join(v7, 'node_modules', 'tsx', 'dist', 'cli.mjs')],
  'node --import tsx': ['--import', 'tsx'],
  'node --import tsx/esm': ['--import', 'tsx/esm'],
};
const run = (dir: string, loader: string) => spawnSync(node22, [...LOADERS[loader], 'app.ts'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
const outcome = (result: ReturnType<typeof run>) => ({ status: result.status, out: result.stdout, err: result.stderr });

describe.each(['module', 'commonjs'] as const)('a %s project that imports the package by its name', (type) => {
  // tsx's ES module loader alone does not run TypeScript that is CommonJS.
  const loaders = Object.keys(LOADERS).filter((loader) => type === 'module' || loader !== 'node --import tsx/esm');
  it.each(loaders)('runs withRls under %s', (loader) => {
    expect(outcome(run(project(type), loader))).toEqual({ status: 0, out: 'withRls ok: object\n', err: '' });
  });
});

it("refuses, with what to do, the CommonJS build imported directly under tsx's require() hook (a second MikroORM)", () => {
  const dir = project();
  // A path into the package (its exports list no such file), as a hand-made deep import would.
  const build = JSON.stringify(join(dir, 'node_modules', 'mikro-orm-rls', 'dist', 'cjs', 'index.js'));
  writeFileSync(join(dir, 'app.ts'), APP(`import rls from ${build};\nconst { withRls } = rls;`));
  const result = run(dir, 'node --import tsx');
  expect(result.status).not.toBe(0);
  expect(result.stderr).toContain("withRls: the configuration's driver comes from another copy of MikroORM than the one this package loaded.");
  expect(result.stderr).toContain("import { withRls } from 'mikro-orm-rls'");
  expect(result.stderr).toContain('`node --import tsx/esm app.ts`');
  expect(result.stderr).not.toContain('RlsAdapterAssumptionError');
});

it("refuses, with what to do, a require() of the package from a CommonJS file of an ES module project under tsx's hook", () => {
  const dir = project();
  // The application's MikroORM is the ES module one; the package, required from CommonJS, gets the compiled copy.
  writeFileSync(join(dir, 'rls.cjs'), "module.exports = require('mikro-orm-rls');\n");
  writeFileSync(join(dir, 'app.ts'), APP("import rls from './rls.cjs';\nconst { withRls } = rls;"));
  const result = run(dir, 'npx tsx');
  expect(result.status).not.toBe(0);
  expect(result.stderr).toContain("withRls: the configuration's driver comes from another copy of MikroORM than the one this package loaded.");
  expect(result.stderr).toContain("a require('mikro-orm-rls') in a CommonJS file of an ES module project");
});
