import type { Queryable } from '../catalog/queryable';

/**
 * Runs `work` inside a savepoint that is rolled back after it, whether it succeeds or fails: whatever it
 * created is gone, and so are the locks it took (PostgreSQL releases a rolled-back subtransaction's
 * locks, not a released one's), which is what lets planning probe thousands of tables chunk by chunk.
 */
export async function inRolledBackSavepoint<T>(db: Queryable, name: string, work: () => Promise<T>): Promise<T> {
  await db.query(`savepoint ${name}`);
  let result: T;
  try {
    result = await work();
  } catch (error) {
    try {
      await db.query(`rollback to savepoint ${name}`);
      await db.query(`release savepoint ${name}`);
    } catch {
      // The rollback failing too (a lost connection) leaves the transaction for its owner to roll back;
      // `error`, the first failure, is what the caller must see, so it is the one thrown.
    }
    throw error;
  }
  await db.query(`rollback to savepoint ${name}`);
  await db.query(`release savepoint ${name}`);
  return result;
}
