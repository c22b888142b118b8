import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

// The framework integrations are subpath exports: loading the package root must not load any framework,
// so applications without them (or with another one) never pay for or need them. Checked on the sources
// (not on dist) so this file never races tests/package-exports.test.ts, which rebuilds dist.

const root = join(__dirname, '..', '..');
const FRAMEWORK_MODULE = /node_modules\/(fastify|@nestjs|express|@mikro-orm\/nestjs)\//;

/** The framework modules Node has loaded after requiring `file` in a fresh process. */
function frameworksLoadedBy(file: string): string[] {
  const code = `
    require(${JSON.stringify(file)});
    console.log(JSON.stringify(Object.keys(require.cache).filter((k) => ${FRAMEWORK_MODULE}.test(k))));`;
  const out = execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', code], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return (JSON.parse(out) as string[]).map((path) => path.slice(path.lastIndexOf('node_modules/')));
}

it('requiring the package root loads neither Fastify, NestJS nor Express', () => {
  expect(frameworksLoadedBy('./src/index.ts')).toEqual([]);
});

it('the probe does see a framework when one is loaded (the NestJS integration loads @nestjs)', () => {
  expect(frameworksLoadedBy('./src/integrations/nestjs/index.ts')).toEqual(expect.arrayContaining([expect.stringMatching(/^node_modules\/@nestjs\/common\//)]));
});

it('the Fastify integration needs only fastify types, so it loads no framework at run time either', () => {
  expect(frameworksLoadedBy('./src/integrations/fastify/index.ts')).toEqual([]);
});
