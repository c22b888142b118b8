import type { Knex } from 'knex';

/** What a fork's transactions are opened with: a validated context, or a switch to the bypass role. */
export type RlsScope =
  | {
      readonly kind: 'context';
      /** The single `select set_config(...)` statement, compiled at start-up. */
      readonly statement: string;
      readonly values: readonly string[];
      readonly context: Readonly<Record<string, unknown>>;
    }
  | { readonly kind: 'bypass'; readonly role: string };

// The role name is bound, not spliced; `is_local = true` ends the switch with the transaction.
const SWITCH_ROLE = "select set_config('role', ?, true)";

/** Runs the scope's one statement inside a freshly begun transaction. */
export async function applyScope(trx: Knex.Transaction, scope: RlsScope): Promise<void> {
  if (scope.kind === 'bypass') {
    await trx.raw(SWITCH_ROLE, [scope.role]);
  } else if (scope.statement) {
    await trx.raw(scope.statement, scope.values as string[]);
  }
}
