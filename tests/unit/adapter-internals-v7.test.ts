import { EntityManager } from '@mikro-orm/core';
import { EntityManager as SqlEntityManager } from '@mikro-orm/postgresql';
import { ASSUMPTIONS, assertAssumptions } from '../../src/adapters/mikro-orm-7/internals';
import { RlsAdapterAssumptionError } from '../../src/core/errors/rls-adapter-assumption-error';
import { RlsEntityManager } from '../../src/adapters/mikro-orm-7';
import { CLI_HELPER_MEMBERS } from '../../src/adapters/mikro-orm-7/cli/orm-from-cli-config';
import { spread, stripped, withFunctionSourcesAs } from '../support/relayout-source';

// Tripwires for the MikroORM 7, Kysely and pg internals the v7 adapter relies on (named in
// src/adapters/mikro-orm-7/internals.ts): they hold on the installed versions, and each one, broken,
// stops withRls with an error that names it. Runs in the v7 run only (tests/v7-only.txt): it loads the
// v7 adapter, which the v6 tree cannot.

type Modules = {
  core: typeof import('@mikro-orm/core');
  sql: typeof import('@mikro-orm/sql');
  postgresql: typeof import('@mikro-orm/postgresql');
  pg: typeof import('pg');
};

const members = (owner: object) => owner as Record<string, unknown>;
/** Replaces what `Function.prototype.toString` shows of `fn` (the class and method sources the checks read). */
const showSource = (fn: object, source: string) => Object.defineProperty(fn, 'toString', { configurable: true, value: () => source });
/** Replaces a method by one whose source is `source` (what a release that changed it would read like). */
const replaceMethod = (proto: object, name: string, source: string) => {
  const replaced = function (this: unknown) {
    return undefined;
  };
  showSource(replaced, source);
  Object.defineProperty(proto, name, { configurable: true, writable: true, value: replaced });
};

it('every assumption holds on the installed MikroORM 7, Kysely and pg', () => {
  const problems = ASSUMPTIONS.map((a) => [a.what, a.problem()]).filter(([, problem]) => problem !== undefined);
  expect(problems).toEqual([]);
  expect(ASSUMPTIONS.length).toBeGreaterThanOrEqual(13);
  expect(() => assertAssumptions(ASSUMPTIONS)).not.toThrow();
});

/**
 * withRls in a fresh module registry in which `breakIt` has changed the installed packages (fresh
 * copies: the rest of the file keeps the real ones). `files` replaces what the checks read from disk.
 */
function withRlsAfter(breakIt: (modules: Modules) => void, files: Record<string, (text: string) => string> = {}): unknown {
  let outcome: unknown;
  jest.isolateModules(() => {
    const fs = jest.requireActual('node:fs') as typeof import('node:fs');
    jest.doMock('node:fs', () => ({
      ...fs,
      readFileSync: (file: string, ...rest: unknown[]) => {
        const text = (fs.readFileSync as (...args: unknown[]) => string)(file, ...rest);
        const edit = Object.entries(files).find(([suffix]) => String(file).endsWith(suffix))?.[1];
        return edit ? edit(text) : text;
      },
    }));
    breakIt({ core: require('@mikro-orm/core'), sql: require('@mikro-orm/sql'), postgresql: require('@mikro-orm/postgresql'), pg: require('pg') });
    const fresh = require('../../src/adapters/mikro-orm-7') as typeof import('../../src/adapters/mikro-orm-7');
    try {
      // The driver of the same (isolated) copy of MikroORM the fresh adapter loads: one of another copy is refused.
      const driver = (require('@mikro-orm/postgresql') as typeof import('@mikro-orm/postgresql')).PostgreSqlDriver;
      fresh.withRls({ driver, dbName: 'x', entities: [] } as never);
      outcome = 'no error';
    } catch (error) {
      outcome = error;
    }
    jest.dontMock('node:fs');
  });
  return outcome;
}

// Under `npx tsx` (on exactly 7.2.1) withRls failed with "EntityManager.prototype.fork no longer builds
// the fork with new em.constructor(em.config, em.driver, ...)": tsx prints @mikro-orm/core without spaces
// next to punctuation when CJS code requires it. The checks read the source in any layout, MikroORM's
// classes (toString) and the Kysely and pg files they read from disk alike.
it.each([
  ['stripped as tsx prints it', stripped],
  ['spread over lines', spread],
])("withRls starts when MikroORM's, Kysely's and pg's source text is %s", (_label, relayout) => {
  expect(withFunctionSourcesAs(relayout, () => withRlsAfter(() => undefined, { '.js': relayout }))).toBe('no error');
});

const POSTGRES_DRIVER = 'dist/dialect/postgres/postgres-driver.js';

// One or more breaks of each assumption of internals.ts, in its order; each names what changed.
type Break = [label: string, breakIt: (m: Modules) => void, named: RegExp, files?: Record<string, (text: string) => string>];
const BREAKS: Break[] = [
  ['EntityManager.fork building the fork', ({ core }) => replaceMethod(core.EntityManager.prototype, 'fork', 'fork(options = {}) { return new Manager(this.config, this.driver); }'), /no longer builds the fork with new em\.constructor\(em\.config, em\.driver/],
  ["EntityManager's constructor", ({ core }) => showSource(core.EntityManager, 'class EntityManager { constructor(config, driver, metadata, eventManager) {} }'), /no longer takes \(config, driver, metadata, useContext, eventManager\)/],
  ["EntityManager.fork's event manager", ({ core }) => {
    const source = core.EntityManager.prototype.fork.toString().replace(/: em\.eventManager;/, ': em.eventManager.clone();');
    replaceMethod(core.EntityManager.prototype, 'fork', source);
  }, /no longer hands the fork em\.eventManager/],
  ['EntityManager.prototype.tryCache', ({ core }) => delete members(core.EntityManager.prototype).tryCache, /EntityManager\.prototype has no tryCache/],
  ['a result cache read outside tryCache', ({ core }) => replaceMethod(core.EntityManager.prototype, 'findAll', 'async findAll(options) { return this.#resultCache.get(options.cache[0]); }'), /the result cache is read by EntityManager\.findAll, tryCache, not by tryCache alone/],
  ["storeCache's key", ({ core }) => replaceMethod(core.EntityManager.prototype, 'storeCache', 'async storeCache(config, key, data) { await this.#resultCache.set(JSON.stringify(key), data); }'), /storeCache no longer stores under the key tryCache returned/],
  ["UnitOfWork's ChangeSetPersister", ({ core }) => showSource(core.UnitOfWork, 'class UnitOfWork { constructor(em) { this.#persister = makePersister(em); } }'), /UnitOfWork's constructor no longer builds new ChangeSetPersister\(em\)/],
  ["ChangeSetPersister's driver", ({ core }) => showSource(core.ChangeSetPersister, 'class ChangeSetPersister { constructor(em) { this.#driver = em.driver; } }'), /ChangeSetPersister's constructor no longer takes its driver from em\.getDriver\(\)/],
  ["ChangeSetPersister's deletes", ({ core }) => showSource(core.ChangeSetPersister, core.ChangeSetPersister.toString().replace(/this\.#driver\.nativeDelete\(/g, 'this.#em.nativeDelete(')), /ChangeSetPersister no longer sends nativeDelete through its driver/],
  ['AbstractSqlConnection.execute running through ctx.executeQuery', ({ sql }) => replaceMethod(sql.AbstractSqlConnection.prototype, 'execute', "async execute(query, params = [], method = 'all', ctx, loggerContext) { return this.#run(ctx, query); }"), /execute no longer runs statements through \(ctx \?\? client\)\.executeQuery/],
  ['AbstractSqlConnection.begin opening savepoints', ({ sql }) => replaceMethod(sql.AbstractSqlConnection.prototype, 'begin', 'async begin(options = {}) { return this.#savepoint(options.ctx); }'), /begin no longer opens savepoints with options\.ctx\.savepoint/],
  ["the driver's connection field", ({ core }) => replaceMethod(core.DatabaseDriver.prototype, 'getConnection', "getConnection(type = 'write') { return this.#connections[type]; }"), /DatabaseDriver\.getConnection no longer returns this\.connection/],
  ["the SQL driver's execute connection", ({ sql }) => replaceMethod(sql.AbstractSqlDriver.prototype, 'execute', "async execute(query, params = [], method = 'all', ctx, loggerContext, connection = this.getConnection()) {}"), /AbstractSqlDriver\.execute no longer runs on this\.connection/],
  ['#private state in the driver', ({ postgresql }) => showSource(postgresql.PostgreSqlDriver, 'class PostgreSqlDriver extends AbstractSqlDriver { #pool; constructor(config) { this.#pool = 1; } }'), /PostgreSqlDriver now has #private state/],
  ["execute's parameters", ({ sql }) => {
    const source = sql.AbstractSqlConnection.prototype.execute.toString().replace("method = 'all', ctx, loggerContext)", "options = {}, ctx)");
    replaceMethod(sql.AbstractSqlConnection.prototype, 'execute', source);
  }, /execute no longer takes \(query, params, method, ctx, loggerContext\)/],
  // Its body still streams through the executor, so that only the parameters are what changed.
  ["stream's parameters", ({ sql }) => replaceMethod(sql.AbstractSqlConnection.prototype, 'stream', 'async *stream(query, options = {}) { yield* (ctx ?? this.getClient()).getExecutor().stream(query); }'), /stream no longer takes \(query, params, ctx, loggerContext, chunkSize\)/],
  ["stream's executor", ({ sql }) => replaceMethod(sql.AbstractSqlConnection.prototype, 'stream', 'async *stream(query, params = [], ctx, loggerContext, chunkSize) { yield* this.getClient().stream(query); }'), /stream no longer streams through \(ctx \?\? client\)\.getExecutor\(\)\.stream/],
  ['an option begin reads', ({ sql }) => {
    const source = sql.AbstractSqlConnection.prototype.begin.toString().replace('if (options.readOnly) {', 'if (options.deferrable) { trxBuilder = trxBuilder.deferrable(); }\n        if (options.readOnly) {');
    replaceMethod(sql.AbstractSqlConnection.prototype, 'begin', source);
  }, /begin now reads the option\(s\) deferrable/],
  ["the platform's getBeginTransactionSQL", ({ sql }) => delete members(sql.AbstractSqlPlatform.prototype).getBeginTransactionSQL, /AbstractSqlPlatform\.prototype has no getBeginTransactionSQL/],
  ['orm.reconnect writing through config.set', ({ core }) => replaceMethod(core.MikroORM.prototype, 'reconnect', 'async reconnect(options = {}) { Object.assign(this.config.getAll(), options); await this.driver.reconnect(); }'), /MikroORM\.reconnect no longer writes its options with this\.config\.set/],
  ["a member of the connection a view binds (getClient)", ({ sql }) => delete members(sql.AbstractSqlConnection.prototype).getClient, /AbstractSqlConnection\.prototype has no getClient/],
  ['PostgreSqlConnection.getNativeClient', ({ postgresql }) => replaceMethod(postgresql.PostgreSqlConnection.prototype, 'getNativeClient', 'async getNativeClient() { return this.getClient(); }'), /getNativeClient no longer returns the pg Pool createKyselyDialect built/],
  ["mapOptions merging driverOptions", ({ postgresql }) => replaceMethod(postgresql.PostgreSqlConnection.prototype, 'mapOptions', 'mapOptions(overrides) { return { ...this.getConnectionOptions() }; }'), /mapOptions no longer merges driverOptions/],
  ["createKyselyDialect building the pg Pool", ({ postgresql }) => replaceMethod(postgresql.PostgreSqlConnection.prototype, 'createKyselyDialect', 'createKyselyDialect(overrides) { return new PostgresDialect({ pool: makePool(this.mapOptions(overrides)) }); }'), /createKyselyDialect no longer builds new Pool/],
  ['AbstractSqlConnection.createKysely building Kysely from createKyselyDialect', ({ sql }) => replaceMethod(sql.AbstractSqlConnection.prototype, 'createKysely', 'createKysely() { this.#client = new Kysely({ dialect: makeDialect(this.options) }); }'), /createKysely no longer builds new Kysely\(\{ dialect \}\) from this\.createKyselyDialect/],
  ["Kysely's controlled transaction holding its acquired connection", () => undefined, /controlled transactions no longer hold the connection/, { 'kysely/dist/kysely.js': (text) => text.replace('new SingleConnectionProvider(connection.connection)', 'new SingleConnectionProvider(await driver.acquireConnection())') }],
  ["Kysely's DefaultConnectionProvider releasing through its driver", () => undefined, /DefaultConnectionProvider no longer acquires and releases connections through its driver/, { 'default-connection-provider.js': (text) => text.replace('this.#driver.releaseConnection(connection', 'connection.release(connection') }],
  ["PostgresDriver running onReserveConnection inside acquireConnection", () => undefined, /PostgresDriver no longer runs onCreateConnection and onReserveConnection inside acquireConnection/, { [POSTGRES_DRIVER]: (text) => text.replace('await this.#config.onReserveConnection(connection, options);', '') }],
  ["Kysely's PostgresDriver BEGIN", () => undefined, /kysely's postgres-driver\.js no longer sends begin\/commit\/rollback as expected/, { [POSTGRES_DRIVER]: (text) => text.replace("let sql = 'begin'", "let sql = 'begin transaction'") }],
  ["Kysely's PostgresConnection calling client.query(sql, parameters)", () => undefined, /no longer calls client\.query\(sql, parameters\)/, { [POSTGRES_DRIVER]: (text) => text.replaceAll('this.#client.query(compiledQuery.sql, compiledQuery.parameters)', 'this.#client.query({ text: compiledQuery.sql, values: compiledQuery.parameters })') }],
  ["pg's getTransactionStatus", ({ pg }) => delete members(pg.Client.prototype).getTransactionStatus, /pg Client has no getTransactionStatus/],
  ["pg's ReadyForQuery handler", ({ pg }) => replaceMethod(pg.Client.prototype, '_handleReadyForQuery', '_handleReadyForQuery(msg) { this.#status = msg.status; }'), /ReadyForQuery handler no longer sets the transaction status and readyForQuery/],
  ["pg-pool's release", () => undefined, /pg-pool no longer takes options\.Client or no longer sets client\.release/, { 'pg-pool/index.js': (text) => text.replace(/client\.release = this\._releaseOnce\(/g, 'client.done = this._releaseOnce(') }],
  ["Platform.getExceptionConverter", ({ core }) => delete members(core.Platform.prototype).getExceptionConverter, /Platform\.prototype has no getExceptionConverter/],
];

// The assumptions the breaks above were caught as (the error's `assumption` is the assumption's `what`).
const caught = new Set<string>();

// A rest parameter: Jest takes a test function with more parameters than its row has for a `done` test.
it.each(BREAKS)('withRls refuses to start when %s changed, naming it', (...[, breakIt, named, files]: Break) => {
  const error = withRlsAfter(breakIt, files);
  expect(error).toBeInstanceOf(Error);
  expect((error as Error).name).toBe('RlsAdapterAssumptionError');
  expect((error as Error).message).toMatch(named);
  expect((error as Error).message).toMatch(/Use the MikroORM version this release supports/);
  caught.add((error as RlsAdapterAssumptionError).assumption);
});

it('every assumption is broken by at least one case above (runs after them: Jest runs a file in order)', () => {
  expect(ASSUMPTIONS.filter((a) => !caught.has(a.what)).map((a) => a.what)).toEqual([]);
});

it('withRls starts in a fresh registry where nothing was changed (the breaks above are what stops it)', () => {
  expect(withRlsAfter(() => undefined)).toBe('no error');
});

// EntityManager methods that use `this.driver` directly skip the request context (they would run on the
// global manager's unscoped driver inside a RequestContext): each must be overridden by RlsEntityManager
// (resolving the context first) or be known to send no query. A MikroORM release that adds one fails here.
const COVERED = ['getDriver', 'getConnection', 'upsert', 'upsertMany', 'createQueryBuilder'];
const SENDS_NO_QUERY = ['constructor', 'getPlatform', 'processWhere', 'processUnionWhere', 'applyFilters', 'map']; // the platform, filters, result mapping

it('covers every EntityManager method that uses this.driver directly', () => {
  const prototypes: object[] = [];
  for (let proto: object | null = SqlEntityManager.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) prototypes.push(proto);
  expect(prototypes).toContain(EntityManager.prototype);
  const usingDriver = prototypes.flatMap((proto) =>
    Object.getOwnPropertyNames(proto).filter((name) => {
      const value = Object.getOwnPropertyDescriptor(proto, name)?.value;
      return typeof value === 'function' && /this\.driver\b/.test(String(value));
    }),
  );
  expect([...new Set(usingDriver)].sort()).toEqual([...COVERED, ...SENDS_NO_QUERY].sort());
  expect(COVERED.filter((name) => !Object.prototype.hasOwnProperty.call(RlsEntityManager.prototype, name))).toEqual([]);
});

// `mikro-orm-rls audit` on MikroORM 7 loads the configuration with @mikro-orm/cli's CLIHelper (internal in
// its typings; an optional package, so checked where it is loaded, src/adapters/mikro-orm-7/cli, not at
// withRls): the members it calls are there on the installed one.
it("@mikro-orm/cli's CLIHelper has the members the audit CLI calls", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { CLIHelper } = require('@mikro-orm/cli') as { CLIHelper: Record<string, unknown> };
  expect(CLI_HELPER_MEMBERS.filter((name) => typeof CLIHelper[name] !== 'function')).toEqual([]);
});
