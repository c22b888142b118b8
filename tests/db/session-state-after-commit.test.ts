import { boot, type Booted } from '../fixtures/boot';
import { freshBackends } from '../support/fresh-backends';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

// Session state (SET ROLE to the bypass role) made by a scoped fork's raw SQL, on paths where
// the reset sent behind it does not run or is undone: an explicit COMMIT inside the message followed by
// an error, or followed by BEGIN (the reset then runs in a transaction the package rolls back); inside a
// scoped transaction, a COMMIT in raw SQL followed by a rollback of the (new) transaction.
// Pool of one: the next user gets the same backend.

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
afterAll(() => t?.close());
beforeEach(() => freshBackends(t));

const bypass = () => t.db.roles.bypass;

async function whatTheNextUsersSee() {
  const [state] = await t.app.em.fork().execute(`select current_user as who`);
  const unscoped = ids(await t.app.em.fork().find(Project, {}));
  const tenant2 = ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}));
  return { who: state.who, unscoped, tenant2 };
}

const ISOLATED = { who: 'rls_test_app', unscoped: [], tenant2: [3, 4] };

it('baseline: the next users are isolated', async () => {
  expect(await whatTheNextUsersSee()).toEqual(ISOLATED);
});

it('scoped execute: SET ROLE; COMMIT; then a failing statement -- the reset never runs', async () => {
  await expect(t.app.em.forkWithRls({ account_id: 1 }).execute(`set role ${bypass()}; commit; select 1/0`)).rejects.toThrow(/division by zero/);
  expect(await whatTheNextUsersSee()).toEqual(ISOLATED);
});

it('scoped execute: SET ROLE; COMMIT; BEGIN -- the reset runs inside a transaction that is rolled back', async () => {
  await expect(t.app.em.forkWithRls({ account_id: 1 }).execute(`set role ${bypass()}; commit; begin`)).rejects.toThrow();
  expect(await whatTheNextUsersSee()).toEqual(ISOLATED);
});

it('scoped transaction: SET ROLE; COMMIT; BEGIN in raw SQL, then the transaction is rolled back', async () => {
  await expect(
    t.app.em.forkWithRls({ account_id: 1 }).transactional(async (em) => {
      await em.find(Project, {});
      await em.execute(`set role ${bypass()}; commit; begin`);
      throw new Error('request failed');
    }),
  ).rejects.toThrow('request failed');
  expect(await whatTheNextUsersSee()).toEqual(ISOLATED);
});

it('bypass transaction: SET ROLE; COMMIT; BEGIN in raw SQL, then rolled back', async () => {
  await expect(
    t.app.em.bypassRls(async (em) => {
      await em.execute(`set role ${bypass()}; commit; begin`);
      throw new Error('admin job failed');
    }),
  ).rejects.toThrow('admin job failed');
  expect(await whatTheNextUsersSee()).toEqual(ISOLATED);
});

it('scoped execute: session-level context variable, COMMIT, then an error', async () => {
  await expect(t.app.em.forkWithRls({ account_id: 1 }).execute(`set rls.account_id = '1'; commit; select 1/0`)).rejects.toThrow(/division by zero/);
  expect(await whatTheNextUsersSee()).toEqual(ISOLATED);
});
