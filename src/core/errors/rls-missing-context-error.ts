import { RlsError } from './rls-error';

/** The context getter produced nothing: there is no caller to scope to. No SQL was sent. */
export class RlsMissingContextError extends RlsError {
  readonly rlsCode = 'RLS_CONTEXT_MISSING';

  constructor() {
    super('No RLS context could be built for this call (the context getter returned nothing); no query was run.');
  }
}
