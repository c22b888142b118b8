import { compileTablePolicies } from '../core/ddl/compile-policies';
import type { TableRlsSpec } from '../core/ddl/policy-spec';
import { tableLabel, type TableRef } from '../core/ddl/quote';
import { tableKey } from '../core/ddl/table-keys';
import { diffRls } from '../core/diff/diff-rls';
import type { RlsOperation } from '../core/diff/operation';
import { RlsConfigurationError } from '../core/errors/rls-configuration-error';
import { RlsDeclarationError } from '../core/errors/rls-declaration-error';
import type { Policy } from '../core/policy/policy';
import { rlsSettingsOf, type RlsSettings } from '../core/settings/rls-settings';

/**
 * The statements of one hand-written step and of its exact inverse, for `this.addSql(...)` in a
 * migration's `up()` and `down()`.
 *
 * @example
 * const step: RlsMigrationSql = rls.enableRls('note');
 * step.up;   // ['alter table "public"."note" enable row level security', 'alter table "public"."note" force row level security']
 * step.down; // ['alter table "public"."note" no force row level security', 'alter table "public"."note" disable row level security']
 */
export interface RlsMigrationSql {
  readonly up: readonly string[];
  /** Run in this order, they undo `up`. */
  readonly down: readonly string[];
}

/**
 * A table of the ORM's entities: its name in the default schema, or schema and name.
 *
 * @example
 * const notes: RlsMigrationTable = 'note';
 * const orders: RlsMigrationTable = { schema: 'tenant data', name: 'order' };
 */
export type RlsMigrationTable = string | TableRef;

/**
 * Where a policy without `customPolicyName` sits in its entity's `rls.policies`, which names it.
 *
 * @example
 * // rls: { policies: [ownNotes, ...] } on table "note": the first policy, named note_permissive_1_<command>
 * rls.createPolicy('note', ownNotes, { position: 1 });
 */
export interface RlsPolicyPlace {
  /**
   * The policy's place (1-based) in the entity's `rls.policies`: a policy without `customPolicyName` is
   * named after it (`<table>_<kind>_<position>_<command>`), as migrations generated from the entity name it.
   */
  readonly position?: number;
}

/**
 * Whether {@link RlsMigrationHelpers.enableRls} also forces RLS on the table's owner.
 *
 * @example
 * rls.enableRls('note', { force: false }).up; // ['alter table "public"."note" enable row level security']
 */
export interface RlsEnableOptions {
  /** FORCE ROW LEVEL SECURITY too, so the table owner is subject to the policies. Default `true`, as for entities. */
  readonly force?: boolean;
}

/**
 * What a migration's `this.config` is, on either MikroORM major: read structurally, as the migrator does.
 *
 * @example
 * class AddPolicies extends Migration {
 *   override async up() { const config: RlsMigrationConfig = this.config; for (const s of rlsMigration(config).enableRls('note').up) this.addSql(s); }
 * }
 */
export interface RlsMigrationConfig {
  get(key: never): unknown;
}

/**
 * Helpers for hand-written migrations, MikroORM's counterpart of the Python package's Alembic operations
 * (`op.create_policy`, `op.drop_policy`, `op.enable_rls`, `op.disable_rls`). Each returns the exact SQL
 * of a step and of its inverse, rendered by the code that renders generated migrations, with the ORM's
 * settings (context variable prefix, default schema): a hand-written migration that creates what an
 * entity declares leaves `migration:check` clean. Policies are marked as managed by this package, as
 * generated ones are, so later generated migrations alter and drop them.
 *
 * @example
 * class AddPolicies extends Migration {
 *   override async up() {
 *     const rls: RlsMigrationHelpers = rlsMigration(this.config);
 *     const step = rls.steps(rls.enableRls('note'), rls.createPolicy('note', ownNotes, { position: 1 }));
 *     for (const statement of step.up) this.addSql(statement);
 *   }
 * }
 */
export interface RlsMigrationHelpers {
  /** ENABLE (and FORCE) ROW LEVEL SECURITY; down turns them off again. */
  enableRls(table: RlsMigrationTable, options?: RlsEnableOptions): RlsMigrationSql;
  /** The inverse of {@link enableRls} with the same options. */
  disableRls(table: RlsMigrationTable, options?: RlsEnableOptions): RlsMigrationSql;
  /** CREATE POLICY for each of the policy's commands, plus the managed-by comment; down drops them. */
  createPolicy(table: RlsMigrationTable, policy: Policy, place?: RlsPolicyPlace): RlsMigrationSql;
  /** DROP POLICY for each of the policy's commands; down creates them again as declared. */
  dropPolicy(table: RlsMigrationTable, policy: Policy, place?: RlsPolicyPlace): RlsMigrationSql;
  /** Everything the entity of `table` declares (ENABLE, FORCE, every policy), from a table without RLS; down removes it. */
  declaredRls(table: RlsMigrationTable): RlsMigrationSql;
  /** Steps in order: up runs each step's up, down each step's down, last step first. */
  steps(...steps: readonly RlsMigrationSql[]): RlsMigrationSql;
}

const inverse = (step: RlsMigrationSql): RlsMigrationSql => ({ up: step.down, down: step.up });

/** Up in order; down undoes the last operation first, as a generated migration's way down does. */
/** Whether a value is a step the helpers made: SQL up and down, as arrays of strings. */
function isStep(value: unknown): value is RlsMigrationSql {
  const step = value as Partial<RlsMigrationSql> | null;
  const strings = (list: unknown) => Array.isArray(list) && list.every((sql) => typeof sql === 'string');
  return typeof step === 'object' && step !== null && strings(step.up) && strings(step.down);
}

function sequence(steps: readonly RlsMigrationSql[]): RlsMigrationSql {
  return { up: steps.flatMap((s) => s.up), down: [...steps].reverse().flatMap((s) => s.down) };
}

const fromOperations = (ops: readonly RlsOperation[]): RlsMigrationSql => sequence(ops);

function isPolicy(value: unknown): value is Policy {
  const p = value as Policy | undefined;
  return (
    typeof p === 'object' && p !== null && (p.kind === 'permissive' || p.kind === 'restrictive') &&
    Array.isArray(p.commands) && Array.isArray(p.roles) && Array.isArray(p.conditionArgs) && typeof p.using === 'object'
  );
}

class Helpers implements RlsMigrationHelpers {
  private readonly defaultSchema: string;

  constructor(private readonly settings: RlsSettings, defaultSchema: string) {
    this.defaultSchema = defaultSchema;
  }

  private table(table: RlsMigrationTable, what: string): TableRef {
    const ref = typeof table === 'string' ? { schema: this.defaultSchema, name: table } : table;
    if (typeof ref?.name !== 'string' || typeof ref.schema !== 'string') {
      throw new RlsDeclarationError(`${what}: the table must be a table name ('note') or { schema, name }, not ${JSON.stringify(table)}.`);
    }
    const known = this.settings.entityTables;
    if (!known.some((t) => tableKey(t) === tableKey(ref))) {
      throw new RlsConfigurationError(
        `${what}: ${tableLabel(ref)} is not a table of this ORM's entities, so migration:check could not see what the step does. ` +
          `The entity tables are: ${known.map(tableLabel).sort().join(', ') || '(none)'}. ` +
          `Name one of them (in another schema than "${this.defaultSchema}", as { schema, name }).`,
      );
    }
    return ref;
  }

  /** The policy rendered as an entity's policy at `position` would be (or under its customPolicyName). */
  private compiled(table: TableRef, policy: Policy, place: RlsPolicyPlace | undefined, what: string): TableRlsSpec {
    if (!isPolicy(policy)) {
      throw new RlsDeclarationError(`${what}: pass a policy made by Permissive({ ... }) or Restrictive({ ... }), not ${JSON.stringify(policy)}.`);
    }
    const position = place?.position;
    if (position !== undefined && !(Number.isInteger(position) && position >= 1)) {
      throw new RlsDeclarationError(`${what}: position must be the policy's 1-based place in the entity's rls.policies, not ${JSON.stringify(position)}.`);
    }
    if (policy.customPolicyName !== undefined && position !== undefined) {
      throw new RlsDeclarationError(
        `${what}: the policy is named by its customPolicyName ("${policy.customPolicyName}"), so { position: ${position} } would be ignored. Pass one or the other.`,
      );
    }
    if (policy.customPolicyName === undefined && position === undefined) {
      throw new RlsDeclarationError(
        `${what}: a policy without customPolicyName is named after its place in the entity's rls.policies ` +
          `("${table.name}_${policy.kind}_<position>_<command>"). Pass { position } (1 for the first policy), or give the policy a customPolicyName.`,
      );
    }
    const named = policy.customPolicyName === undefined ? { ...policy, customPolicyName: `${table.name}_${policy.kind}_${position}` } : policy;
    return compileTablePolicies(table, [named], { prefix: this.settings.prefix, force: false });
  }

  enableRls(table: RlsMigrationTable, options: RlsEnableOptions = {}): RlsMigrationSql {
    const ref = this.table(table, 'enableRls');
    return fromOperations(diffRls([{ table: ref, force: options.force ?? true, policies: [] }], []));
  }

  disableRls(table: RlsMigrationTable, options: RlsEnableOptions = {}): RlsMigrationSql {
    const ref = this.table(table, 'disableRls');
    return inverse(fromOperations(diffRls([{ table: ref, force: options.force ?? true, policies: [] }], [])));
  }

  createPolicy(table: RlsMigrationTable, policy: Policy, place?: RlsPolicyPlace): RlsMigrationSql {
    const ref = this.table(table, 'createPolicy');
    const spec = this.compiled(ref, policy, place, 'createPolicy');
    // Against a table whose RLS is already in the wanted state: only the policy operations remain.
    const state = { table: ref, enabled: true, forced: false, policies: [] };
    return fromOperations(diffRls([spec], [state]));
  }

  dropPolicy(table: RlsMigrationTable, policy: Policy, place?: RlsPolicyPlace): RlsMigrationSql {
    const ref = this.table(table, 'dropPolicy');
    const spec = this.compiled(ref, policy, place, 'dropPolicy');
    const state = { table: ref, enabled: true, forced: false, policies: [] };
    return inverse(fromOperations(diffRls([spec], [state])));
  }

  declaredRls(table: RlsMigrationTable): RlsMigrationSql {
    const ref = this.table(table, 'declaredRls');
    const spec = this.settings.tables.find((t) => tableKey(t.table) === tableKey(ref));
    if (!spec) {
      throw new RlsConfigurationError(`declaredRls: the entity of ${tableLabel(ref)} declares no policies. Declare them in its rls option first.`);
    }
    return fromOperations(diffRls([spec], []));
  }

  steps(...steps: readonly RlsMigrationSql[]): RlsMigrationSql {
    const wrong = steps.findIndex((step) => !isStep(step));
    if (wrong >= 0) {
      throw new RlsDeclarationError(
        `steps: argument ${wrong + 1} is ${JSON.stringify(steps[wrong])}, not a step. Pass what the helpers return (rls.enableRls(...), rls.createPolicy(...), ...); for SQL of your own, call this.addSql(...) around them.`,
      );
    }
    return sequence(steps);
  }
}

/**
 * The helpers for hand-written migrations, with the settings `withRls` gave the ORM that runs the
 * migration: pass the migration's `this.config`.
 *
 * @example
 * // A migration made with `npx mikro-orm migration:create --blank`:
 * export class Migration20260101000000 extends Migration {
 *   private rls(): RlsMigrationSql {
 *     const rls = rlsMigration(this.config);
 *     return rls.steps(rls.enableRls('note'), rls.createPolicy('note', ownNotes));
 *   }
 *   override async up() { for (const statement of this.rls().up) this.addSql(statement); }
 *   override async down() { for (const statement of this.rls().down) this.addSql(statement); }
 * }
 *
 * @throws {RlsConfigurationError} when the ORM was not configured with `withRls`.
 */
export function rlsMigration(config: RlsMigrationConfig): RlsMigrationHelpers {
  const settings = rlsSettingsOf(config as never);
  const schema = (config as unknown as { get(key: string): unknown }).get('schema');
  return new Helpers(settings, typeof schema === 'string' && schema.length > 0 ? schema : 'public');
}
