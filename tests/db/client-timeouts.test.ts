import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { connectionParams } from '../support/pool-of-either-major';

// node-postgres' query_timeout gives up on a statement while the server still runs it; knex then drops
// the queued ROLLBACK and hands the connection back, still inside the transaction. One pooled
// connection, so the next request gets that same slot: it must get a fresh connection instead.

let t: Booted;
beforeAll(async () => {
  t = await boot({
    entities: tenantEntities,
    seedSql: RESET_SQL,
    poolSize: 1,
    extra: connectionParams({ query_timeout: 300 }),
  });
});
beforeEach(() => t.db.query(RESET_SQL));
afterAll(() => t?.close());

const timedOut = (work: Promise<unknown>) => expect(work).rejects.toThrow(/timeout/i);

async function nextTenantSeesOnlyItsOwnRows() {
  const seen = await t.app.em.forkWithRls({ account_id: 2 }).transactional(async (em) => {
    const [{ open }] = await em.execute(`select count(*)::int as open from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'`);
    return { projects: ids(await em.find(Project, {})), open };
  });
  expect(seen).toEqual({ projects: [3, 4], open: 0 });
}

it('a bypass callback that times out does not hand its transaction to the next tenant', async () => {
  await timedOut(t.app.em.bypassRls((em) => em.execute('select pg_sleep(1)')));
  await nextTenantSeesOnlyItsOwnRows();
});

it.each([
  ['first', ['select pg_sleep(1)', `insert into projects (title, account_id) values ('t1 write', 1)`]],
  ['middle', [`insert into projects (title, account_id) values ('t1 write', 1)`, 'select pg_sleep(1)', 'select 1']],
  ['last', [`insert into projects (title, account_id) values ('t1 write', 1)`, 'select pg_sleep(1)']],
])('a tenant transaction whose %s statement times out neither leaks nor commits its writes later', async (_at, statements) => {
  await timedOut(
    t.app.em.forkWithRls({ account_id: 1 }).transactional(async (em) => {
      for (const statement of statements) await em.execute(statement);
    }),
  );
  await nextTenantSeesOnlyItsOwnRows();
  expect(await t.db.query(`select id from projects where title = 't1 write'`)).toEqual([]);
});

it('a scoped statement outside a transaction that times out leaves a clean connection', async () => {
  await timedOut(t.app.em.forkWithRls({ account_id: 1 }).execute('select pg_sleep(1)'));
  await nextTenantSeesOnlyItsOwnRows();
});
