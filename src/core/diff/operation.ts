import type { TableRef } from '../ddl/quote';

/** One step towards the desired state, with the statements that undo it exactly. */
export interface RlsOperation {
  readonly table: TableRef;
  /** Short human description, e.g. `create policy items_owner_select`. */
  readonly description: string;
  readonly up: readonly string[];
  /** Run in order to restore the state before `up`. */
  readonly down: readonly string[];
}
