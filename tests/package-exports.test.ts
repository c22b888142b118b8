import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

// The published shape: `npm run build`, then the package is loaded by its own name, the way users load
// it. Node resolves a package's own name through its `exports` map from inside the package directory.

const root = join(__dirname, '..');
const NAME = 'mikro-orm-rls';

interface Probe {
  /** Files the package name resolved to, relative to the repository. */
  resolved: { import?: string; require: string };
  esmNames: string[];
  cjsNames: string[];
  /** Names whose value is the very same object under import and require. */
  identical: string[];
}

/** Runs `code` in a fresh `node` and parses the JSON line it prints. */
function probe(code: string, esm: boolean): Probe {
  const args = [`--input-type=${esm ? 'module' : 'commonjs'}`, '-e', code];
  const out = execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 30_000 });
  const result = JSON.parse(out) as Probe;
  const { import: imported, require: required } = result.resolved;
  result.resolved = { ...(imported && { import: relative(root, fileURLToPath(imported)) }), require: relative(root, required) };
  return result;
}

const report = `
  const names = (m) => Object.keys(m).filter((n) => n !== '__esModule').sort();
  const print = (esm, cjs, resolved) => console.log(JSON.stringify({
    resolved,
    esmNames: names(esm), cjsNames: names(cjs),
    identical: names(esm).filter((n) => esm[n] === cjs[n]),
  }));`;

// Loaded from CommonJS: require() first, then import(), as a CommonJS app that later loads an ESM plugin would.
const FROM_COMMONJS = `${report}
  const cjs = require('${NAME}');
  import('${NAME}').then((esm) => print(esm, cjs, { require: require.resolve('${NAME}') }));`;

// Loaded from an ES module: static import first, then require() through createRequire.
const FROM_ESM = `${report}
  import * as esm from '${NAME}';
  import { createRequire } from 'node:module';
  const require = createRequire(import.meta.url);
  print(esm, require('${NAME}'), { import: import.meta.resolve('${NAME}'), require: require.resolve('${NAME}') });`;

let fromCommonJs: Probe;
let fromEsm: Probe;

beforeAll(() => {
  // Two tsc passes (MikroORM 6, then the v7 adapter against v7/): minutes on a busy machine.
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'pipe', timeout: 400_000 });
  fromEsm = probe(FROM_ESM, true);
  fromCommonJs = probe(FROM_COMMONJS, false);
}, 430_000);

it('import resolves to the ES module wrapper and require to the CommonJS build', () => {
  expect(fromEsm.resolved).toEqual({ import: 'dist/esm/index.mjs', require: 'dist/cjs/index.js' });
  expect(fromCommonJs.resolved).toEqual({ require: 'dist/cjs/index.js' });
});

it('import and require expose the same export names, whichever module system loads first', () => {
  expect(fromEsm.esmNames).toEqual(fromEsm.cjsNames);
  expect(fromCommonJs.esmNames).toEqual(fromCommonJs.cjsNames);
  expect(fromCommonJs.cjsNames).toEqual(fromEsm.cjsNames);
});

it('every export is the very same value under import and require, so there is one copy of the library', () => {
  expect(fromEsm.identical).toEqual(fromEsm.esmNames);
  expect(fromCommonJs.identical).toEqual(fromCommonJs.esmNames);
});

it('every runtime export has a type declaration for both import and require', () => {
  const names = fromEsm.esmNames;
  const use = `import { ${names.join(', ')} } from '${NAME}';\nexport const all: unknown[] = [${names.join(', ')}];\n`;
  // Inside dist (generated, ignored by git) so the files are within the package and can import it by name.
  const dir = mkdtempSync(join(root, 'dist', '.types-check-'));
  try {
    const files = ['esm.mts', 'cjs.cts'].map((file) => join(dir, file));
    files.forEach((file) => writeFileSync(file, use));
    const program = ts.createProgram(files, {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [join(root, 'node_modules', '@types')],
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
    const loaded = program.getSourceFiles().map((f) => relative(root, f.fileName));
    expect(loaded).toEqual(expect.arrayContaining(['dist/esm/index.d.mts', 'dist/cjs/index.d.ts']));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** `exports` subpaths besides the root and package.json: `./express`, `./fastify`, `./nestjs`, `./migrations`. */
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const subpaths = Object.keys(pkg.exports).filter((key) => key !== '.' && key !== './package.json');

it('typesVersions points each subpath at the same CommonJS declarations as exports, for node10 resolution', () => {
  const expected = Object.fromEntries(subpaths.map((key) => [key.slice(2), [`./${pkg.exports[key].require.types.replace(/^\.\//, '')}`]]));
  expect(subpaths.length).toBeGreaterThan(0);
  expect(pkg.typesVersions).toEqual({ '*': expected });
});

// The root and every subpath, imported by a project that has the package in its node_modules, under each
// module setting a user may have. Node10 (`"module": "commonjs"`) reads no `exports`: typesVersions.
const SETTINGS = [
  { name: 'commonjs + node10', module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, files: ['use.ts'], builds: ['cjs'] },
  { name: 'node16', module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16, files: ['use.ts', 'use.mts'], builds: ['cjs', 'esm'] },
  { name: 'nodenext', module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, files: ['use.ts', 'use.mts'], builds: ['cjs', 'esm'] },
  { name: 'esnext + bundler', module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, files: ['use.ts'], builds: ['esm'] },
];

it.each(SETTINGS)('the root and every subpath type-check under $name', ({ module, moduleResolution, files, builds }) => {
  const specifiers = ['', ...subpaths.map((key) => key.slice(1))].map((suffix) => `${NAME}${suffix}`);
  const use = specifiers.map((specifier, i) => `import * as entry${i} from '${specifier}';`).join('\n') +
    `\nexport const entries = [${specifiers.map((_, i) => `entry${i}`).join(', ')}];\n`;
  const dir = mkdtempSync(join(root, 'dist', '.types-check-'));
  try {
    // The package as installed: node_modules/mikro-orm-rls is the package folder (here, a link to it).
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', NAME), 'dir');
    const paths = files.map((file) => join(dir, file));
    paths.forEach((file) => writeFileSync(file, use));
    const program = ts.createProgram(paths, {
      module,
      moduleResolution,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      esModuleInterop: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [join(root, 'node_modules', '@types')],
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
    const loaded = program.getSourceFiles().map((f) => relative(root, f.fileName));
    // Each subpath's declarations, as its `exports` entry names them (./express: dist/<build>/integrations/express/index).
    const declarations = (build: string) =>
      ['.', ...subpaths].map((key) => pkg.exports[key][build === 'esm' ? 'import' : 'require'].types.replace(/^\.\//, ''));
    expect(loaded).toEqual(expect.arrayContaining(builds.flatMap(declarations)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('the packed tarball holds every file package.json names', () => {
  const named = JSON.parse(execFileSync(process.execPath, ['scripts/verify-package-paths.mjs', '--list'], { cwd: root, encoding: 'utf8' })) as string[];
  expect(named).toEqual(expect.arrayContaining(['dist/cjs/index.js', 'dist/cjs/cli/main.js', 'dist/cjs/integrations/express/index.d.ts']));
  // --ignore-scripts: beforeAll built dist already; prepack would build it again.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', timeout: 60_000, stdio: 'pipe' });
  const [packed] = JSON.parse(out) as [{ files: { path: string }[] }];
  const files = new Set(packed.files.map((file) => file.path));
  expect(named.filter((path) => !files.has(path))).toEqual([]);
});
