import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, Tag, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { ACQUIRE_TIMEOUT, acquireTimeout, poolUsage } from '../support/pool-of-either-major';

// Faults in the middle of scoped work: the error reaches the caller, no later request sees the failed
// request's context or bypass, and the pool recovers. One pooled connection, so "later" means "on the
// same connection slot".

let t: Booted;
beforeAll(async () => {
  t = await boot({
    entities: tenantEntities,
    seedSql: RESET_SQL,
    poolSize: 1,
    // The pool gives up acquiring a connection after this long (knex's default is a minute, pg-pool's forever).
    extra: acquireTimeout(1_000),
  });
  // A deferred constraint makes a commit fail.
  await t.db.query(`alter table tags add constraint tags_label_unique unique (label) deferrable initially deferred`);
});
beforeEach(() => t.db.query(RESET_SQL));
afterAll(() => t?.close());


/** What the next request finds: another tenant scoped correctly, and an unscoped connection clean. */
async function expectCleanAfterwards() {
  expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
  const [state] = await t.app.em.fork().execute(
    `select current_user as "user", current_setting('role') as role, coalesce(current_setting('rls.account_id', true), '') as account`,
  );
  expect(state).toEqual({ user: 'rls_test_app', role: 'none', account: '' });
  expect(await poolUsage(t.app)).toMatchObject({ used: 0, pending: 0 });
}

it('the backend is killed mid-transaction', async () => {
  const error = await t.app.em
    .forkWithRls({ account_id: 1 })
    .transactional(async (em) => {
      const [{ pid }] = await em.execute('select pg_backend_pid() as pid');
      await t.db.query('select pg_terminate_backend($1)', [pid]);
      await em.find(Project, {});
    })
    .catch((e: unknown) => e);
  expect(String(error)).toMatch(/terminat|Connection|closed/i);
  await expectCleanAfterwards();
});

it('a bypass transaction whose backend is killed leaves no role behind', async () => {
  const error = await t.app.em
    .bypassRls(async (em) => {
      const [{ pid }] = await em.execute('select pg_backend_pid() as pid');
      await t.db.query('select pg_terminate_backend($1)', [pid]);
      await em.count(Project);
    })
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(Error);
  await expectCleanAfterwards();
});

it('a statement hits statement_timeout', async () => {
  const error = await t.app.em
    .forkWithRls({ account_id: 1 })
    .transactional(async (em) => {
      await em.execute(`set local statement_timeout = '50ms'`);
      await em.execute('select pg_sleep(2)');
    })
    .catch((e: unknown) => e);
  expect(String(error)).toMatch(/statement timeout/);
  await expectCleanAfterwards();
});

it('the client times out waiting for a connection while another request holds it', async () => {
  const holder = t.app.em.forkWithRls({ account_id: 1 });
  let release!: () => void;
  const held = holder.transactional(async (em) => {
    await em.find(Project, {});
    await new Promise<void>((resolve) => (release = resolve));
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const error = await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}).catch((e: unknown) => e);
  expect(String(error)).toMatch(ACQUIRE_TIMEOUT);
  release();
  await held;
  await expectCleanAfterwards();
});

it('a callback throws inside a transaction', async () => {
  const error = await t.app.em
    .forkWithRls({ account_id: 1 })
    .transactional(async (em) => {
      await em.nativeUpdate(Project, {}, { title: 'lost' });
      throw new Error('callback failed');
    })
    .catch((e: unknown) => e);
  expect((error as Error).message).toBe('callback failed');
  expect(await t.db.query(`select count(*)::int as n from projects where title = 'lost'`)).toEqual([{ n: 0 }]);
  await expectCleanAfterwards();
});

it('the commit fails', async () => {
  const error = await t.app.em
    .forkWithRls({ account_id: 1 })
    .transactional(async (em) => {
      em.create(Tag, { label: 't1', accountId: 1 });
    })
    .catch((e: unknown) => e);
  expect(String(error)).toMatch(/tags_label_unique/);
  expect(await t.db.query(`select count(*)::int as n from tags where label = 't1'`)).toEqual([{ n: 1 }]);
  await expectCleanAfterwards();
});
