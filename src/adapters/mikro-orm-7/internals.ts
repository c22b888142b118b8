import { ChangeSetPersister, DatabaseDriver, EntityManager, MikroORM, Platform, RowLevelSecurityViolationException, UnitOfWork } from '@mikro-orm/core';
import { PostgreSqlConnection, PostgreSqlDriver } from '@mikro-orm/postgresql';
import { AbstractSqlConnection, AbstractSqlDriver, AbstractSqlPlatform } from '@mikro-orm/sql';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { compactSource, sourceHas } from '../../core/adapter/source-text';
import { RlsAdapterAssumptionError } from '../../core/errors/rls-adapter-assumption-error';
import { VIEW_MEMBERS } from './wire/scoped-connection';

/**
 * Every internal of MikroORM 7, Kysely and node-postgres this adapter relies on, named in one place,
 * with why no public API serves. `assertMikroOrm7Internals()` checks them once, when `withRls` first
 * runs: if a patch release changed one, it throws an `RlsAdapterAssumptionError` naming it, instead of
 * leaving a query path unscoped. `tests/unit/adapter-internals-v7.test.ts` is the tripwire.
 */
export interface Assumption {
  readonly what: string;
  readonly why: string;
  problem(): string | undefined;
}

const isFunction = (owner: object | undefined, member: string) => typeof (owner as Record<string, unknown> | undefined)?.[member] === 'function';
const methods = (label: string, owner: object | undefined, members: readonly string[]) => () => {
  const missing = members.filter((member) => !isFunction(owner, member));
  return missing.length ? `${label} has no ${missing.join(', ')}` : undefined;
};

/** A package's directory as `from` resolves it (each package resolves its own dependencies). */
function packageDirectory(name: string, from?: string): string {
  const entry = require.resolve(name, from ? { paths: [from] } : undefined);
  let dir = path.dirname(entry);
  while (!readFileSafe(path.join(dir, 'package.json')).includes(`"name": "${name}"`)) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json of ${name} above ${entry}`);
    dir = parent;
  }
  return dir;
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return ''; // not there: the caller goes on looking one folder up
  }
}

const source = (pkg: string, file: string, from?: string) => readFileSync(path.join(packageDirectory(pkg, from), file), 'utf8');
const postgresqlDir = () => packageDirectory('@mikro-orm/postgresql');

export const ASSUMPTIONS: readonly Assumption[] = [
  {
    what: "MikroORM's EntityManager.fork builds the fork with `new em.constructor(em.config, em.driver, ...)`, and its constructor takes useContext fourth and the event manager fifth",
    why: 'entity-manager/rls-entity-manager.ts: a fork gets the scoped driver through the constructor it is built with (MikroORM has no option to give a fork another driver, and its #private fields rule out a view of the parent), and the event manager built before that constructor is armed',
    problem: () => {
      if (!sourceHas(EntityManager.prototype.fork.toString(), /new em\.constructor\(em\.config, em\.driver\b/)) return 'EntityManager.prototype.fork no longer builds the fork with new em.constructor(em.config, em.driver, ...)';
      if (!sourceHas(EntityManager.toString(), /constructor\(config, driver, metadata, useContext\b[^,]*, eventManager\b/)) return "EntityManager's constructor no longer takes (config, driver, metadata, useContext, eventManager)";
      if (!sourceHas(EntityManager.prototype.fork.toString(), /options\.cloneEventManager\s*\?\s*em\.eventManager\.clone\(\)\s*:\s*em\.eventManager;/)) return 'EntityManager.prototype.fork no longer hands the fork em.eventManager when neither freshEventManager nor cloneEventManager is set';
      return methods('EntityManager.prototype', EntityManager.prototype, ['getDriver', 'getConnection', 'upsert', 'upsertMany', 'tryCache', 'clearCache', 'getContext', 'setTransactionContext', 'resetTransactionContext'])();
    },
  },
  {
    what: "MikroORM's result cache is read only in EntityManager.tryCache, whose key (config[0] or the query's) storeCache writes under, and cleared in clearCache",
    why: "entity-manager/rls-entity-manager.ts: tryCache and clearCache are overridden to key every entry by scope (the cache is shared by all forks and MikroORM keys entries by the query alone); a read elsewhere would serve one scope's rows to another",
    problem: () => {
      const proto = EntityManager.prototype as unknown as Record<string, unknown>;
      const readers = Object.getOwnPropertyNames(proto).filter((name) => name !== 'constructor' && typeof Object.getOwnPropertyDescriptor(proto, name)?.value === 'function' && sourceHas(String(proto[name]), /#resultCache\.get\(/));
      if (readers.join() !== 'tryCache') return `the result cache is read by EntityManager.${readers.join(', ') || '(none)'}, not by tryCache alone`;
      if (!sourceHas(String(proto.tryCache), /config\[0\]/) || !sourceHas(String(proto.tryCache), /JSON\.stringify\(key\)/)) return 'EntityManager.tryCache no longer keys entries by config[0] or the query key';
      if (!sourceHas(String(proto.storeCache), /#resultCache\.set\(key\.key\b/)) return 'EntityManager.storeCache no longer stores under the key tryCache returned';
      return sourceHas(String(proto.clearCache), /#resultCache\.remove\(cacheKey\)/) ? undefined : 'EntityManager.clearCache no longer removes the entry named cacheKey';
    },
  },
  {
    what: "MikroORM's UnitOfWork builds its ChangeSetPersister in its constructor, which takes its driver from em.getDriver() and sends a flush's updates and deletes through it",
    why: 'entity-manager/invisible-flush-writes.ts: with refuseInvisibleWrites, the persister of a scoped manager gets the driver view that checks affected rows (its #driver is private, and MikroORM has no hook on a flush write result)',
    problem: () => {
      // `new <binding>.ChangeSetPersister(...)` once compiled to CommonJS (as under the v7 Jest run).
      if (!sourceHas(UnitOfWork.toString(), /new (?:[\w$]+\.)?ChangeSetPersister\(this\.#em\)/)) return "UnitOfWork's constructor no longer builds new ChangeSetPersister(em)";
      const persister = ChangeSetPersister.toString();
      if (!sourceHas(persister, /this\.#driver = this\.#em\.getDriver\(\)/)) return "ChangeSetPersister's constructor no longer takes its driver from em.getDriver()";
      const writes = ['nativeUpdate', 'nativeUpdateMany', 'nativeDelete'].filter((m) => !sourceHas(persister, new RegExp(`this\\.#driver\\.${m}\\(`)));
      return writes.length ? `ChangeSetPersister no longer sends ${writes.join(', ')} through its driver` : undefined;
    },
  },
  {
    what: "MikroORM's SQL connection sends a statement with (ctx ?? its Kysely).executeQuery(compiled), opens, releases and rolls back savepoints with ctx.savepoint, ctx.releaseSavepoint and ctx.rollbackToSavepoint, and streams through ctx.getExecutor().stream",
    why: "wire/scoped-connection.ts and wire/step-transactions.ts: a scoped view's statement is handed its scope (or its nested bypass step's tag) around that call alone, as the ctx it passes (MikroORM's onQuery hook and logger run outside it); Kysely has no per-statement argument that reaches the pg client",
    problem: () => {
      if (!sourceHas(AbstractSqlConnection.prototype.execute.toString(), /\(ctx \?\? this\.#client\)\.executeQuery\(/)) return 'AbstractSqlConnection.execute no longer runs statements through (ctx ?? client).executeQuery';
      // The onQuery hook (in prepareQuery) must run before, outside, the call the scope is handed to.
      if (!sourceHas(AbstractSqlConnection.prototype.execute.toString(), /this\.prepareQuery\([\s\S]*\(ctx \?\? this\.#client\)\.executeQuery\(/)) return 'AbstractSqlConnection.execute no longer runs its onQuery hook (prepareQuery) before sending the statement';
      if (!sourceHas(AbstractSqlConnection.prototype.begin.toString(), /options\.ctx\.savepoint\(/)) return 'AbstractSqlConnection.begin no longer opens savepoints with options.ctx.savepoint';
      if (!sourceHas(AbstractSqlConnection.prototype.commit.toString(), /ctx\.releaseSavepoint\(/)) return 'AbstractSqlConnection.commit no longer releases savepoints with ctx.releaseSavepoint';
      if (!sourceHas(AbstractSqlConnection.prototype.rollback.toString(), /ctx\.rollbackToSavepoint\(/)) return 'AbstractSqlConnection.rollback no longer rolls back savepoints with ctx.rollbackToSavepoint';
      if (!sourceHas(AbstractSqlConnection.prototype.stream.toString(), /\(ctx \?\? this\.getClient\(\)\)\s*\.getExecutor\(\)\s*\.stream\(/)) return 'AbstractSqlConnection.stream no longer streams through (ctx ?? client).getExecutor().stream';
      return undefined;
    },
  },
  {
    what: "MikroORM's SQL drivers keep their connections in the plain fields connection and replicas, which getConnection and execute read, and no #private state",
    why: 'wire/scoped-driver.ts: a scoped driver is a prototype view of the shared one with its own connection and replicas (MikroORM has no option to give a fork other connections); a #private field would make the view throw, a connection kept elsewhere would run unscoped',
    problem: () => {
      const getConnection = DatabaseDriver.prototype.getConnection.toString();
      if (!sourceHas(getConnection, /return this\.connection;/) || !sourceHas(getConnection, /this\.replicas\[/)) return 'DatabaseDriver.getConnection no longer returns this.connection or one of this.replicas';
      if (!sourceHas(AbstractSqlDriver.prototype.execute.toString(), /connection = this\.connection\)/)) return 'AbstractSqlDriver.execute no longer runs on this.connection by default';
      const withPrivate = [DatabaseDriver, AbstractSqlDriver, PostgreSqlDriver].filter((driver) => sourceHas(driver.toString(), /this\.#[\w$]/));
      return withPrivate.length ? `${withPrivate.map((d) => d.name).join(', ')} now has #private state` : undefined;
    },
  },
  {
    what: "MikroORM's SQL connection takes execute(query, params, method, ctx, loggerContext) and stream(query, params, ctx, loggerContext, chunkSize), and its begin reads only the options ctx, eventBroadcaster, isolationLevel, readOnly, sessionContext and loggerContext",
    why: "wire/scoped-connection.ts: a scoped view finds the transaction (ctx) among the arguments by position to refuse another fork's, and reimplements begin to defer BEGIN: an option begin starts to read would be dropped by the view",
    problem: () => {
      if (!sourceHas(AbstractSqlConnection.prototype.execute.toString(), /^async execute\(query, params = \[\], method = 'all', ctx, loggerContext\)/)) return 'AbstractSqlConnection.execute no longer takes (query, params, method, ctx, loggerContext)';
      if (!sourceHas(AbstractSqlConnection.prototype.stream.toString(), /^async \*stream\(query, params = \[\], ctx, loggerContext, chunkSize\)/)) return 'AbstractSqlConnection.stream no longer takes (query, params, ctx, loggerContext, chunkSize)';
      const handled = ['ctx', 'eventBroadcaster', 'isolationLevel', 'readOnly', 'sessionContext', 'loggerContext'];
      const read = [...compactSource(AbstractSqlConnection.prototype.begin.toString()).matchAll(/options\.(\w+)/g)].map((m) => m[1]!);
      const unhandled = [...new Set(read)].filter((option) => !handled.includes(option));
      if (unhandled.length) return `AbstractSqlConnection.begin now reads the option(s) ${unhandled.join(', ')}`;
      return methods('AbstractSqlPlatform.prototype', AbstractSqlPlatform.prototype, ['getBeginTransactionSQL', 'formatQuery'])();
    },
  },
  {
    what: "MikroORM's orm.reconnect(options) writes each option into the configuration with config.set",
    why: "wiring/with-rls.ts: the configuration's set is shadowed to install the pg client into driverOptions and replicas set later (MikroORM has no hook on a reconnect), so that a new pool is guarded too",
    problem: () => (sourceHas(MikroORM.prototype.reconnect.toString(), /this\.config\.set\(key, options\[key\]\)/) ? undefined : 'MikroORM.reconnect no longer writes its options with this.config.set(key, value)'),
  },
  {
    what: `MikroORM's SQL connection has ${VIEW_MEMBERS.join(', ')}, commit, rollback, ensureConnection and logQuery; the PostgreSQL one getNativeClient`,
    why: "wire/scoped-connection.ts: a scoped view runs MikroORM's own execute with the scope handed to the pg client, and reimplements begin to defer BEGIN; every other method is bound to the shared connection (#private state)",
    problem: () =>
      methods('AbstractSqlConnection.prototype', AbstractSqlConnection.prototype, [...VIEW_MEMBERS, 'commit', 'rollback', 'ensureConnection', 'logQuery', 'getPlatform'])() ??
      methods('PostgreSqlConnection.prototype', PostgreSqlConnection.prototype, ['getNativeClient', 'createKyselyDialect', 'mapOptions'])(),
  },
  {
    what: "MikroORM's PostgreSQL connection builds its pg Pool from the connection options merged with driverOptions (so driverOptions.Client is the class of every pooled client), and getNativeClient returns that pool",
    why: 'wiring/pool-guard.ts: the scope and the pool guard live in that Client class; the pool is checked at the first scoped query too',
    problem: () => {
      const mapOptions = PostgreSqlConnection.prototype.mapOptions.toString();
      const dialect = PostgreSqlConnection.prototype.createKyselyDialect.toString();
      if (!sourceHas(mapOptions, /mergeConfig\(ret, overrides\)/)) return 'PostgreSqlConnection.mapOptions no longer merges driverOptions over the pool options';
      // Written as `new Pool(options)`; `new <binding>.Pool(options)` once compiled to CommonJS (as under the v7 Jest run).
      if (!sourceHas(dialect, /new (?:[\w$]+\.)?Pool\(options\)/)) return 'PostgreSqlConnection.createKyselyDialect no longer builds new Pool(mapOptions(...))';
      // wiring/pool-guard.ts and role-check.ts key their checks by that pool and read its Client class.
      if (!sourceHas(dialect, /this\.#pool = pool;/) || !sourceHas(PostgreSqlConnection.prototype.getNativeClient.toString(), /this\.#pool\)/)) return 'PostgreSqlConnection.getNativeClient no longer returns the pg Pool createKyselyDialect built';
      return undefined;
    },
  },
  {
    what: "Kysely's PostgresDriver sends BEGIN (or START TRANSACTION ...), COMMIT and ROLLBACK as plain statements through the connection, which calls client.query(sql, parameters)",
    why: "wire/rls-pg-client.ts: BEGIN is kept back and sent in front of the transaction's first statement, and COMMIT/ROLLBACK carry the session reset; Kysely has no option for either",
    problem: () => {
      const driver = source('kysely', 'dist/dialect/postgres/postgres-driver.js', postgresqlDir());
      const wanted = [/let sql = 'begin'/, /sql = 'start transaction'/, /CompiledQuery\.raw\('commit'\)/, /CompiledQuery\.raw\('rollback'\)/, /this\.#client\.query\(compiledQuery\.sql, compiledQuery\.parameters\)/];
      return wanted.every((re) => sourceHas(driver, re)) ? undefined : "kysely's postgres-driver.js no longer sends begin/commit/rollback as expected, or no longer calls client.query(sql, parameters)";
    },
  },
  {
    what: "MikroORM's SQL connection builds its Kysely with new Kysely({ dialect }) from createKyselyDialect's dialect; Kysely's transactions send every statement through the connection its driver's acquireConnection returned (held by a SingleConnectionProvider) and give it back with driver.releaseConnection; its PostgresDriver runs onCreateConnection and onReserveConnection inside acquireConnection",
    why: "wire/connection-leases.ts and wiring/lease-guard.ts: each acquire hands Kysely a lease that dies on release, so a savepoint kept past its transaction (Kysely marks only the transaction itself committed) cannot run on the connection's next user, and the connection hooks run outside the statement's scope store; MikroORM and Kysely have no hook on either",
    problem: () => {
      const createKysely = AbstractSqlConnection.prototype.createKysely?.toString() ?? '';
      if (!sourceHas(createKysely, /this\.createKyselyDialect\(driverOptions\)/) || !sourceHas(createKysely, /new (?:[\w$]+\.)?Kysely\(\{ dialect \}\)/)) return 'AbstractSqlConnection.createKysely no longer builds new Kysely({ dialect }) from this.createKyselyDialect(driverOptions)';
      const kysely = source('kysely', 'dist/kysely.js', postgresqlDir());
      const controlled = source('kysely', 'dist/util/provide-controlled-connection.js', postgresqlDir());
      const provider = source('kysely', 'dist/driver/default-connection-provider.js', postgresqlDir());
      if (!sourceHas(kysely, /provideControlledConnection\(this\.#props\.executor\)/) || !sourceHas(kysely, /new SingleConnectionProvider\(connection\.connection\)/) || !sourceHas(controlled, /connectionProvider\s*\.provideConnection\(/)) return "Kysely's controlled transactions no longer hold the connection their executor's provider acquired in a SingleConnectionProvider";
      if (!sourceHas(provider, /this\.#driver\.acquireConnection\(/) || !sourceHas(provider, /this\.#driver\.releaseConnection\(connection/)) return "Kysely's DefaultConnectionProvider no longer acquires and releases connections through its driver";
      const driver = source('kysely', 'dist/dialect/postgres/postgres-driver.js', postgresqlDir());
      const acquire = driver.slice(driver.indexOf('async acquireConnection('), driver.indexOf('async beginTransaction('));
      if (!sourceHas(acquire, /this\.#config\.onCreateConnection\(connection/) || !sourceHas(acquire, /this\.#config\.onReserveConnection\(connection/)) return "Kysely's PostgresDriver no longer runs onCreateConnection and onReserveConnection inside acquireConnection";
      return undefined;
    },
  },
  {
    what: "The pg that @mikro-orm/postgresql loads is this adapter's pg, whose Client has getTransactionStatus, readyForQuery and the wire connection's readyForQuery event, and pg-pool sets client.release on each acquire and reuses a client only while _queryable and not _ending",
    why: "wire/rls-pg-client.ts: the client class, the transaction status read after each message, and the guarded release (pg-pool has no validate-on-release hook)",
    problem: () => {
      const theirs = require.resolve('pg', { paths: [postgresqlDir()] });
      const ours = require.resolve('pg');
      if (theirs !== ours) return `two copies of pg: @mikro-orm/postgresql loads ${theirs}, mikro-orm-rls ${ours}; install pg at the version @mikro-orm/postgresql pins (npm i -E pg@<that version>) so npm keeps one copy`;
      if (!isFunction(Client.prototype, 'getTransactionStatus')) return 'pg Client has no getTransactionStatus (pg 8.21 or later is needed)';
      const client = new Client({}) as unknown as Record<string, unknown>;
      if (typeof client._queryable !== 'boolean' || typeof client._ending !== 'boolean' || !isFunction(client.connection as object, 'once')) return 'a new pg Client lacks _queryable, _ending or connection.once';
      const handler = (Client.prototype as unknown as { _handleReadyForQuery?: () => void })._handleReadyForQuery?.toString() ?? '';
      if (!sourceHas(handler, /this\._txStatus = /) || !sourceHas(handler, /this\.readyForQuery = true/)) return "pg Client's ReadyForQuery handler no longer sets the transaction status and readyForQuery";
      const pool = source('pg-pool', 'index.js', path.dirname(ours));
      if (!sourceHas(pool, /client\.release = this\._releaseOnce\(/) || !sourceHas(pool, /this\.Client = this\.options\.Client/)) return 'pg-pool no longer takes options.Client or no longer sets client.release on each acquire';
      return undefined;
    },
  },
  {
    what: "MikroORM's exception converter is reached through Platform.getExceptionConverter().convertException, and core exports RowLevelSecurityViolationException",
    why: 'entity-manager/rls-violation-error.ts: RLS refusals become RlsViolationError (a RowLevelSecurityViolationException); MikroORM has no hook to add a conversion',
    problem: () =>
      typeof RowLevelSecurityViolationException !== 'function' ? '@mikro-orm/core exports no RowLevelSecurityViolationException' : methods('Platform.prototype', Platform.prototype, ['getExceptionConverter'])(),
  },
];

/** Throws for the first assumption that does not hold. */
export function assertAssumptions(assumptions: readonly Assumption[]): void {
  for (const assumption of assumptions) {
    const problem = assumption.problem();
    if (problem !== undefined) throw new RlsAdapterAssumptionError(assumption.what, problem);
  }
}

let checked = false;

/** Checks every assumption once per process (they are facts about the installed packages). */
export function assertMikroOrm7Internals(): void {
  if (checked) return;
  assertAssumptions(ASSUMPTIONS);
  checked = true;
}
