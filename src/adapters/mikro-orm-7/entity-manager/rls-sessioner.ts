import { RlsSessioner as CoreRlsSessioner } from '../../../core/sessioner/rls-sessioner';
import type { RlsEntityManager } from './rls-entity-manager';

/**
 * Hands out RLS-scoped entity managers built from a context getter: the counterpart of the Python
 * package's `RlsSessioner`; the framework integrations are built on it. The core sessioner, typed with
 * this major's `RlsEntityManager`, so that the managers it hands out have MikroORM 7's whole API.
 *
 * @example
 * const sessioner = new RlsSessioner(orm, (accountId: number) => ({ account_id: accountId }));
 * const items = await sessioner.run([42], (em) => em.find(Item, {}));
 *
 * @throws {RlsConfigurationError} from the constructor, for an ORM not set up with `withRls`.
 * @throws {RlsMissingContextError} from `fork` and `run` when the getter returns nothing.
 * @throws {RlsContextError} from `fork` and `run` when what it returns fails the context schema.
 */
export class RlsSessioner<Args extends unknown[], Context extends object> extends CoreRlsSessioner<Args, Context, RlsEntityManager<Context>> {}
