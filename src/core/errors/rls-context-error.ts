import { RlsError } from './rls-error';

/** A context handed to `forkWithRls` (or a middleware) failed validation. No SQL was sent. */
export class RlsContextError extends RlsError {
  readonly rlsCode = 'RLS_CONTEXT_INVALID';

  constructor(
    /** One entry per bad field, e.g. `account_id: expected an integer, received string`. */
    readonly problems: readonly string[],
  ) {
    super(`Invalid RLS context; no query was run. ${problems.join('; ')}.`);
  }
}
