import type { Booted } from '../fixtures/boot';
import { Project } from '../fixtures/tenant-model';
import { ids } from './ids';
import { TEST_ROLES } from './test-roles';

/**
 * What an attack on the tenant model must leave behind: the next tenant sees only its own projects, an
 * unscoped fork runs as the application role, and no connection of that role is idle in a transaction.
 * `untouched`: tenant 2's project 3 still has its seeded title (for attacks that tried to overwrite it).
 */
export async function expectNextUsersIsolated(t: Booted, options: { untouched?: boolean } = {}): Promise<void> {
  if (options.untouched) expect(await t.db.query(`select title from projects where id = 3`)).toEqual([{ title: 'p3' }]);
  expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
  expect(await t.app.em.fork().execute('select current_user as who')).toEqual([{ who: TEST_ROLES.app }]);
  const open = await t.db.query(
    `select 1 from pg_stat_activity where datname = current_database() and usename = $1 and state like 'idle in transaction%'`,
    [TEST_ROLES.app],
  );
  expect(open).toEqual([]);
}
