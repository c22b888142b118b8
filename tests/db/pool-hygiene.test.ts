import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { rawPooledQuery } from '../support/pool-of-either-major';

// After any transaction of a scoped or bypass fork ends, the pooled connection carries no trace of the
// context or the role switch. The pool has one connection, so the "next query" reuses the same backend.

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
afterAll(() => t?.close());

async function rawState() {
  // The ORM's own (unscoped) connection, straight from the pool.
  const [row] = await rawPooledQuery<{ pid: number; user: string; account: string | null; role: string }>(
    t.app,
    `select pg_backend_pid() as pid, current_user as "user", current_setting('rls.account_id', true) as account, current_setting('role') as role`,
  );
  return row!;
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


it.each([
  ['a scoped read', () => t.app.em.forkWithRls({ account_id: 1 }).execute('select pg_sleep(0.2)')],
  ['a scoped statement that fails', () => t.app.em.forkWithRls({ account_id: 1 }).execute('select pg_sleep(0.2), 1/0').catch(() => undefined)],
  ['a bypass transaction', () => t.app.em.bypassRls((em) => em.execute('select pg_sleep(0.2)'))],
])('a raw query of the pool waiting for the connection %s holds runs without its context or role', async (_label, run) => {
  // The pool has one connection: the raw query gets it only when the scoped work gives it back, and
  // must not run in what that work's scope was (a pool's callbacks run where the connection was released).
  const running = run();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const waiting = rawState();
  await running;
  const state = await waiting;
  expect(state.user).toBe('rls_test_app');
  expect(state.role).toBe('none');
  expect(state.account ?? '').toBe('');
});
