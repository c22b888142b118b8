import type { TableRef } from '../ddl/quote';

/**
 * One step towards the desired state, with the statements that undo it exactly: what
 * {@link createPolicies} and {@link dropPolicies} return, and what migrations are written from.
 *
 * @example
 * const operations: RlsOperation[] = await createPolicies(orm);
 * for (const op of operations) console.log(`${op.table.name}: ${op.description}`, op.up, op.down);
 * // item: force row level security [ 'alter table "public"."item" force row level security' ] [ 'alter table "public"."item" no force row level security' ]
 */
export interface RlsOperation {
  readonly table: TableRef;
  /** Short human description, e.g. `create policy items_owner_select`. */
  readonly description: string;
  readonly up: readonly string[];
  /** Run in order to restore the state before `up`. */
  readonly down: readonly string[];
}
