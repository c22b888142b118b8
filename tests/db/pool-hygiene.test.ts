import type { AbstractSqlConnection } from '@mikro-orm/knex';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';

// After any transaction of a scoped or bypass fork ends, the pooled connection carries no trace of the
// context or the role switch. The pool has one connection, so the "next query" reuses the same backend.

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
afterAll(() => t?.close());

async function rawState() {
  // The ORM's own (unscoped) connection, straight from the pool.
  const connection = t.app.em.getDriver().getConnection() as AbstractSqlConnection;
  const res = await connection.getKnex().raw(
    `select pg_backend_pid() as pid, current_user as "user", current_setting('rls.account_id', true) as account, current_setting('role') as role`,
  );
  return res.rows[0] as { pid: number; user: string; account: string | null; role: string };
}

it.each([
  ['an out-of-transaction read', () => t.app.em.forkWithRls({ account_id: 1 }).find(Project, {})],
  ['a transactional write', () => t.app.em.forkWithRls({ account_id: 1 }).transactional(async (em) => em.nativeUpdate(Project, { id: 1 }, { title: 'x' }))],
  ['a failed transaction', () => t.app.em.forkWithRls({ account_id: 1 }).transactional(async () => Promise.reject(new Error('boom'))).catch(() => undefined)],
  ['a failed statement', () => t.app.em.forkWithRls({ account_id: 1 }).execute('select 1/0').catch(() => undefined)],
  ['a bypass fork', () => t.app.em.bypassRls().find(Project, {})],
  ['a bypass callback', () => t.app.em.bypassRls((em) => em.count(Project))],
])('%s leaves no context and no role on the pooled connection', async (_label, run) => {
  const before = await rawState();
  await run();
  const after = await rawState();
  expect(after.pid).toBe(before.pid);
  expect(after.user).toBe('rls_test_app');
  expect(after.role).toBe('none');
  expect(after.account ?? '').toBe('');
});

