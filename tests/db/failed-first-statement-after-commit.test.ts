import { boot, type Booted } from '../fixtures/boot';
import { freshBackends } from '../support/fresh-backends';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

// Found by the second adversarial review: raw SQL that is the FIRST statement of a scoped or bypass transaction, and that COMMITs
// and then fails (`...; commit; select 1/0`). The message carried BEGIN and the scope; after the failure
// the server reports the connection idle ('I'), so the deferred start is taken as never sent and stays
// armed; knex's ROLLBACK is then answered locally, without sending it or the session reset behind it,
// and the connection is not marked for a reset either. What the raw SQL committed stays on the pooled
// connection for the next user. Pool of one: the next user gets the same backend.

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
afterAll(() => t?.close());
beforeEach(() => freshBackends(t));


it('tenant transaction: SET ROLE bypass; COMMIT; failure -- the next tenant runs as the bypass role', async () => {
  await expect(
    t.app.em.forkWithRls({ account_id: 1 }).transactional((em) => em.execute(`set role ${t.db.roles.bypass}; commit; select 1/0`)),
  ).rejects.toThrow(/division by zero/);
  const [who] = await t.app.em.fork().execute('select current_user as who');
  const tenant2 = ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}));
  expect({ who: who.who, tenant2 }).toEqual({ who: t.db.roles.app, tenant2: [3, 4] });
});

it('bypass callback: temp "projects" with every row; COMMIT; failure -- tenant 1 then reads every tenant', async () => {
  await expect(
    t.app.em.bypassRls((em) => em.execute('create temp table projects as select * from public.projects; commit; select 1/0')),
  ).rejects.toThrow(/division by zero/);
  expect(ids(await t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}))).toEqual([1, 2]);
});

it('tenant transaction: session-level context variable; COMMIT; failure -- an unscoped fork then sees that tenant', async () => {
  await expect(
    t.app.em.forkWithRls({ account_id: 1 }).transactional((em) => em.execute(`select set_config('rls.account_id', '2', false); commit; select 1/0`)),
  ).rejects.toThrow(/division by zero/);
  expect(ids(await t.app.em.fork().find(Project, {}))).toEqual([]);
});

describe('controls: the same raw SQL, not as the first statement of the transaction (held)', () => {
  it('after a find', async () => {
    await expect(
      t.app.em.forkWithRls({ account_id: 1 }).transactional(async (em) => {
        await em.find(Project, {});
        await em.execute(`set role ${t.db.roles.bypass}; commit; select 1/0`);
      }),
    ).rejects.toThrow(/division by zero/);
    const [who] = await t.app.em.fork().execute('select current_user as who');
    expect(who.who).toBe(t.db.roles.app);
  });

  it('inside a savepoint', async () => {
    await expect(
      t.app.em.forkWithRls({ account_id: 1 }).transactional((em) => em.transactional((inner) => inner.execute(`set role ${t.db.roles.bypass}; commit; select 1/0`))),
    ).rejects.toThrow();
    const [who] = await t.app.em.fork().execute('select current_user as who');
    expect(who.who).toBe(t.db.roles.app);
  });

  it('END instead of COMMIT, as the first statement (same break)', async () => {
    await expect(
      t.app.em.forkWithRls({ account_id: 1 }).transactional((em) => em.execute(`set role ${t.db.roles.bypass}; end; select 1/0`)),
    ).rejects.toThrow(/division by zero/);
    const [who] = await t.app.em.fork().execute('select current_user as who');
    expect(who.who).toBe(t.db.roles.app);
  });
});
