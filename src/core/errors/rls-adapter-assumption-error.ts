import { RlsConfigurationError } from './rls-configuration-error';

/**
 * An internal of MikroORM (or of the query builder or driver under it) that the adapter relies on is not
 * what it expects (a release changed it), so `withRls` refuses to start (or a fork refuses to be made)
 * rather than leave a query path unscoped or policies out of migrations. The message names the
 * assumption; pin the versions this package supports. An {@link RlsConfigurationError}, so code that
 * handles those handles it too.
 *
 * @example
 * try {
 *   await MikroORM.init(withRls(config));
 * } catch (error) {
 *   if (error instanceof RlsAdapterAssumptionError) console.error(`Unsupported MikroORM install: ${error.assumption}`);
 *   throw error;
 * }
 */
export class RlsAdapterAssumptionError extends RlsConfigurationError {
  /** Always `'RLS_ADAPTER_ASSUMPTION'`. */
  override readonly rlsCode = 'RLS_ADAPTER_ASSUMPTION';

  constructor(
    /** The assumption that broke, e.g. `the SQL driver has a connection getter`. */
    readonly assumption: string,
    detail: string,
  ) {
    super(`mikro-orm-rls cannot run on this MikroORM install: it relies on ${assumption}, but ${detail}. Use the MikroORM version this release supports (see the README's Install section), or report it.`);
  }
}
