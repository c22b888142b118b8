import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

// Every ```ts block of the README must compile against the real public API. A block whose first line is
// `// file: name.ts` is written under that name, so later blocks can import it.

const root = join(__dirname, '..');

function samples(): { file: string; code: string }[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  return blocks.map((code, i) => ({ file: /^\/\/ file: (\S+)/.exec(code)?.[1] ?? `sample-${i}.ts`, code }));
}

it('the README has TypeScript samples', () => {
  expect(samples().length).toBeGreaterThanOrEqual(5);
});

// A user's project is CommonJS or ES modules; the samples must compile in both. Under `nodenext` the
// folder's package.json says "type": "module", so relative imports need their `.js` and top-level await
// is allowed; under `commonjs` it is not (TS1378), which is why the samples use none.
const moduleSettings = {
  'commonjs (node10 resolution, esModuleInterop as tsc --init sets it)': {
    packageType: 'commonjs',
    options: { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, esModuleInterop: true },
  },
  'nodenext, ES modules': {
    packageType: 'module',
    options: { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext },
  },
} as const;

it.each(Object.entries(moduleSettings))('every TypeScript sample in the README compiles under %s', (_name, setting) => {
  const dir = mkdtempSync(join(root, 'node_modules', '.readme-samples-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: setting.packageType }));
    const files = samples().map(({ file, code }) => {
      const path = join(dir, file);
      writeFileSync(path, code);
      return path;
    });
    const program = ts.createProgram(files, {
      target: ts.ScriptTarget.ES2022,
      ...setting.options,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      types: ['node'],
      typeRoots: [join(root, 'node_modules', '@types')],
      baseUrl: root,
      paths: { 'mikro-orm-rls': ['src/index.ts'], 'mikro-orm-rls/migrations': ['src/migrations/index.ts'], 'mikro-orm-rls/testing': ['src/testing/index.ts'], 'mikro-orm-rls/*': ['src/integrations/*/index.ts'] },
    });
    const diagnostics = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file?.fileName.startsWith(dir))
      .map((d) => {
        const where = d.file ? `${d.file.fileName.replace(dir, 'README')}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
        return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
    expect(diagnostics).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
