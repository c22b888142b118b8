import { normalizeCommands, type Command } from './command';
import type { ConditionArg } from './condition-arg';
import { column, sql, SqlExpression } from './sql';
import { RlsDeclarationError } from '../errors/rls-declaration-error';

/**
 * One typed reference per condition arg, in declaration order, as passed to `customExpr` and `withCheck`.
 *
 * @example
 * const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
 * const args = [accountId] as const;
 * const ownRows = (...[id]: ConditionRefs<typeof args>) => sql`${column('owner_id')} = ${id}`;
 * Permissive({ conditionArgs: args, cmd: Command.select, customExpr: ownRows });
 */
export type ConditionRefs<Args extends readonly ConditionArg[]> = { [K in keyof Args]: SqlExpression };

/**
 * What {@link Permissive} and {@link Restrictive} take.
 *
 * @example
 * const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
 * const ownUnlocked: PolicyOptions = {
 *   conditionArgs: [accountId],
 *   cmd: Command.update,
 *   customExpr: (id) => sql`${column('owner_id')} = ${id}`,
 *   withCheck: (id) => sql`${column('owner_id')} = ${id} and ${column('locked')} = false`,
 *   customPolicyName: 'own_unlocked',
 *   to: 'app_user',
 * };
 * Permissive(ownUnlocked);
 * // On table "item":
 * // create policy "own_unlocked_update" on "public"."item" as permissive for update to "app_user" using ("owner_id" = (select nullif(current_setting('rls.account_id', true), '')::integer)) with check ("owner_id" = (select nullif(current_setting('rls.account_id', true), '')::integer) and "locked" = false)
 */
export interface PolicyOptions<Args extends readonly ConditionArg[] = readonly ConditionArg[]> {
  /** The context variables the expression reads. */
  readonly conditionArgs?: Args;
  /** One command or several; each becomes its own PostgreSQL policy. */
  readonly cmd: Command | readonly Command[];
  /**
   * The row filter (USING, and WITH CHECK unless `withCheck` is given). Receives one reference per
   * condition arg. Default: every condition arg's column equals its variable, AND-ed.
   */
  readonly customExpr?: (...refs: ConditionRefs<Args>) => SqlExpression;
  /** A separate WITH CHECK expression for INSERT, UPDATE and ALL policies. */
  readonly withCheck?: (...refs: ConditionRefs<Args>) => SqlExpression;
  /** Base of the PostgreSQL policy name; the command is appended (`<name>_select`). */
  readonly customPolicyName?: string;
  /** Roles the policy applies to. Default: PUBLIC. */
  readonly to?: string | readonly string[];
}

/**
 * PostgreSQL's `AS PERMISSIVE` or `AS RESTRICTIVE`: a row must pass at least one permissive policy of
 * the command and every restrictive one.
 *
 * @example
 * const kind: PolicyKind = tenant.kind; // 'permissive' for Permissive(...), 'restrictive' for Restrictive(...)
 */
export type PolicyKind = 'permissive' | 'restrictive';

/**
 * A declared policy: plain, frozen data with its expressions already built. Made by {@link Permissive}
 * or {@link Restrictive}; rendered to SQL when `withRls` compiles the entities.
 *
 * @example
 * const policy: Policy = Permissive({ conditionArgs: [ConditionArg({ comparatorName: 'account_id', type: 'integer' })], cmd: Command.all });
 * policy.commands; // ['all']
 * policy.roles; // ['public']
 */
export interface Policy {
  readonly kind: PolicyKind;
  readonly conditionArgs: readonly ConditionArg[];
  readonly commands: readonly Command[];
  readonly using: SqlExpression;
  /** Only set when declared separately from `using`. */
  readonly withCheck?: SqlExpression;
  readonly customPolicyName?: string;
  readonly roles: readonly string[];
}

function conditionRef(arg: ConditionArg): SqlExpression {
  return new SqlExpression([{ kind: 'condition', arg }]);
}

function defaultExpression(args: readonly ConditionArg[]): SqlExpression {
  return args
    .map((arg) => sql`${column(arg.comparatorName)} = ${conditionRef(arg)}`)
    .reduce((left, right) => sql`${left} and ${right}`);
}

function callExpression(fn: (...refs: SqlExpression[]) => SqlExpression, args: readonly ConditionArg[], what: string): SqlExpression {
  const result = fn(...args.map(conditionRef));
  if (!(result instanceof SqlExpression)) {
    throw new RlsDeclarationError(`${what} must return a sql\`...\` expression, e.g. (id) => sql\`\${column('owner_id')} = \${id}\`.`);
  }
  return result;
}

function normalizeRoles(to: string | readonly string[] | undefined, where: string): string[] {
  const roles = to === undefined ? ['public'] : typeof to === 'string' ? [to] : [...to];
  if (roles.length === 0 || roles.some((r) => typeof r !== 'string' || r.length === 0 || r.includes('\0'))) {
    throw new RlsDeclarationError(`${where}: \`to\` must name one or more roles (or 'public').`);
  }
  return roles.map((r) => (r.toLowerCase() === 'public' ? 'public' : r));
}

/**
 * An arg the expressions never read would make the policy the same for every context value, which is
 * never what declaring it meant (typically a customExpr that forgot a parameter).
 */
function refuseUnusedArgs(args: readonly ConditionArg[], expressions: readonly (SqlExpression | undefined)[], where: string): void {
  const used = new Set(expressions.flatMap((e) => e?.parts ?? []).flatMap((p) => (p.kind === 'condition' ? [p.arg.comparatorName] : [])));
  for (const arg of args) {
    if (!used.has(arg.comparatorName)) {
      throw new RlsDeclarationError(
        `${where}: condition arg "${arg.comparatorName}" is declared but its expressions never use it, so the policy would ` +
          'be the same whatever its value. Use the reference customExpr receives for it, or remove it from conditionArgs.',
      );
    }
  }
}

function definePolicy<Args extends readonly ConditionArg[]>(kind: PolicyKind, options: PolicyOptions<Args>): Policy {
  const where = options?.customPolicyName ? `${kind} policy "${options.customPolicyName}"` : `${kind} policy`;
  const conditionArgs = [...(options.conditionArgs ?? [])];
  const commands = normalizeCommands(options.cmd, where);
  if (!options.customExpr && conditionArgs.length === 0) {
    throw new RlsDeclarationError(`${where}: give conditionArgs, a customExpr, or both; a policy needs a condition.`);
  }
  if (options.withCheck && commands.every((c) => c === 'select' || c === 'delete')) {
    throw new RlsDeclarationError(`${where}: withCheck applies to insert, update and all; PostgreSQL rejects it on ${commands.join('/')} policies.`);
  }
  const name = options.customPolicyName;
  if (name !== undefined && (typeof name !== 'string' || name.length === 0 || name.includes('\0'))) {
    throw new RlsDeclarationError(`${where}: customPolicyName must be a non-empty string.`);
  }
  const using = options.customExpr
    ? callExpression(options.customExpr as never, conditionArgs, `${where}: customExpr`)
    : defaultExpression(conditionArgs);
  const withCheck = options.withCheck
    ? callExpression(options.withCheck as never, conditionArgs, `${where}: withCheck`)
    : undefined;
  refuseUnusedArgs(conditionArgs, [using, withCheck], where);
  return Object.freeze({
    kind,
    conditionArgs: Object.freeze(conditionArgs),
    commands: Object.freeze(commands),
    using,
    ...(withCheck ? { withCheck } : {}),
    ...(name !== undefined ? { customPolicyName: name } : {}),
    roles: Object.freeze(normalizeRoles(options.to, where)),
  });
}

/**
 * A permissive policy: a row is allowed when any permissive policy for the command allows it (and every
 * restrictive one). Without `customExpr`, each condition arg's column (named like the arg) must equal it.
 *
 * @example
 * const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
 * const own = Permissive({
 *   conditionArgs: [accountId],
 *   cmd: [Command.select, Command.update],
 *   customExpr: (id) => sql`${column('owner_id')} = ${id}`,
 * });
 * // As the first policy of entity Item (table "item"), with the default prefix `rls`:
 * // create policy "item_permissive_1_select" on "public"."item" as permissive for select to public using ("owner_id" = (select nullif(current_setting('rls.account_id', true), '')::integer))
 * // create policy "item_permissive_1_update" on "public"."item" as permissive for update to public using ("owner_id" = (select nullif(current_setting('rls.account_id', true), '')::integer)) with check ("owner_id" = (select nullif(current_setting('rls.account_id', true), '')::integer))
 *
 * @throws {RlsDeclarationError} when the declaration cannot mean what it says: no `cmd`, an unknown
 * or repeated command, neither condition args nor `customExpr`, a condition arg the expressions never
 * read, an expression that is not a `sql` fragment, `withCheck` on select/delete only, an empty
 * `customPolicyName` or role.
 */
export function Permissive<const Args extends readonly ConditionArg[]>(options: PolicyOptions<Args>): Policy {
  return definePolicy('permissive', options);
}

/**
 * A restrictive policy: every restrictive policy for the command must also allow the row, on top of at
 * least one permissive policy (restrictive policies alone let no row through).
 *
 * @example
 * const tenantId = ConditionArg({ comparatorName: 'tenant_id', type: 'uuid' });
 * const sameTenant = Restrictive({ conditionArgs: [tenantId], cmd: Command.all });
 * // As the second policy of entity Item (table "item"), the default expression compares the column named like the arg:
 * // create policy "item_restrictive_2_all" on "public"."item" as restrictive for all to public using ("tenant_id" = (select nullif(current_setting('rls.tenant_id', true), '')::uuid)) with check ("tenant_id" = (select nullif(current_setting('rls.tenant_id', true), '')::uuid))
 *
 * @throws {RlsDeclarationError} for the declarations {@link Permissive} refuses.
 */
export function Restrictive<const Args extends readonly ConditionArg[]>(options: PolicyOptions<Args>): Policy {
  return definePolicy('restrictive', options);
}
