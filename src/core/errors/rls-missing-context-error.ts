import { RlsError } from './rls-error';

/**
 * The context getter of an {@link RlsSessioner} (or of a framework integration) returned `undefined` or
 * `null`: there is no caller to scope to. No SQL was sent. The integrations answer it with 401 (or their
 * `status`).
 *
 * @example
 * const sessioner = new RlsSessioner(orm, (accountId?: number) => (accountId === undefined ? undefined : { account_id: accountId }));
 * await sessioner.fork(undefined).catch((error) => {
 *   if (error instanceof RlsMissingContextError) return undefined; // nobody to scope to: answer 401
 *   throw error;
 * });
 */
export class RlsMissingContextError extends RlsError {
  /** Always `'RLS_CONTEXT_MISSING'`. */
  readonly rlsCode = 'RLS_CONTEXT_MISSING';

  constructor() {
    super('No RLS context could be built for this call (the context getter returned nothing); no query was run.');
  }
}
