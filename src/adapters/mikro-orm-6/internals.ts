import { Configuration, EntityManager, Platform } from '@mikro-orm/core';
import { EntityManager as SqlEntityManager, knex } from '@mikro-orm/knex';
import { PostgreSqlConnection } from '@mikro-orm/postgresql';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { compactSource, sourceHas } from '../../core/adapter/source-text';
import { RlsAdapterAssumptionError } from '../../core/errors/rls-adapter-assumption-error';
import { SHARED_STATE } from './wire/scoped-connection';

/**
 * Every internal of MikroORM 6, knex and node-postgres this adapter relies on, named in one place, with
 * why no public API serves. `assertMikroOrm6Internals()` checks them once, when `withRls` first runs: if
 * a patch release changed one, it throws an `RlsAdapterAssumptionError` naming it, instead of leaving a
 * query path unscoped or policies out of migrations. `tests/unit/adapter-internals.test.ts` is the
 * tripwire: it checks them on the installed versions and that each broken one is caught.
 */
export interface Assumption {
  /** What is relied on, as the error names it. */
  readonly what: string;
  /** Where and why: no public API gives the same. */
  readonly why: string;
  /** Why it does not hold, or undefined when it does. */
  problem(): string | undefined;
}

const isFunction = (owner: object | undefined, member: string) => typeof (owner as Record<string, unknown> | undefined)?.[member] === 'function';
const methods = (label: string, owner: object | undefined, members: readonly string[]) => () => {
  const missing = members.filter((member) => !isFunction(owner, member));
  return missing.length ? `${label} has no ${missing.join(', ')}` : undefined;
};

// knex's Transaction class is not exported; the one a `knex.transaction()` builds is.
type TransactionClass = { prototype: object };

/** Resolves with the Node `require.resolve` signature; a parameter so a test can see the `paths` it is given. */
export type Resolve = (request: string, options?: { paths?: string[] }) => string;

// `paths` must name folders: Node's own resolver forgives a file there, ts-node's experimentalResolver
// stats `<file>/node_modules` and fails with ENOTDIR (found by a new-user trial).
export const knexDirectory = (resolve: Resolve = require.resolve) =>
  path.dirname(resolve('knex/package.json', { paths: [path.dirname(resolve('@mikro-orm/knex'))] }));

function knexTransactionClass(): TransactionClass | undefined {
  const modulePath = path.join(knexDirectory(), 'lib/execution/transaction');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(modulePath) as TransactionClass | undefined;
}

// node-postgres as knex loads it (knex requires 'pg' from its own location, which is the application's).
type PgModule = { Client: new (config: object) => Record<string, unknown> };
function pgAsKnexLoadsIt(): PgModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(require.resolve('pg', { paths: [knexDirectory()] })) as PgModule;
}

export const ASSUMPTIONS: readonly Assumption[] = [
  {
    what: "MikroORM's PostgreSQL connection is made of getSql, executeQuery, transformRawResult and logQuery, with begin/commit/rollback/transactional/execute on top",
    why: 'wire/scoped-connection.ts: a scoped view of the connection runs MikroORM\'s own execute path with the scope in front; no public hook runs before every statement',
    problem: methods('PostgreSqlConnection.prototype', PostgreSqlConnection.prototype, ['getSql', 'executeQuery', 'transformRawResult', 'logQuery', 'begin', 'commit', 'rollback', 'transactional', 'execute', 'getKnex']),
  },
  {
    what: `MikroORM's PostgreSQL connection has the members that hold its shared state (${SHARED_STATE.join(', ')})`,
    why: 'wire/scoped-connection.ts: a scoped view runs them on the shared connection, so that no view opens or closes a pool of its own',
    problem: methods('PostgreSqlConnection.prototype', PostgreSqlConnection.prototype, SHARED_STATE),
  },
  {
    what: "MikroORM's EntityManager.fork builds the fork from the driver of the manager it is called on (`em.driver`)",
    why: 'entity-manager/rls-entity-manager.ts: a fork gets the scoped driver through the manager it is forked from (MikroORM has no option to give a fork another driver)',
    problem: () => {
      const fork = (SqlEntityManager.prototype as unknown as { fork?: () => unknown }).fork;
      if (typeof fork !== 'function') return 'SqlEntityManager.prototype.fork is missing';
      if (!sourceHas(EntityManager.prototype.fork.toString(), /new em\.constructor\(em\.config, em\.driver\b/)) return 'EntityManager.prototype.fork no longer builds the fork from em.driver';
      return methods('EntityManager.prototype', EntityManager.prototype, ['getDriver', 'getConnection', 'upsert', 'upsertMany', 'tryCache', 'clearCache', 'getContext'])();
    },
  },
  {
    what: "MikroORM's Configuration caches extensions in its `cache` Map",
    why: 'migrations/register-extension.ts: MikroORM uses the schema generator while connecting, before extensions are registered; deleting that one entry makes the replacement take effect (resetServiceCache() would also drop the hydrator, metadata provider and result cache already handed out)',
    problem: () => (sourceHas(Configuration.prototype.getExtension.toString(), /this\.cache\.has\(name\)/) ? undefined : 'Configuration.getExtension no longer reads this.cache'),
  },
  {
    what: "MikroORM's exception converter is reached through Platform.getExceptionConverter().convertException",
    why: 'entity-manager/rls-violation-error.ts: RLS refusals become RlsViolationError; MikroORM has no hook to add a conversion',
    problem: methods('Platform.prototype', Platform.prototype, ['getExceptionConverter']),
  },
  {
    what: "knex's Client has acquireConnection, releaseConnection, query, stream and transaction",
    why: 'wire/scope-in-one-message.ts, wire/transaction-start-gate.ts, wire/deferred-scope.ts: the scope travels in the same message as the first statement, below knex\'s public API; wire/unscoped-work.ts: the session reset after unscoped work is sent as a connection is released (knex has no release hook)',
    problem: methods('knex Client.prototype', knex.Client.prototype, ['acquireConnection', 'releaseConnection', 'query', 'stream', 'transaction']),
  },
  {
    what: "knex's Transaction has begin and query, builds its per-transaction client when it starts, links a savepoint to its parent (parentTransaction), and makes savepoints through its client's transaction()",
    why: "wire/deferred-scope.ts: the transaction's BEGIN is deferred into its first statement's message (one round trip less), which knex offers no option for; entity-manager/bypass-in-transaction.ts: a nested bypass guards and resets the whole chain of transactions",
    problem: () => {
      const transaction = knexTransactionClass();
      if (!transaction?.prototype) return "knex's lib/execution/transaction does not export the Transaction class";
      // A transaction's savepoints are made through its client's `transaction` (make-knex's _transaction),
      // which the nested bypass guard replaces to refuse new savepoints while the step runs.
      const makeKnex = readFileSync(path.join(knexDirectory(), 'lib/knex-builder/make-knex.js'), 'utf8');
      if (!sourceHas(makeKnex, /this\.client\.transaction\(/)) return "knex no longer makes a transaction's savepoints through its client's transaction()";
      const onAcquire = (transaction.prototype as { _onAcquire?: () => unknown })._onAcquire;
      if (typeof onAcquire !== 'function' || !sourceHas(onAcquire.toString(), /transactor\.parentTransaction = this\.outerTx\.transactor/)) {
        return "knex's Transaction no longer links a savepoint to its parent (transactor.parentTransaction)";
      }
      return methods('knex Transaction.prototype', transaction.prototype, ['begin', 'query', 'commit', 'rollback'])();
    },
  },
  {
    what: "node-postgres clients expose _ending, _ended, _queryable, the wire connection's events, and set readyForQuery on each ReadyForQuery",
    why: 'wire/connection-state.ts: the transaction status of a pooled connection is read from the wire (ReadyForQuery) and a dead client is recognised; pg has no public API for either',
    problem: () => {
      const client = new (pgAsKnexLoadsIt().Client)({});
      const expected: Record<string, string> = { _ending: 'boolean', _ended: 'boolean', _queryable: 'boolean', connection: 'object' };
      const wrong = Object.entries(expected).filter(([member, type]) => typeof client[member] !== type).map(([member, type]) => `${member} (${type})`);
      if (!isFunction(client.connection as object, 'on')) wrong.push('connection.on');
      // readyForQuery exists only once connected; the handler that sets it is on the prototype.
      const handler = (pgAsKnexLoadsIt().Client.prototype as { _handleReadyForQuery?: () => void })._handleReadyForQuery;
      if (typeof handler !== 'function' || !sourceHas(handler.toString(), /this\.readyForQuery = true/)) wrong.push('_handleReadyForQuery setting readyForQuery');
      return wrong.length ? `a new pg Client lacks ${wrong.join(', ')}` : undefined;
    },
  },
];

/** Migrator members, checked when `@mikro-orm/migrations` is loaded (it is an optional peer). */
export function migratorAssumption(migratorPrototype: object): Assumption {
  return {
    what: "MikroORM's Migrator has getSchemaDiff and storeCurrentSchema, and snapshotPath, options and em on its instances",
    why: 'migrations/rls-migrator.ts: the policy diff joins the schema diff in migration:create/check; the Migrator has no extension point for it',
    problem: methods('Migrator.prototype', migratorPrototype, ['getSchemaDiff', 'storeCurrentSchema']),
  };
}

const sourceOf = (owner: object | undefined, member: string) => {
  const fn = (owner as Record<string, unknown> | undefined)?.[member];
  // compacted: the texts looked for have no spaces, and the source may have any layout (see source-text.ts)
  return typeof fn === 'function' ? compactSource(fn.toString()) : '';
};

/** The classes of `@mikro-orm/migrations` whose internals a migration in bounded transactions relies on. */
export interface MigrationClasses {
  readonly Migrator: { prototype: object };
  readonly MigrationRunner: { prototype: object };
  readonly MigrationGenerator: { prototype: object };
}

/** How MikroORM writes a migration file and runs a non-transactional one, checked with the Migrator's. */
export function migrationFileAssumption({ Migrator, MigrationRunner, MigrationGenerator }: MigrationClasses): Assumption {
  return {
    what: "MikroORM's Migrator writes a file through this.generator's generateMigrationFile, and runs a migration whose isTransactional() is false outside a transaction",
    why: 'migrations/rls-migrator.ts: a migration too large for one transaction says isTransactional() is false in its class, and each of its statements holds one transaction; no option of the generator writes that',
    problem: () => {
      const wrong = [
        !sourceOf(Migrator.prototype, 'createMigration').includes('this.generator.generate(') && 'Migrator.createMigration does not call this.generator.generate(',
        !sourceOf(Migrator.prototype, 'createInitialMigration').includes('this.generator.generate(') && 'Migrator.createInitialMigration does not call this.generator.generate(',
        !isFunction(Migrator.prototype, 'getPendingMigrations') && 'Migrator.prototype has no getPendingMigrations',
        !sourceOf(MigrationGenerator.prototype, 'generate').includes('this.generateMigrationFile(') && 'MigrationGenerator.generate does not call this.generateMigrationFile(',
        !sourceOf(MigrationRunner.prototype, 'run').includes('!migration.isTransactional()') && 'MigrationRunner.run does not check migration.isTransactional()',
      ].filter((problem): problem is string => typeof problem === 'string');
      return wrong.length ? wrong.join('; ') : undefined;
    },
  };
}

/** Throws for the first assumption that does not hold. */
export function assertAssumptions(assumptions: readonly Assumption[]): void {
  for (const assumption of assumptions) {
    const problem = assumption.problem();
    if (problem !== undefined) throw new RlsAdapterAssumptionError(assumption.what, problem);
  }
}

let checked = false;

/** Checks every assumption once per process (they are facts about the installed packages). */
export function assertMikroOrm6Internals(): void {
  if (checked) return;
  assertAssumptions(ASSUMPTIONS);
  checked = true;
}
