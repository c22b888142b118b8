import { EntityManager } from '@mikro-orm/core';
import { EntityManager as SqlEntityManager } from '@mikro-orm/knex';
import { MigrationGenerator, MigrationRunner, Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { statSync } from 'node:fs';
import { ASSUMPTIONS, assertAssumptions, knexDirectory, migrationFileAssumption, migratorAssumption, type Resolve } from '../../src/adapters/mikro-orm-6/internals';
import { RlsAdapterAssumptionError, RlsEntityManager } from '../../src';
import { spread, stripped, withFunctionSourcesAs } from '../support/relayout-source';

// Tripwires for the MikroORM 6, knex and pg internals the adapter relies on (named in
// src/adapters/mikro-orm-6/internals.ts): they hold on the installed versions, and a broken one stops
// withRls with an error that names it.

it('every assumption holds on the installed MikroORM, knex and pg', () => {
  const problems = [...ASSUMPTIONS, migratorAssumption(Migrator.prototype), migrationFileAssumption({ Migrator, MigrationRunner, MigrationGenerator })].map((a) => [a.what, a.problem()]).filter(([, problem]) => problem !== undefined);
  expect(problems).toEqual([]);
  expect(ASSUMPTIONS.length).toBeGreaterThanOrEqual(8);
});

it("finds knex through folders only (ts-node's experimentalResolver fails with ENOTDIR on a file in `paths`)", () => {
  const given: string[] = [];
  const recording: Resolve = (request, options) => {
    given.push(...(options?.paths ?? []));
    return require.resolve(request, options);
  };
  expect(statSync(`${knexDirectory(recording)}/package.json`).isFile()).toBe(true);
  expect(given.length).toBeGreaterThan(0);
  expect(given.filter((entry) => !statSync(entry).isDirectory())).toEqual([]);
});

/** withRls in a fresh module registry in which `breakIt` has changed the installed packages. */
function withRlsAfter(breakIt: (modules: { knex: typeof import('@mikro-orm/knex'); core: typeof import('@mikro-orm/core') }) => void): unknown {
  let outcome: unknown;
  jest.isolateModules(() => {
    breakIt({ knex: require('@mikro-orm/knex'), core: require('@mikro-orm/core') });
    const fresh = require('../../src') as typeof import('../../src');
    try {
      fresh.withRls({ driver: PostgreSqlDriver, dbName: 'x', entities: [] });
      outcome = 'no error';
    } catch (error) {
      outcome = error;
    }
  });
  return outcome;
}

// tsx prints @mikro-orm/core without spaces next to punctuation when CJS code requires it; the checks
// read the source in any layout (src/core/adapter/source-text.ts).
it.each([
  ['stripped as tsx prints it', stripped],
  ['spread over lines', spread],
])("withRls starts when MikroORM's, knex's and pg's source text is %s", (_label, relayout) => {
  expect(withFunctionSourcesAs(relayout, () => withRlsAfter(() => undefined))).toBe('no error');
});

it.each([
  ["knex's Client.acquireConnection", ({ knex }: { knex: typeof import('@mikro-orm/knex') }) => delete (knex.knex.Client.prototype as unknown as Record<string, unknown>).acquireConnection, /acquireConnection/],
  ["MikroORM's EntityManager.fork building from em.driver", ({ core }: { core: typeof import('@mikro-orm/core') }) => {
    (core.EntityManager.prototype as unknown as Record<string, unknown>).fork = function fork() { return this; };
  }, /no longer builds the fork from em\.driver/],
  ["MikroORM's Configuration extension cache", ({ core }: { core: typeof import('@mikro-orm/core') }) => {
    (core.Configuration.prototype as unknown as Record<string, unknown>).getExtension = () => undefined;
  }, /no longer reads this\.cache/],
])('withRls refuses to start when %s changed, naming it', (_label, breakIt, named) => {
  const error = withRlsAfter(breakIt as never);
  expect(error).toBeInstanceOf(Error);
  expect((error as Error).name).toBe('RlsAdapterAssumptionError');
  expect((error as Error).message).toMatch(named);
  expect((error as Error).message).toMatch(/Use the MikroORM version this release supports/);
});

it('names a missing Migrator member', () => {
  const broken = Object.create(Migrator.prototype, { getSchemaDiff: { value: undefined } }) as object;
  expect(() => assertAssumptions([migratorAssumption(broken)])).toThrow(RlsAdapterAssumptionError);
  expect(() => assertAssumptions([migratorAssumption(broken)])).toThrow(/getSchemaDiff/);
});

it.each([
  ['the runner no longer checks isTransactional', { MigrationRunner: { prototype: { run() {} } } }, /MigrationRunner.run does not check migration.isTransactional\(\)/],
  ['the generator writes files another way', { MigrationGenerator: { prototype: { generate() {} } } }, /MigrationGenerator.generate does not call this.generateMigrationFile\(/],
  ['createMigration no longer uses this.generator', { Migrator: { prototype: Object.create(Migrator.prototype, { createMigration: { value() {} } }) } }, /Migrator.createMigration does not call this.generator.generate\(/],
])('names how MikroORM writes and runs migrations when %s', (_label, broken, named) => {
  const classes = { Migrator, MigrationRunner, MigrationGenerator, ...broken };
  expect(() => assertAssumptions([migrationFileAssumption(classes)])).toThrow(RlsAdapterAssumptionError);
  expect(() => assertAssumptions([migrationFileAssumption(classes)])).toThrow(named);
});

// EntityManager methods that use `this.driver` directly skip the request context (they would run on the
// global manager's unscoped driver inside a RequestContext): each must be overridden by RlsEntityManager
// (resolving the context first) or be known to send no query. A MikroORM release that adds one fails here.
const COVERED = ['getDriver', 'getConnection', 'upsert', 'upsertMany', 'createQueryBuilder'];
const SENDS_NO_QUERY = ['constructor', 'getPlatform', 'processWhere', 'applyFilters', 'map']; // the platform, result mapping

it('covers every EntityManager method that uses this.driver directly', () => {
  const usingDriver = [EntityManager.prototype, SqlEntityManager.prototype].flatMap((proto) =>
    Object.getOwnPropertyNames(proto).filter((name) => {
      const value = Object.getOwnPropertyDescriptor(proto, name)?.value;
      return typeof value === 'function' && /this\.driver\b/.test(String(value));
    }),
  );
  expect([...new Set(usingDriver)].sort()).toEqual([...COVERED, ...SENDS_NO_QUERY].sort());
  expect(COVERED.filter((name) => !Object.prototype.hasOwnProperty.call(RlsEntityManager.prototype, name))).toEqual([]);
});
