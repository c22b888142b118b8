import { bootWithStandbyForThisFile, ranOnStandby } from '../fixtures/boot-with-standby';
import { Project, RESET_SQL } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

// With the hot standby as a read replica, what writes and every transaction still go to the primary (a
// standby refuses writes: "cannot execute INSERT in a read-only transaction"), scoped, and with
// `preferReadReplicas: false` reads go there too. `ranOnStandby(false)` matches only on the primary.

const booted = bootWithStandbyForThisFile();
// What a test wrote goes: the next one starts from the seed (on the primary; the standby follows).
afterEach(() => booted.t.db.query(RESET_SQL));

const titled = (title: string) => ({ title, ...ranOnStandby(true) });

it('a scoped flush inserts on the primary, and once replayed the standby shows the row to its tenant only', async () => {
  const em = booted.orm.em.forkWithRls({ account_id: 1 });
  const project = em.create(Project, { title: 'flushed', account: 1 });
  await em.flush();
  expect(await booted.t.db.query('select account_id from projects where id = $1', [project.id])).toEqual([{ account_id: 1 }]);
  await booted.standby.untilReplayed();
  expect(ids(await booted.orm.em.forkWithRls({ account_id: 1 }).find(Project, titled('flushed')))).toEqual([project.id]);
  expect(ids(await booted.orm.em.forkWithRls({ account_id: 2 }).find(Project, titled('flushed')))).toEqual([]);
});

it("a scoped nativeUpdate and nativeDelete outside a transaction run on the primary, on the scope's rows only", async () => {
  const [a, b] = await booted.t.db.query<{ id: number }>(`insert into projects (title, account_id) values ('native', 1), ('native', 2) returning id`);
  const em = booted.orm.em.forkWithRls({ account_id: 1 });
  expect(await em.nativeUpdate(Project, { title: 'native' }, { title: 'native updated' })).toBe(1);
  expect(await booted.t.db.query(`select id, title from projects where id in ($1, $2) order by id`, [a.id, b.id])).toEqual([
    { id: a.id, title: 'native updated' },
    { id: b.id, title: 'native' },
  ]);
  expect(await em.nativeDelete(Project, { id: { $in: [a.id, b.id] } })).toBe(1);
  expect(await booted.t.db.query(`select id from projects where id in ($1, $2)`, [a.id, b.id])).toEqual([{ id: b.id }]);
});

it('em.transactional of a scoped fork runs on the primary, its reads included, scoped', async () => {
  const seen = await booted.orm.em.forkWithRls({ account_id: 2 }).transactional(async (tx) => ({
    onPrimary: ids(await tx.find(Project, ranOnStandby(false))),
    onStandby: ids(await tx.find(Project, ranOnStandby(true))),
    state: (await tx.execute(`select pg_is_in_recovery() as standby, current_setting('rls.account_id', true) as account`))[0],
  }));
  expect(seen).toEqual({ onPrimary: [3, 4], onStandby: [], state: { standby: false, account: '2' } });
});

it('a bypass callback runs in its transaction on the primary, and sees every tenant there', async () => {
  const seen = await booted.orm.em.bypassRls(async (admin) => ({ onPrimary: ids(await admin.find(Project, ranOnStandby(false))), onStandby: ids(await admin.find(Project, ranOnStandby(true))) }));
  expect(seen).toEqual({ onPrimary: [1, 2, 3, 4], onStandby: [] });
});

it('with preferReadReplicas: false the reads of scoped, bypass and plain forks go to the primary, scoped', async () => {
  const primaryReads = await booted.ormWithStandby({ preferReadReplicas: false });
  try {
    const scoped = primaryReads.em.forkWithRls({ account_id: 1 });
    expect(ids(await scoped.find(Project, ranOnStandby(false)))).toEqual([1, 2]);
    expect(ids(await scoped.find(Project, ranOnStandby(true)))).toEqual([]);
    expect(await scoped.count(Project, ranOnStandby(false))).toBe(2);
    const rows = await scoped.createQueryBuilder(Project, 'p').select(['p.id']).where(ranOnStandby(false)).orderBy({ id: 'asc' }).execute('all', false);
    expect(rows).toEqual([{ id: 1 }, { id: 2 }]);
    expect(ids(await primaryReads.em.bypassRls().find(Project, ranOnStandby(false)))).toEqual([1, 2, 3, 4]);
    expect(ids(await primaryReads.em.fork().find(Project, ranOnStandby(false)))).toEqual([]);
    expect(await primaryReads.em.fork().execute('select pg_is_in_recovery() as standby, (select count(*)::int from projects) as projects')).toEqual([{ standby: false, projects: 0 }]);
  } finally {
    await primaryReads.close(true);
  }
});
