import type { Booted } from '../fixtures/boot';

/**
 * Ends every backend of the application role in the test's database, then makes the pool notice (its
 * next acquire finds the dead connection and replaces it), so that an attack starts from a fresh
 * backend: state leaked by an earlier test cannot mask or fake a leak in the next one.
 */
export async function freshBackends(t: Booted): Promise<void> {
  await t.db.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and usename = $1`, [t.db.roles.app]);
  // The query on the dead connection fails; that failure is what makes the pool replace it.
  await t.app.em.fork().execute('select 1').catch(() => undefined);
}
