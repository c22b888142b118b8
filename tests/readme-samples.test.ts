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

it('every TypeScript sample in the README compiles', () => {
  const dir = mkdtempSync(join(root, 'node_modules', '.readme-samples-'));
  try {
    const files = samples().map(({ file, code }) => {
      const path = join(dir, file);
      writeFileSync(path, code);
      return path;
    });
    const program = ts.createProgram(files, {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      types: ['node'],
      typeRoots: [join(root, 'node_modules', '@types')],
      baseUrl: root,
      paths: { 'mikro-orm-rls': ['src/index.ts'], 'mikro-orm-rls/*': ['src/integrations/*/index.ts'] },
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file ? `${d.file.fileName.replace(dir, 'README')}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
      return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(diagnostics).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
