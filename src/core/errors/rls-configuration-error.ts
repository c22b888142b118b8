import { RlsError } from './rls-error';

/** The ORM or the database is not set up the way a call needs; the message says what to change. */
export class RlsConfigurationError extends RlsError {
  readonly rlsCode: 'RLS_CONFIGURATION' | 'RLS_ADAPTER_ASSUMPTION' = 'RLS_CONFIGURATION';
}
