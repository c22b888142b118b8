import type { Configuration, EntityMetadata, MetadataStorage } from '@mikro-orm/core';
import { ContextCodec } from '../context/context-codec';
import { deriveContextSchema, type ContextSchema } from '../context/context-schema';
import type { TableRlsSpec } from '../ddl/policy-spec';
import type { TableRef } from '../ddl/quote';
import { collectTableSpecs } from '../entity/collect-table-specs';
import { VARIABLE_NAME } from '../policy/condition-arg';
import { RlsConfigurationError } from '../errors/rls-configuration-error';

/**
 * The second argument of {@link withRls}.
 *
 * @example
 * const rls: RlsOptions = {
 *   context: z.object({ account_id: z.number().int(), role: z.enum(['member', 'admin']) }),
 *   prefix: 'app',
 *   bypassRole: 'app_bypass',
 *   refuseInvisibleWrites: true,
 * };
 * const orm = await MikroORM.init(withRls(config, rls));
 */
export interface RlsOptions<Schema extends ContextSchema | undefined = ContextSchema | undefined> {
  /**
   * Schema of the request context (zod 3 or 4 `z.object`). Its fields become the session variables.
   * Default: one required field per condition arg, typed from the policies, unknown fields rejected.
   */
  readonly context?: Schema;
  /** Prefix of the session variables (`<prefix>.<field>`). Default `rls`. */
  readonly prefix?: string;
  /**
   * A role with BYPASSRLS that the application role is a member of; `em.bypassRls()` switches to it for
   * one transaction at a time. Without it, `bypassRls()` throws.
   */
  readonly bypassRole?: string;
  /**
   * Manage every policy on the entities' tables, not only those this package created: undeclared ones are
   * dropped, same-named ones replaced. Default `false`: hand-written policies are left alone.
   */
  readonly manageAllPolicies?: boolean;
  /**
   * Check, before the first scoped query (`forkWithRls`, `bypassRls`) on each connection (primary and
   * read replicas), that the role the ORM connects as is subject to RLS: not a superuser, not BYPASSRLS,
   * and without the privileges of the owner of an RLS table that lacks FORCE ROW LEVEL SECURITY. Scoped
   * queries are refused with {@link RlsConfigurationError} otherwise. One query, once per connection.
   * Default `true`; `false` skips the check (for deliberate unisolated use, such as a test as superuser).
   */
  readonly strict?: boolean;
  /**
   * Make a flush of a scoped fork throw {@link RlsInvisibleRowError} when an UPDATE or DELETE of an
   * entity reaches fewer rows than it names: the row is not visible to the fork's scope (an entity of
   * another tenant, merged or referenced into this fork), or it no longer exists. The flush's
   * transaction is rolled back. Default `false`, as in MikroORM, where such a write changes nothing
   * silently: a row deleted concurrently, a BEFORE trigger that skips the row, or a row the database
   * already removed by `ON DELETE CASCADE` also reach no row, and would throw too. `em.nativeUpdate()`
   * and `em.nativeDelete()` are never affected (matching nothing is normal there).
   */
  readonly refuseInvisibleWrites?: boolean;
}

/**
 * Everything the runtime needs, compiled once: stored in the ORM configuration under `rls` (a class
 * instance, so MikroORM keeps the reference instead of deep-copying it).
 */
export class RlsSettings {
  readonly prefix: string;
  readonly bypassRole?: string;
  readonly manageAllPolicies: boolean;
  readonly strict: boolean;
  readonly refuseInvisibleWrites: boolean;
  /** Every entity discovery saw, abstract bases included (the final storage drops those). */
  private readonly discovered = new Map<string, EntityMetadata>();
  private compiled?: { tables: readonly TableRlsSpec[]; entityTables: readonly TableRef[]; optedOutPivotTables: readonly TableRef[]; codec: ContextCodec };

  constructor(private readonly options: RlsOptions) {
    this.prefix = options.prefix ?? 'rls';
    if (!VARIABLE_NAME.test(this.prefix)) {
      throw new RlsConfigurationError(`withRls: prefix ${JSON.stringify(options.prefix)} must be a lower-case identifier such as "rls".`);
    }
    if (options.bypassRole !== undefined && (typeof options.bypassRole !== 'string' || options.bypassRole.length === 0 || options.bypassRole.includes('\0'))) {
      throw new RlsConfigurationError('withRls: bypassRole must be the name of a role.');
    }
    this.bypassRole = options.bypassRole;
    this.manageAllPolicies = options.manageAllPolicies === true;
    this.strict = options.strict !== false;
    this.refuseInvisibleWrites = options.refuseInvisibleWrites === true;
  }

  /** Called by discovery for each entity, before the storage is built. */
  remember(meta: EntityMetadata): void {
    this.discovered.set(meta.className, meta);
  }

  /** Called right after entity discovery: renders every policy and compiles the context statement. */
  compile(storage: MetadataStorage, defaultSchema: string): void {
    const lookup = (name: string) => this.discovered.get(name);
    const { tables, entityTables, variables, optedOutPivotTables } = collectTableSpecs(storage, { prefix: this.prefix, defaultSchema, lookup });
    this.discovered.clear();
    const schema = this.options.context ?? deriveContextSchema(variables);
    const missing = [...variables.keys()].filter((name) => !(name in schema.shape));
    if (missing.length > 0) {
      throw new RlsConfigurationError(
        `withRls: the policies read ${missing.map((m) => `"${m}"`).join(', ')} but the context schema has no such field. ` +
          'Add the field(s) to the schema given as `context`.',
      );
    }
    this.compiled = { tables, entityTables, optedOutPivotTables, codec: new ContextCodec(schema, variables, this.prefix) };
  }

  /** Whether discovery has compiled the declarations yet (before, the context and tables are unknown). */
  get isCompiled(): boolean {
    return this.compiled !== undefined;
  }

  private get ready() {
    if (!this.compiled) {
      throw new RlsConfigurationError('mikro-orm-rls has not seen the entities yet: call this after MikroORM.init(withRls(...)).');
    }
    return this.compiled;
  }

  /** The declared RLS state of every table with policies. */
  get tables(): readonly TableRlsSpec[] {
    return this.ready.tables;
  }

  /** Every entity table, with or without policies. */
  get entityTables(): readonly TableRef[] {
    return this.ready.entityTables;
  }

  /** Pivot tables of RLS entities left without policies on purpose (`rls.pivotTables`). */
  get optedOutPivotTables(): readonly TableRef[] {
    return this.ready.optedOutPivotTables;
  }

  get codec(): ContextCodec {
    return this.ready.codec;
  }
}

declare module '@mikro-orm/core' {
  interface MikroORMOptions {
    /** Set by `withRls()`; do not set by hand. */
    rls?: RlsSettings;
  }
}

export function rlsSettingsOf(config: Configuration): RlsSettings {
  // Read structurally: the option is declared on MikroORM 6's MikroORMOptions, which MikroORM 7 does not have.
  const settings = (config as unknown as { get(key: 'rls'): unknown }).get('rls');
  if (!(settings instanceof RlsSettings)) {
    throw new RlsConfigurationError(
      'This ORM was not configured for row-level security. Wrap its options: MikroORM.init(withRls(options, { ... })).',
    );
  }
  return settings;
}
