import { RlsError } from './rls-error';

/**
 * The ORM or the database is not set up the way a call needs; the message says what to change. Examples:
 * `bypassRls()` without a `bypassRole`, a scoped query on a connection whose role is a superuser, has
 * BYPASSRLS or owns an RLS table without FORCE (with `strict`, the default), `createPolicies` before the
 * tables exist, a context schema without a field the policies read, an ORM not set up with `withRls`.
 *
 * @example
 * try {
 *   await orm.em.bypassRls((admin) => admin.count(Item));
 * } catch (error) {
 *   if (error instanceof RlsConfigurationError) console.error(error.message); // e.g. "bypassRls() needs a bypass role. ..."
 *   throw error;
 * }
 */
export class RlsConfigurationError extends RlsError {
  /** `'RLS_CONFIGURATION'` (`'RLS_ADAPTER_ASSUMPTION'` on the {@link RlsAdapterAssumptionError} subclass). */
  readonly rlsCode: 'RLS_CONFIGURATION' | 'RLS_ADAPTER_ASSUMPTION' = 'RLS_CONFIGURATION';
}
