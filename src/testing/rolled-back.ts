import type { EntityManager } from '@mikro-orm/core';

/** Thrown at the end of a check's transaction so that MikroORM rolls it back; never seen by a caller. */
class RollbackCheck extends Error {}

/** What a statement did inside a check: its result, or PostgreSQL's refusal. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: Error };

/**
 * Runs `work` in a transaction of `em` that is always rolled back, so a check leaves nothing behind and
 * can run against a shared test database. A refusal (an error `work` throws) is returned, not thrown.
 */
export async function rolledBack<T>(em: EntityManager, work: (tx: EntityManager) => Promise<T>): Promise<Outcome<T>> {
  let value: T | undefined;
  try {
    await em.transactional(async (tx) => {
      value = await work(tx);
      throw new RollbackCheck();
    });
  } catch (error) {
    if (error instanceof RollbackCheck) return { ok: true, value: value as T };
    return { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
  }
  // transactional() returned without the sentinel: only possible if MikroORM swallowed it.
  throw new Error('mikro-orm-rls/testing: the check\'s transaction was committed instead of rolled back; report this with your MikroORM version.');
}
