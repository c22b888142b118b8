// The declarations of the package's runtime exports (../installed-adapter-exports.js, the adapter of the
// installed MikroORM major), written once for both majors: they name only types that @mikro-orm/core and
// @mikro-orm/postgresql export on 6 and on 7, and declare no member whose signature differs between the
// majors (e.g. `tryCache`), so the same .d.ts compiles against whichever MikroORM the application has,
// with and without skipLibCheck. Each adapter's index is checked against it at compile time
// (src/adapters/mikro-orm-<major>/public-api-conformance.ts): an adapter that drifts from what is
// declared here fails `npm run typecheck`. Nothing here exists at run time.
import type { ConstraintViolationException, DriverException, EntityManager, ForkOptions, MikroORM, Options, TransactionPropagation } from '@mikro-orm/core';
import type { EntityManager as SqlEntityManager, PostgreSqlDriver } from '@mikro-orm/postgresql';
import type { AuditFinding } from '../../core/audit/audit-finding';
import type { AuditReport } from '../../core/audit/audit-report';
import type { RLS_ENTITY_MANAGER } from '../../core/adapter/rls-entity-manager-like';
import type { ContextSchema } from '../../core/context/context-schema';
import type { DescribePoliciesOptions, PolicyMap } from '../../core/explorer';
import type { RlsOperation } from '../../core/diff/operation';
import type { RlsSessioner as CoreRlsSessioner } from '../../core/sessioner/rls-sessioner';
import type { RlsOptions } from '../../core/settings/rls-settings';
// `rls: {...}` in `defineEntity` and `new EntitySchema` (one augmentation for both majors).
import '../../core/entity/entity-metadata-rls';

export type { AuditReport } from '../../core/audit/audit-report';
export type { ContextGetter } from '../../core/sessioner/rls-sessioner';
export { RlsSettings, rlsSettingsOf, type RlsOptions } from '../../core/settings/rls-settings';

type ContextOf<Schema> = Schema extends ContextSchema<infer Output> ? Output & object : Record<string, unknown>;

/**
 * Fork options that make sense for a scoped fork: it never joins the parent's transaction, and always
 * starts with an empty identity map (`clear: false` would hand it entities loaded under another scope).
 *
 * @example
 * const options: RlsForkOptions = { flushMode: FlushMode.COMMIT, useContext: true };
 * const scoped = orm.em.forkWithRls({ account_id: 42 }, options);
 */
export type RlsForkOptions = Omit<ForkOptions, 'disableContextResolution' | 'keepTransactionContext' | 'clear'>;

/**
 * Options of `bypassRls(callback, options)`.
 *
 * @example
 * const options: RlsBypassOptions = { propagation: 'nested' };
 * await em.transactional((tx) => tx.bypassRls((admin) => admin.nativeUpdate(Stock, { sku }, { reservedBy: 1 }), options));
 */
export interface RlsBypassOptions {
  /**
   * `'requires_new'` (default): the callback runs in a transaction of its own. `'nested'`: in a savepoint
   * of the caller's transaction, switched to the bypass role for the callback only. Do not go on with a
   * transaction whose nested step failed.
   */
  readonly propagation?: TransactionPropagation.REQUIRES_NEW | TransactionPropagation.NESTED | 'requires_new' | 'nested';
}

/**
 * Wires row-level security into MikroORM options; the only call needed. The returned options install
 * {@link RlsEntityManager} (`forkWithRls`, `bypassRls`), guard the connection pool (a connection a scoped
 * fork left with session state is reset or destroyed), make migrations and `orm.schema` write the
 * policies, and turn RLS refusals into {@link RlsViolationError}. The declarations are compiled once
 * entities are discovered, in `MikroORM.init`.
 *
 * @example
 * const orm = await MikroORM.init(withRls(config, { context: z.object({ account_id: z.number().int() }), bypassRole: 'app_bypass' }));
 * const em = orm.em.forkWithRls({ account_id: 42 });
 * await em.find(Item, {});
 * // One message: the scope, the query, then the session reset (reset role, ...):
 * // select pg_catalog.set_config('rls.account_id', '42', true); select "i0".* from "item" as "i0"; reset role; ...
 *
 * @throws {RlsConfigurationError} from `withRls` itself when `options.entityManager` is not
 * RlsEntityManager (or a subclass), `driverOptions` is a knex instance (MikroORM 6) or a Kysely instance,
 * dialect or function or names a pg `Client` of its own (MikroORM 7), `sessionContext` is `'connection'`
 * (MikroORM 7), or `prefix` or `bypassRole` is malformed; from `MikroORM.init` when the context schema lacks a field the policies read.
 * @throws {RlsDeclarationError} from `MikroORM.init` when a declaration does not fit the entities
 * (an unknown column, two policies with one name, policies on a single-table-inheritance child, one
 * condition arg declared with two types).
 * @throws {RlsAdapterAssumptionError} when an internal of MikroORM, knex (6), Kysely (7) or pg that the
 * adapter relies on is not what it expects (checked once per process, when `withRls` runs).
 */
export declare function withRls<Schema extends ContextSchema | undefined = undefined>(
  options: Options<PostgreSqlDriver>,
  rls?: RlsOptions<Schema>,
): Options<PostgreSqlDriver, RlsEntityManager<ContextOf<Schema>>>;

/**
 * The EntityManager installed by `withRls()`. `forkWithRls(ctx)` returns a fork whose every query runs
 * in a transaction opened with the context's session variables; `bypassRls()` one whose transactions
 * switch to the bypass role. Forks of these forks, their `transactional()` forks and a `RequestContext`
 * around them keep the scope, because it lives in the fork's driver, which MikroORM hands down.
 *
 * @example
 * const orm = await MikroORM.init(withRls(config));
 * const em: RlsEntityManager = orm.em;
 * const scoped = em.forkWithRls({ account_id: 42 });
 * const mine = await scoped.find(Item, {}); // only the rows the policies give account 42
 * const all = await em.bypassRls((admin) => admin.count(Item)); // every row, as the bypass role
 *
 * @throws {RlsContextError} from `forkWithRls` for an invalid context; see its other errors there
 * and at `bypassRls`.
 * @throws {RlsAdapterAssumptionError} from `forkWithRls` and `bypassRls` when MikroORM's `fork()` no
 * longer builds the fork the way the adapter relies on.
 */
export declare class RlsEntityManager<Context extends object = Record<string, unknown>> extends SqlEntityManager<PostgreSqlDriver> {
  constructor(...args: ConstructorParameters<typeof SqlEntityManager<PostgreSqlDriver>>);
  get [RLS_ENTITY_MANAGER](): true;
    /**
     * A fork scoped to `context`, validated first: invalid input throws {@link RlsContextError} and sends
     * no SQL. The fork starts with an empty identity map and never joins a transaction of this manager:
     * `clear: false` is refused with {@link RlsConfigurationError}, since it would copy entities loaded
     * under this manager's scope into the fork, readable without a query. With `useContext: true`, the
     * fork resolves to the request context or transaction it runs in only when they have its context.
     *
     * Each transaction of the fork begins with one statement that sets the context's fields as
     * transaction-local settings, its values written in as escaped literals (by MikroORM's quoting), sent
     * in the same message as the transaction's first statement. A query outside a transaction is sent
     * behind the same statement, in one message, which PostgreSQL runs as one implicit transaction.
     *
     * @example
     * const em = orm.em.forkWithRls({ account_id: 42 });
     * const items = await em.find(Item, {}); // only what the policies let account 42 see
     * // sent before the query, in the same message:
     * // select pg_catalog.set_config('rls.account_id', '42', true)
     *
     * @throws {RlsContextError} when `context` fails the context schema (no SQL is sent).
     * @throws {RlsConfigurationError} for `clear: false`, an ORM not set up with `withRls`, and, on
     * the fork's first query of each connection (with `strict`, the default), a connection role that is a
     * superuser, has BYPASSRLS or owns an RLS table without FORCE, or a pool without the pool guard.
     * @throws {RlsViolationError} from the fork's writes that a policy refuses.
     * @throws {RlsInvisibleRowError} from the fork's flushes that reach a row it cannot see, with
     * `refuseInvisibleWrites`.
     * @throws {RlsScopeEscapeError} from raw SQL of the fork that leaves a transaction open (`BEGIN`).
     * @throws {RlsTransactionStartError} from a statement sent while the transaction's failing first
     * statement was in flight.
     * @throws {RlsAdapterAssumptionError} when MikroORM's `fork()` did not build the fork with the scoped
     * driver (a MikroORM release changed it): refused rather than run unscoped.
     */
  forkWithRls(context: Context, options?: RlsForkOptions): this;
    /**
     * A fork whose transactions run as the configured bypass role (BYPASSRLS), for admin work. With a
     * callback, runs it in one transaction of such a fork and returns its result. Never affects this
     * manager, its other forks, or the pooled connection afterwards. The fork starts with an empty
     * identity map; what it loads is never merged into this manager.
     *
     * By default (`propagation: 'requires_new'`) the callback runs in a transaction of its own, on another
     * pooled connection, even when called inside a transaction: it does not see the caller's uncommitted
     * writes, and waits, possibly forever, for rows the caller's transaction has locked. For an admin step
     * that must be atomic with the caller's transaction, pass `propagation: 'nested'` (MikroORM's
     * meaning: a savepoint in the current transaction): the callback runs in a savepoint of the caller's
     * transaction switched to the bypass role, sees its uncommitted writes, and its own writes commit or
     * roll back with it. The switch ends with the callback, whether it returns or throws (a throw also
     * rolls back the callback's writes, as a failed nested `transactional()` does). While the callback
     * runs, the caller's transaction refuses statements sent outside the callback's EntityManager. Outside
     * any transaction, `'nested'` runs the callback in a transaction of its own, as MikroORM does.
     *
     * Each transaction of the fork begins with `select pg_catalog.set_config('role', <bypass role>, true)`,
     * the role name written in as an escaped literal, in the same message as its first statement.
     *
     * @example
     * const total = await orm.em.bypassRls((em) => em.count(Item));
     *
     * await em.transactional(async (tx) => {
     *   const order = tx.create(Order, { sku, account: 42 });
     *   await tx.flush();
     *   // Same transaction, sees the uncommitted order: SAVEPOINT trx2;
     *   // select before.previous, pg_catalog.set_config('role', 'app_bypass', true) as role from (...) as before; update "stock" ...;
     *   // select pg_catalog.set_config('role', '<previous>', true); RELEASE SAVEPOINT trx2
     *   await tx.bypassRls((admin) => admin.nativeUpdate(Stock, { sku }, { reservedBy: order.id }), { propagation: 'nested' });
     * });
     * // With bypassRole: 'app_bypass', each transaction of a bypass fork begins with:
     * // select pg_catalog.set_config('role', 'app_bypass', true)
     *
     * @throws {RlsConfigurationError} when `withRls` was given no `bypassRole`, for a `propagation`
     * other than `'requires_new'` and `'nested'`, for `clear: false`; on the fork's first query of each
     * connection, as for `forkWithRls`.
     * @throws {RlsScopeEscapeError} from raw SQL of the fork that leaves a transaction open (`BEGIN`).
     * @throws {RlsInvisibleRowError} from the fork's flushes that reach no row, with `refuseInvisibleWrites`.
     * @throws {RlsAdapterAssumptionError} as for `forkWithRls`.
     */
  bypassRls(): this;
  bypassRls<T>(callback: (em: this) => T | Promise<T>, options?: RlsBypassOptions): Promise<T>;
    /**
     * The validated context this manager's queries run with, if it is a `forkWithRls` fork (as the schema
     * parsed it); `undefined` otherwise.
     *
     * @example
     * orm.em.forkWithRls({ account_id: 42 }).rlsContext; // { account_id: 42 }
     */
  get rlsContext(): Readonly<Context> | undefined;
    /**
     * Whether this manager's queries run as the bypass role.
     *
     * @example
     * orm.em.bypassRls().isRlsBypassed; // true
     */
  get isRlsBypassed(): boolean;
}

/**
 * PostgreSQL refused a write because of a row-level security policy (SQLSTATE 42501): the row is not the
 * caller's to write, or the scope is missing. Distinct from other database errors, so it can be mapped
 * to 403/404 rather than 500. A MikroORM `ConstraintViolationException`; on MikroORM 7, at run time, its
 * own `RowLevelSecurityViolationException` (so native `instanceof` checks keep working; declared here as
 * the base class both majors have), with `table` and `command` added; and an `RlsError` (`rlsCode`
 * `RLS_VIOLATION`); `code` is PostgreSQL's SQLSTATE, `42501`.
 * Reads never throw it: a row the policies hide is simply not returned.
 *
 * @example
 * const scoped = orm.em.forkWithRls({ account_id: 42 });
 * try {
 *   await scoped.insert(Item, { id: 1, ownerId: 7 }); // another account's row: the policy's WITH CHECK refuses it
 * } catch (error) {
 *   if (error instanceof RlsViolationError) console.warn(`${error.command} on ${error.table} refused`); // insert on item refused
 *   throw error;
 * }
 */
export declare class RlsViolationError extends ConstraintViolationException {
  /** The stable code of this package's errors (`code` is the SQLSTATE, as on every MikroORM exception). */
  readonly rlsCode: 'RLS_VIOLATION' | 'RLS_INVISIBLE_ROW';
  /** The table, as PostgreSQL names it in the message. */
  readonly table: string;
  /** The statement's command (`insert`, `update`, `delete`, ...), read from the statement. */
  readonly command: string;
  constructor(previous: Error, table: string, command: string);
}

/**
 * A write of this fork reached no row although the row it names exists or was expected to: it is not
 * visible to the fork's scope (another tenant's row, or one the policies hide). PostgreSQL raises no
 * error for this (an UPDATE or DELETE whose row the policies hide changes nothing; an
 * `INSERT ... ON CONFLICT DO NOTHING` on a hidden row returns nothing), so this package reports it:
 * a flush with `refuseInvisibleWrites: true` (see {@link RlsOptions}), rolled back. An
 * {@link RlsViolationError} (`rlsCode` `RLS_INVISIBLE_ROW`), so code that answers those with 403/404
 * handles it too.
 *
 * @example
 * // withRls(config, { refuseInvisibleWrites: true })
 * const scoped = orm.em.forkWithRls({ account_id: 42 });
 * const other = scoped.getReference(Item, 1); // a row of account 7, which account 42 cannot see
 * scoped.remove(other);
 * await scoped.flush().catch((error) => {
 *   if (error instanceof RlsInvisibleRowError) console.warn(error.entity, error.command); // Item delete
 *   throw error;
 * });
 */
export declare class RlsInvisibleRowError extends RlsViolationError {
  /** The entity the write was for. */
  readonly entity: string;
  constructor(message: string, entity: string, table: string, command: string);
}

/**
 * SQL sent outside a transaction by a scoped fork left a transaction open (it contains `BEGIN` or
 * `START TRANSACTION`), which would have carried the fork's context past the statement. It was rolled
 * back and nothing of it was kept. A MikroORM `DriverException`, like the errors of any statement, and an
 * `RlsError` (`rlsCode` `RLS_SCOPE_ESCAPE`).
 *
 * @example
 * const scoped = orm.em.forkWithRls({ account_id: 42 });
 * await scoped.execute('begin; select 1').catch((error) => {
 *   if (error instanceof RlsScopeEscapeError) console.error(error.sql); // begin; select 1
 *   throw error;
 * });
 */
export declare class RlsScopeEscapeError extends DriverException {
  /** The SQL that left the transaction open. */
  readonly sql: string;
  /** The stable code of this package's errors (`code` is the SQLSTATE, as on every MikroORM exception). */
  readonly rlsCode: 'RLS_SCOPE_ESCAPE';
  constructor(sql: string);
}

/**
 * A statement of a scoped or bypass transaction that was not sent: it was issued while the
 * transaction's first statement, which carries the transaction's `BEGIN` and scope, was still in flight,
 * and that statement failed. Sending it anyway could have run it outside the transaction, without its
 * scope (a syntax error refuses the whole first message, `BEGIN` included), so nothing of it ran.
 * A MikroORM `DriverException`, like the errors of any statement, and an `RlsError` (`rlsCode`
 * `RLS_TRANSACTION_START`); `cause` is the first statement's error. Only code that sends statements of
 * one transaction concurrently meets it.
 *
 * @example
 * await orm.em.forkWithRls({ account_id: 42 }).transactional(async (tx) => {
 *   // Two statements at once, the first of which fails: the second is refused, not sent.
 *   const results = await Promise.allSettled([tx.execute('selec 1'), tx.execute('select 1')]);
 *   const refused = results.find((r) => r.status === 'rejected' && r.reason instanceof RlsTransactionStartError);
 *   if (refused) throw (refused as PromiseRejectedResult).reason; // its cause: the syntax error of the first
 * });
 */
export declare class RlsTransactionStartError extends DriverException {
  /** The error of the transaction's first statement, which made this one's start fail. */
  readonly cause: unknown;
  /** The stable code of this package's errors (`code` is the SQLSTATE, as on every MikroORM exception). */
  readonly rlsCode: 'RLS_TRANSACTION_START';
  constructor(cause: unknown);
}

/**
 * Hands out RLS-scoped entity managers built from a context getter: the counterpart of the Python
 * package's `RlsSessioner`; the framework integrations are built on it. The core sessioner, typed with
 * `RlsEntityManager`, so that the managers it hands out have the installed MikroORM's whole API.
 *
 * @example
 * const sessioner = new RlsSessioner(orm, (accountId: number) => ({ account_id: accountId }));
 * const items = await sessioner.run([42], (em) => em.find(Item, {}));
 *
 * @throws {RlsConfigurationError} from the constructor, for an ORM not set up with `withRls`.
 * @throws {RlsMissingContextError} from `fork` and `run` when the getter returns nothing.
 * @throws {RlsContextError} from `fork` and `run` when what it returns fails the context schema.
 */
export declare class RlsSessioner<Args extends unknown[], Context extends object> extends CoreRlsSessioner<Args, Context, RlsEntityManager<Context>> {}

/**
 * Brings the database's policies and RLS flags to the declared state, without migrations. Idempotent: a
 * second run returns no operations. Policies it did not create are left alone. Must run as the tables'
 * owner (or a superuser), not as the application role.
 *
 * Every partition of a table (found in the catalog, sub-partitions included) gets the table's flags and
 * policies as well, so a query that names a partition directly is filtered too. A partition created
 * later is covered by the next run.
 *
 * Any number of tables: the work goes in transactions that together lock no more than a quarter of the
 * server's lock table (`max_locks_per_transaction` × `max_connections`; at PostgreSQL's defaults about
 * 130 tables of four new policies each, 400 when nothing changes), one when it all fits, two at a time on
 * two connections of the pool. A table is always changed whole, with its partitions, in one transaction.
 * Each transaction sends its statements in one message (and probes the policies that exist already in
 * one more).
 *
 * @returns the operations it performed.
 *
 * @example
 * // As the tables' owner, after orm.schema.createSchema(), for the Item entity of the Rls example:
 * const operations = await createPolicies(orm);
 * operations.map((op) => op.description); // ['enable row level security', 'force row level security', 'create policy item_permissive_1_all']
 * // The statements it ran, in one transaction, in one message:
 * // alter table "public"."item" enable row level security
 * // alter table "public"."item" force row level security
 * // create policy "item_permissive_1_all" on "public"."item" as permissive for all to public using ("owner_id" = (select nullif(current_setting('rls.account_id', true), '')::integer)) with check ("owner_id" = (select nullif(current_setting('rls.account_id', true), '')::integer))
 * // comment on policy "item_permissive_1_all" on "public"."item" is 'managed by mikro-orm-rls'
 *
 * @throws {RlsConfigurationError} when a table does not exist yet, a policy not created by this
 * package already has a declared policy's name, or the ORM was not set up with `withRls` (nothing is
 * changed then); when the role may not create policies (not the owner), or PostgreSQL refuses a
 * statement for another reason (its message, SQLSTATE and hint are in the error).
 * @throws {RlsDeclarationError} when PostgreSQL rejects a rendered policy (its expression or roles).
 * When PostgreSQL refuses a statement, its transaction is rolled back; with several transactions, no
 * further one starts, the ones that committed stay applied (whole tables), the error says how many tables
 * they hold, and running `createPolicies` again does what is still missing.
 */
export declare function createPolicies(orm: MikroORM): Promise<RlsOperation[]>;
/**
 * Drops every policy this package created on the entities' tables and their partitions and switches RLS
 * off there, unless hand-written policies remain on a table. As the owner; in transactions of whole
 * tables sized like {@link createPolicies}', one when it all fits.
 *
 * @returns the operations it performed.
 *
 * @example
 * // After createPolicies(orm) for the Item entity of the Rls example:
 * await dropPolicies(orm);
 * // The statements it ran, in one transaction, in one message:
 * // drop policy "item_permissive_1_all" on "public"."item"
 * // alter table "public"."item" disable row level security
 * // alter table "public"."item" no force row level security
 *
 * @throws {RlsConfigurationError} when the ORM was not set up with `withRls`, or PostgreSQL refuses a
 * statement (as {@link createPolicies}).
 */
export declare function dropPolicies(orm: MikroORM): Promise<RlsOperation[]>;
/**
 * Checks, with the application's own connection, for setups that silently defeat RLS: a privileged
 * role, tables or partitions without ENABLE/FORCE, policies that differ from the declaration, policies
 * no declaration owns, policies that read no context, tables without RLS that reference RLS tables,
 * writes without SELECT, settings read per row, and views that bypass RLS. Read-only: changes nothing.
 *
 * @example
 * const findings = await auditRls(orm);
 * for (const f of findings) console.log(`${f.code}: ${f.message} Fix: ${f.fix}`);
 *
 * @throws {RlsConfigurationError} when the ORM was not set up with `withRls`.
 */
export declare function auditRls(orm: MikroORM): Promise<AuditFinding[]>;
/**
 * {@link auditRls}, with the database and role it ran as: `describeAuditTarget(report.target)` gives the
 * lines `mikro-orm-rls audit` prints first, which say when that role is not a plain application role.
 * Read-only, in one transaction.
 *
 * @example
 * const { target, findings } = await auditRlsReport(orm);
 * console.log(describeAuditTarget(target).join('\n'));
 * if (findings.length > 0) process.exitCode = 1;
 *
 * @throws {RlsConfigurationError} when the ORM was not set up with `withRls`.
 */
export declare function auditRlsReport(orm: MikroORM): Promise<AuditReport>;
/**
 * The policy explorer's data, what `npx mikro-orm-rls policies` prints: per table with declared policies
 * (schema, name, entity), ENABLE/FORCE, and per command (select, insert, update, delete) the policies that
 * apply (name, permissive or restrictive, roles, USING, WITH CHECK, from a FOR ALL or not) and what they
 * add up to (`allowed`, `restricted`, `refused`, or `unprotected` without row level security); the
 * warnings, worded as the audit words them (writes without SELECT, FOR ALL widening SELECT, tables without
 * row level security that reference RLS tables, policies that read no context variable); with `live`, the
 * database's side too and where it differs from the declarations. Plain JSON-safe data. Read-only, in one
 * transaction of the ORM's connection (or of the given entity manager's).
 *
 * @example
 * const map = await describePolicies(orm, { live: true });
 * for (const table of map.tables) {
 *   const cells = (table.live ?? table.declared).commands.map((c) => `${c.command}: ${c.state}`);
 *   console.log(`${table.schema}.${table.name} (${table.entity})`, cells.join(', '));
 *   for (const d of table.differences) console.log(`  ${d.kind}: ${d.message}`);
 * }
 *
 * @throws {RlsConfigurationError} when the ORM was not set up with `withRls`.
 */
export declare function describePolicies(orm: MikroORM | EntityManager, options?: DescribePoliciesOptions): Promise<PolicyMap>;
