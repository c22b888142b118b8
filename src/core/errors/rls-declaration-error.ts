import { RlsError } from './rls-error';

/**
 * A policy, condition arg, `sql` fragment or entity declaration that cannot mean what it says (an unused
 * condition arg, an unknown column, two policies with one name, a table name PostgreSQL would truncate).
 * Thrown where it is declared or when `withRls` compiles the declarations; no SQL was sent.
 */
export class RlsDeclarationError extends RlsError {
  readonly rlsCode = 'RLS_DECLARATION';
}
