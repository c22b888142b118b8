// The declarations of the package's runtime exports (../installed-adapter-exports.js, the adapter of the
// installed MikroORM major), written once for both majors: they name only types that @mikro-orm/core and
// @mikro-orm/postgresql export on 6 and on 7, and declare no member whose signature differs between the
// majors (e.g. `tryCache`), so the same .d.ts compiles against whichever MikroORM the application has,
// with and without skipLibCheck. Each adapter's index is checked against it at compile time
// (src/adapters/mikro-orm-<major>/public-api-conformance.ts): an adapter that drifts from what is
// declared here fails `npm run typecheck`. Nothing here exists at run time.
import type { ConstraintViolationException, DriverException, ForkOptions, MikroORM, Options, TransactionPropagation } from '@mikro-orm/core';
import type { EntityManager as SqlEntityManager, PostgreSqlDriver } from '@mikro-orm/postgresql';
import type { AuditFinding } from '../../core/audit/audit-finding';
import type { AuditReport } from '../../core/audit/audit-report';
import type { RLS_ENTITY_MANAGER } from '../../core/adapter/rls-entity-manager-like';
import type { ContextSchema } from '../../core/context/context-schema';
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
 * starts with an empty identity map.
 */
export type RlsForkOptions = Omit<ForkOptions, 'disableContextResolution' | 'keepTransactionContext' | 'clear'>;

/** Options of `bypassRls(callback, options)`. */
export interface RlsBypassOptions {
  /**
   * `'requires_new'` (default): the callback runs in a transaction of its own. `'nested'`: in a savepoint
   * of the caller's transaction, switched to the bypass role for the callback only. Do not go on with a
   * transaction whose nested step failed.
   */
  readonly propagation?: TransactionPropagation.REQUIRES_NEW | TransactionPropagation.NESTED | 'requires_new' | 'nested';
}

/**
 * Wires row-level security into a MikroORM configuration: the RLS entity manager, the policy-aware schema
 * generator and migrator, the pool guard and the start-up checks (role, declarations, MikroORM internals).
 *
 * @example
 * const orm = await MikroORM.init(withRls(config, { context: z.object({ account_id: z.number().int() }), bypassRole: 'app_bypass' }));
 * const items = await orm.em.forkWithRls({ account_id: 42 }).find(Item, {});
 *
 * @throws {RlsConfigurationError} when `options.entityManager` is not RlsEntityManager (or a subclass),
 * or an option is malformed; from `MikroORM.init` when the context schema lacks a field the policies read.
 * @throws {RlsDeclarationError} from `MikroORM.init` when a declaration does not fit the entities.
 * @throws {RlsAdapterAssumptionError} when an internal of MikroORM the adapter relies on is not what it expects.
 */
export declare function withRls<Schema extends ContextSchema | undefined = undefined>(
  options: Options<PostgreSqlDriver>,
  rls?: RlsOptions<Schema>,
): Options<PostgreSqlDriver, RlsEntityManager<ContextOf<Schema>>>;

/**
 * The EntityManager installed by `withRls()`. `forkWithRls(ctx)` returns a fork whose every query runs
 * under the context's session variables; `bypassRls()` one whose transactions switch to the bypass role.
 * Forks of these forks, their `transactional()` forks and a `RequestContext` around them keep the scope.
 *
 * @example
 * const em: RlsEntityManager = orm.em;
 * const mine = await em.forkWithRls({ account_id: 42 }).find(Item, {});
 * const all = await em.bypassRls((admin) => admin.count(Item));
 */
export declare class RlsEntityManager<Context extends object = Record<string, unknown>> extends SqlEntityManager<PostgreSqlDriver> {
  constructor(...args: ConstructorParameters<typeof SqlEntityManager<PostgreSqlDriver>>);
  get [RLS_ENTITY_MANAGER](): true;
  /**
   * A fork scoped to `context` (validated against `withRls`'s context schema before any SQL).
   *
   * @throws {RlsContextError} for a context the schema refuses.
   */
  forkWithRls(context: Context, options?: RlsForkOptions): this;
  /** A fork whose transactions run as the bypass role (`withRls`'s `bypassRole`). */
  bypassRls(): this;
  /** Runs `callback` as the bypass role, in a transaction of its own or a savepoint (`options.propagation`). */
  bypassRls<T>(callback: (em: this) => T | Promise<T>, options?: RlsBypassOptions): Promise<T>;
  /** The validated context of a scoped fork; `undefined` on an unscoped or bypass manager. */
  get rlsContext(): Readonly<Context> | undefined;
  /** Whether this manager runs as the bypass role. */
  get isRlsBypassed(): boolean;
}

/** A write the policies refused (PostgreSQL's "new row violates row-level security policy"), with its table and command. */
export declare class RlsViolationError extends ConstraintViolationException {
  readonly rlsCode: 'RLS_VIOLATION' | 'RLS_INVISIBLE_ROW';
  readonly table: string;
  readonly command: string;
  constructor(previous: Error, table: string, command: string);
}

/** A flush that would update or delete a row the scope cannot see. */
export declare class RlsInvisibleRowError extends RlsViolationError {
  readonly entity: string;
  constructor(message: string, entity: string, table: string, command: string);
}

/**
 * SQL sent outside a transaction by a scoped fork left a transaction open (`BEGIN`, `START TRANSACTION`),
 * which would have carried the fork's context past the statement; it was rolled back.
 */
export declare class RlsScopeEscapeError extends DriverException {
  readonly sql: string;
  readonly rlsCode: 'RLS_SCOPE_ESCAPE';
  constructor(sql: string);
}

/** A statement of a scoped transaction refused because the transaction's first statement failed (`cause`). */
export declare class RlsTransactionStartError extends DriverException {
  readonly cause: unknown;
  readonly rlsCode: 'RLS_TRANSACTION_START';
  constructor(cause: unknown);
}

/** Hands out RLS-scoped entity managers built from a context getter (see the core `RlsSessioner`). */
export declare class RlsSessioner<Args extends unknown[], Context extends object> extends CoreRlsSessioner<Args, Context, RlsEntityManager<Context>> {}

/** Applies the declared policies to the database without migrations (as the owner); returns what it ran. */
export declare function createPolicies(orm: MikroORM): Promise<RlsOperation[]>;
/** Drops the declared policies and disables RLS on their tables; returns what it ran. */
export declare function dropPolicies(orm: MikroORM): Promise<RlsOperation[]>;
/** Compares the declarations with the database's catalog: one finding per difference or weakness. */
export declare function auditRls(orm: MikroORM): Promise<AuditFinding[]>;
/** `auditRls` with what was audited. */
export declare function auditRlsReport(orm: MikroORM): Promise<AuditReport>;
