import type { ConditionArg } from './condition-arg';
import { RlsDeclarationError } from '../errors/rls-declaration-error';

/**
 * One piece of a policy expression. Only these kinds exist, so user code can never splice an
 * arbitrary JavaScript value into SQL by accident.
 */
export type SqlPart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'column'; readonly name: string }
  | { readonly kind: 'condition'; readonly arg: ConditionArg }
  | { readonly kind: 'literal'; readonly value: string | number | bigint | boolean };

/**
 * A SQL boolean expression (or a piece of one) built with the {@link sql} tag. Plain, immutable data:
 * it is turned into SQL text only when rendered against a table and a variable prefix. Fragments can be
 * kept in variables and combined.
 *
 * @example
 * const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
 * const notArchived: SqlExpression = sql`${column('archived_at')} is null`;
 * Permissive({ conditionArgs: [accountId], cmd: Command.select, customExpr: (id) => sql`${column('owner_id')} = ${id} and ${notArchived}` });
 * // create policy "item_permissive_1_select" on "public"."item" as permissive for select to public using ("owner_id" = (select nullif(current_setting('rls.account_id', true), '')::integer) and "archived_at" is null)
 */
export class SqlExpression {
  /** @internal */
  constructor(readonly parts: readonly SqlPart[]) {
    Object.freeze(parts);
    Object.freeze(this);
  }
}

/** Anything `sql` accepts between `${...}`: other expressions, `column(...)` and condition references. */
export type SqlValue = SqlExpression;

function describe(value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return `an object of type ${value.constructor?.name ?? 'Object'}`;
  return `the ${typeof value} ${String(value)}`;
}

function build(strings: readonly string[], values: readonly unknown[]): SqlExpression {
  const parts: SqlPart[] = [];
  strings.forEach((text, i) => {
    if (text) parts.push({ kind: 'text', text });
    if (i >= values.length) return;
    const value = values[i];
    if (!(value instanceof SqlExpression)) {
      throw new RlsDeclarationError(
        `sql\`...\` received ${describe(value)} at position ${i + 1}. Only column(...), the condition references ` +
          'passed to customExpr, and other sql`...` fragments may be interpolated. For a constant use ' +
          'sql.literal(value); for trusted SQL text use sql.raw(text).',
      );
    }
    parts.push(...value.parts);
  });
  return new SqlExpression(parts);
}

/**
 * Tagged template for policy expressions. The text between the `${...}` is SQL, written as is; only
 * {@link column}, the condition references `customExpr` receives and other `sql` fragments (including
 * {@link sql.literal} and {@link sql.raw}) may be interpolated, so no JavaScript value reaches the SQL
 * by accident.
 *
 * @example
 * const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
 * Permissive({
 *   conditionArgs: [accountId],
 *   cmd: Command.select,
 *   customExpr: (id) => sql`${column('owner_id')} = ${id} or ${column('shared')} = ${sql.literal(true)}`,
 * });
 * // create policy "item_permissive_1_select" on "public"."item" as permissive for select to public using ("owner_id" = (select nullif(current_setting('rls.account_id', true), '')::integer) or "shared" = true)
 *
 * @throws {RlsDeclarationError} when anything else is interpolated (a string, a number, `undefined`).
 */
export function sql(strings: TemplateStringsArray, ...values: SqlValue[]): SqlExpression {
  return build(strings, values);
}

/**
 * Trusted SQL text, inserted verbatim. Never pass request data here.
 *
 * @example
 * const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
 * Permissive({ conditionArgs: [accountId], cmd: Command.select, customExpr: (id) => sql`${column('owner_id')} = ${id} and ${column('starts_at')} <= ${sql.raw('now()')}` });
 * // create policy "item_permissive_1_select" on "public"."item" as permissive for select to public using ("owner_id" = (select nullif(current_setting('rls.account_id', true), '')::integer) and "starts_at" <= now())
 *
 * @throws {RlsDeclarationError} when `text` is not a string.
 */
sql.raw = (text: string): SqlExpression => {
  if (typeof text !== 'string') throw new RlsDeclarationError(`sql.raw() takes a string, got ${describe(text)}.`);
  return new SqlExpression([{ kind: 'text', text }]);
};

/**
 * A constant rendered as a quoted SQL literal (strings, finite numbers, bigints, booleans), written into
 * the policy's text.
 *
 * @example
 * const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
 * Permissive({ conditionArgs: [accountId], cmd: Command.select, customExpr: (id) => sql`${column('owner_id')} = ${id} and ${column('status')} <> ${sql.literal("won't ship")}` });
 * // create policy "item_permissive_1_select" on "public"."item" as permissive for select to public using ("owner_id" = (select nullif(current_setting('rls.account_id', true), '')::integer) and "status" <> 'won''t ship')
 *
 * @throws {RlsDeclarationError} for a string with a NUL character, a number that is not finite, or another type.
 */
sql.literal = (value: string | number | bigint | boolean): SqlExpression => {
  const ok =
    (typeof value === 'string' && !value.includes('\0')) ||
    (typeof value === 'number' && Number.isFinite(value)) ||
    typeof value === 'bigint' ||
    typeof value === 'boolean';
  if (!ok) {
    throw new RlsDeclarationError(
      `sql.literal() takes a string without NUL characters, a finite number, a bigint or a boolean; got ${describe(value)}.`,
    );
  }
  return new SqlExpression([{ kind: 'literal', value }]);
};

/**
 * A column of the table the policy is declared on, by its database name (not the property name). Always
 * quoted when rendered, as given; checked against the entity's columns when the ORM starts (an unknown
 * column is an {@link RlsDeclarationError} from `MikroORM.init`).
 *
 * @example
 * Permissive({ cmd: Command.select, customExpr: () => sql`${column('publishedAt')} is not null` });
 * // create policy "item_permissive_1_select" on "public"."item" as permissive for select to public using ("publishedAt" is not null)
 *
 * @throws {RlsDeclarationError} when `name` is empty, not a string, or contains a NUL character.
 */
export function column(name: string): SqlExpression {
  if (typeof name !== 'string' || name.length === 0 || name.includes('\0')) {
    throw new RlsDeclarationError(`column() takes a non-empty column name, got ${describe(name)}.`);
  }
  return new SqlExpression([{ kind: 'column', name }]);
}
