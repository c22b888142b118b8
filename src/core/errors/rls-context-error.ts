import { RlsError } from './rls-error';

/**
 * A context handed to `forkWithRls` (or built by a sessioner's or middleware's context getter) failed
 * validation against the context schema. No SQL was sent. The framework integrations answer it with 401
 * (or their `status`).
 *
 * @example
 * try {
 *   orm.em.forkWithRls({ account_id: 'not a number' as never });
 * } catch (error) {
 *   if (error instanceof RlsContextError) console.warn(error.problems); // e.g. ['account_id: Invalid input: expected number, received string']
 *   throw error;
 * }
 */
export class RlsContextError extends RlsError {
  /** Always `'RLS_CONTEXT_INVALID'`. */
  readonly rlsCode = 'RLS_CONTEXT_INVALID';

  constructor(
    /** One entry per bad field, e.g. `account_id: expected an integer, received string`. */
    readonly problems: readonly string[],
  ) {
    super(`Invalid RLS context; no query was run. ${problems.join('; ')}.`);
  }
}
