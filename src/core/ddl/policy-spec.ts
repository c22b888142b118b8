import type { Command } from '../policy/command';
import type { TableRef } from './quote';

/**
 * One PostgreSQL policy, fully rendered: what `CREATE POLICY` will say. Plain JSON-safe data, so it can
 * be compared with the catalog, stored in a snapshot and printed in a migration.
 *
 * @example
 * // The select policy of Permissive({ conditionArgs: [accountId], cmd: Command.select }) on table "item":
 * const spec: PolicySpec = {
 *   name: 'item_permissive_1_select',
 *   permissive: true,
 *   command: 'select',
 *   roles: ['public'],
 *   using: `"account_id" = (select nullif(current_setting('rls.account_id', true), '')::integer)`,
 *   withCheck: null,
 * };
 */
export interface PolicySpec {
  /** The PostgreSQL policy name, at most 63 bytes. */
  readonly name: string;
  readonly permissive: boolean;
  readonly command: Command;
  /** Role names, or `public`. */
  readonly roles: readonly string[];
  /** USING expression (SELECT, UPDATE, DELETE, ALL), else null. */
  readonly using: string | null;
  /** WITH CHECK expression (INSERT, UPDATE, ALL), else null. */
  readonly withCheck: string | null;
  /**
   * When `roles`, `using` and `withCheck` hold PostgreSQL's canonical form (for comparing), the text this
   * package rendered from the declaration. Statements prefer it: it means the same and reads like the code.
   */
  readonly rendered?: Pick<PolicySpec, 'roles' | 'using' | 'withCheck'>;
}

/**
 * The RLS state one table should have: RLS enabled, FORCE or not, and its policies.
 *
 * @example
 * const declared = (spec: TableRlsSpec) => `${spec.table.schema}.${spec.table.name}: ${spec.policies.map((p) => p.name).join(', ')}`;
 */
export interface TableRlsSpec {
  readonly table: TableRef;
  /** `FORCE ROW LEVEL SECURITY`, so the table owner is subject to the policies too. */
  readonly force: boolean;
  readonly policies: readonly PolicySpec[];
  /**
   * Names of `policies` declared with MikroORM 7's native `policies` option, which MikroORM's own schema
   * commands create under the same names: a live policy of one of these names that this package did not
   * create is taken over (its managed-by comment written, the way down restoring the old one) rather than
   * refused as hand-written, so a project on native RLS adopts this package without dropping its policies.
   */
  readonly adoptable?: readonly string[];
}

export function usesUsing(command: Command): boolean {
  return command !== 'insert';
}

export function usesWithCheck(command: Command): boolean {
  return command === 'insert' || command === 'update' || command === 'all';
}
