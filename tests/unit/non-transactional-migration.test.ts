import { Migration, JSMigrationGenerator, TSMigrationGenerator } from '@mikro-orm/migrations';
import ts from 'typescript';
import { nonTransactionalMigrationFile, writeTransactionalAsPlanned } from '../../src/core/plan/non-transactional-migration';
import { RlsConfigurationError } from '../../src';

// A migration written in bounded transactions says so in its class (isTransactional() is false), in the
// files MikroORM's own generators write: TypeScript and JavaScript, of the major this run tests.

const diff = { up: ['create table "a" ("id" int);\ncreate table "b" ("id" int);'], down: ['drop table "b";\ndrop table "a";'] };
const generatorOptions = { emit: 'ts', path: '/tmp', fileName: (t: string) => `Migration${t}` };
const generators = {
  TypeScript: new TSMigrationGenerator(undefined as never, undefined as never, generatorOptions as never),
  JavaScript: new JSMigrationGenerator(undefined as never, undefined as never, { ...generatorOptions, emit: 'js' } as never),
};

/** Loads a migration file's class, as MikroORM would, and makes an instance of it. */
function instanceOf(code: string): Migration {
  const js = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
  const module = { exports: {} as Record<string, new (...args: unknown[]) => Migration> };
  new Function('exports', 'require', 'module', js)(module.exports, (id: string) => (id === '@mikro-orm/migrations' ? { Migration } : require(id)), module);
  const MigrationClass = Object.values(module.exports).find((value) => typeof value === 'function')!;
  return new MigrationClass({ config: { get: () => undefined } }, { get: () => undefined });
}

describe.each(Object.entries(generators))("MikroORM's %s generator", (_, generator) => {
  it('writes a class that MikroORM runs without a transaction, with a comment saying why', async () => {
    const code = nonTransactionalMigrationFile(await generator.generateMigrationFile('Migration20261202000000', diff));
    expect(instanceOf(code).isTransactional()).toBe(false);
    expect(code).toMatch(/too many locks for one transaction[\s\S]*each addSql below is one transaction/);
    // The statements are untouched.
    expect(code).toContain('this.addSql(`create table "a" ("id" int);\ncreate table "b" ("id" int);`);');
  });

  it('is left as it writes it while the plan is one transaction, and made non-transactional when it is not', async () => {
    let transactional = true;
    writeTransactionalAsPlanned(generator, () => transactional);
    writeTransactionalAsPlanned(generator, () => transactional);
    expect(instanceOf(await generator.generateMigrationFile('Migration1', diff)).isTransactional()).toBe(true);
    transactional = false;
    const code = await generator.generateMigrationFile('Migration2', diff);
    expect(instanceOf(code).isTransactional()).toBe(false);
    expect(code.match(/isTransactional/g)).toHaveLength(1);
  });
});

it('refuses a file without a class extending Migration, saying what to do', () => {
  expect(() => nonTransactionalMigrationFile('module.exports = { up() {} };')).toThrow(RlsConfigurationError);
  expect(() => nonTransactionalMigrationFile('module.exports = { up() {} };')).toThrow(/isTransactional\(\) returning false/);
});
