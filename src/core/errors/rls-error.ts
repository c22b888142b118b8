/**
 * The stable codes of mikro-orm-rls's errors, one per class. Match on `rlsCode` (or `instanceof`) rather
 * than on messages, which may be reworded.
 *
 * @example
 * function statusOf(error: RlsError): number {
 *   const byCode: Partial<Record<RlsErrorCode, number>> = { RLS_CONTEXT_INVALID: 401, RLS_CONTEXT_MISSING: 401, RLS_VIOLATION: 403, RLS_INVISIBLE_ROW: 404 };
 *   return byCode[error.rlsCode] ?? 500;
 * }
 */
export type RlsErrorCode =
  | 'RLS_DECLARATION'
  | 'RLS_CONFIGURATION'
  | 'RLS_ADAPTER_ASSUMPTION'
  | 'RLS_CONTEXT_INVALID'
  | 'RLS_CONTEXT_MISSING'
  | 'RLS_SCOPE_ESCAPE'
  | 'RLS_TRANSACTION_START'
  | 'RLS_VIOLATION'
  | 'RLS_INVISIBLE_ROW';

// Errors of a statement (a policy violation, a refused statement) extend MikroORM's exceptions, as every
// statement error does, so they cannot also extend RlsError: they carry this brand, which makes
// `instanceof RlsError` true for them too. `Symbol.for`, so that two copies of the package agree.
const RLS_ERROR = Symbol.for('mikro-orm-rls.error');

/** Marks an error of another class hierarchy as one of this package's (see {@link RlsError}). */
export function brandRlsError(error: Error, code: RlsErrorCode): void {
  Object.defineProperty(error, RLS_ERROR, { value: true });
  Object.defineProperty(error, 'rlsCode', { value: code, enumerable: true });
}

/**
 * The base of every error this package throws: `error instanceof RlsError` holds for all of them,
 * including those that extend MikroORM's `DriverException` (violations, refused statements). Each has a
 * stable `rlsCode`; those that do not come from a statement also have it as `code` (on MikroORM's
 * exceptions `code` is PostgreSQL's SQLSTATE, so it is left alone there). `name` is the class's name.
 *
 * @example
 * try {
 *   await em.flush();
 * } catch (error) {
 *   if (error instanceof RlsError) console.warn(error.rlsCode, error.message); // e.g. RLS_VIOLATION
 *   throw error;
 * }
 */
export abstract class RlsError extends Error {
  /** This error's stable code. */
  abstract readonly rlsCode: RlsErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }

  /** The same as {@link rlsCode}, for errors that do not come from a statement. */
  get code(): RlsErrorCode {
    return this.rlsCode;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // Subclasses keep the ordinary prototype check; only RlsError itself also recognises the brand.
    if (this !== RlsError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (RLS_ERROR in value || Function.prototype[Symbol.hasInstance].call(RlsError, value));
  }
}
