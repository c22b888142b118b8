import { Client } from 'pg';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { connectionParams } from '../support/pool-of-either-major';

// node-postgres' query_timeout (300 ms here) is the application's bound on how long a
// statement may take. After an error, the package waits for the server's ReadyForQuery to learn where
// the message left the transaction (settledTransactionStatus). After a client-side timeout the server is
// still running the statement, so that wait lasts as long as the statement does: the caller's
// operation does not settle at the timeout but when the server finishes (here 6 s; pg_sleep(3600) would
// be an hour), and it holds its pooled connection the whole time.
//
// Measured with a race against a 3 s deadline rather than by timing: the assertion is "settles
// within 10x the configured timeout", which a plain MikroORM fork meets (control test).

let t: Booted;
beforeAll(async () => {
  t = await boot({
    entities: tenantEntities,
    seedSql: RESET_SQL,
    poolSize: 2,
    extra: connectionParams({ query_timeout: 300 }),
  });
});
afterAll(() => t?.close());

const DEADLINE = Symbol('still waiting after 3 s');
async function settlesBeforeDeadline(work: Promise<unknown>): Promise<unknown> {
  const outcome = work.then(
    () => 'resolved',
    (error: Error) => `rejected: ${error.message.replace(/\s+/g, " ")}`,
  );
  const deadline = new Promise((resolve) => setTimeout(() => resolve(DEADLINE), 3000));
  const first = await Promise.race([outcome, deadline]);
  await outcome; // let the server finish before the next test
  return first;
}

it('control: an unscoped fork gives up after query_timeout', async () => {
  expect(await settlesBeforeDeadline(t.app.em.fork().execute('select pg_sleep(6)'))).toMatch(/rejected: .*timeout/i);
});

it('a scoped statement outside a transaction gives up after query_timeout', async () => {
  expect(await settlesBeforeDeadline(t.app.em.forkWithRls({ account_id: 1 }).execute('select pg_sleep(6)'))).toMatch(/rejected: .*timeout/i);
});

it('the first statement of a scoped transaction gives up after query_timeout', async () => {
  const work = t.app.em.forkWithRls({ account_id: 1 }).transactional((em) => em.execute('select pg_sleep(6)'));
  expect(await settlesBeforeDeadline(work)).toMatch(/rejected: .*timeout/i);
});

it('a scoped find waiting on a lock gives up after query_timeout (it waits until the lock holder lets go)', async () => {
  // Another session holds a lock for 6 s: a plain find would fail after 300 ms; the scoped one waits
  // for the lock holder, however long it holds the lock.
  const holder = new Client({ connectionString: t.db.superUrl });
  await holder.connect();
  await holder.query('begin; lock table projects in access exclusive mode');
  const release = new Promise((resolve) => setTimeout(resolve, 6000)).then(() => holder.query('rollback')).finally(() => holder.end());
  try {
    expect(await settlesBeforeDeadline(t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}))).toMatch(/rejected: .*timeout/i);
  } finally {
    await release;
  }
});

it('control: an unscoped find waiting on the same lock gives up after query_timeout', async () => {
  const holder = new Client({ connectionString: t.db.superUrl });
  await holder.connect();
  await holder.query('begin; lock table projects in access exclusive mode');
  const release = new Promise((resolve) => setTimeout(resolve, 6000)).then(() => holder.query('rollback')).finally(() => holder.end());
  try {
    expect(await settlesBeforeDeadline(t.app.em.fork().find(Project, {}))).toMatch(/rejected: .*timeout/i);
  } finally {
    await release;
  }
});
