import type { Policy } from '../policy/policy';
import type { RlsEntityOptions } from './rls-entity-options';
import { RlsDeclarationError } from '../errors/rls-declaration-error';

// Keyed by class, not stored on metadata: MikroORM's metadata cache serialises metadata to JSON and
// would lose the policies' expressions, while this registry lives as long as the classes do.
const declared = new WeakMap<object, RlsEntityOptions>();

/**
 * Declares row-level security policies on a decorator-based entity. Subclasses inherit them.
 *
 * @example
 * @Rls({ policies: [Permissive({ conditionArgs: [accountId], cmd: Command.all, customExpr: (id) => sql`${column('owner_id')} = ${id}` })] })
 * @Entity()
 * class Item { ... }
 */
export function Rls(options: RlsEntityOptions | readonly Policy[]) {
  const normalized: RlsEntityOptions = Array.isArray(options) ? { policies: options as readonly Policy[] } : (options as RlsEntityOptions);
  if (!normalized || !Array.isArray(normalized.policies)) {
    throw new RlsDeclarationError('@Rls() takes { policies: [...] } or an array of policies.');
  }
  return (target: abstract new (...args: never[]) => unknown): void => {
    declared.set(target, normalized);
  };
}

/** The options declared with {@link Rls} on exactly this class (not its parents). */
export function declaredOnClass(target: unknown): RlsEntityOptions | undefined {
  return typeof target === 'function' ? declared.get(target) : undefined;
}
