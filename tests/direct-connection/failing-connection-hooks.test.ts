import type { Booted } from '../fixtures/boot';
import { bootWithConnectionHooks, rawQuery } from '../fixtures/connection-hooks';
import { Project } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { outcome, within } from '../support/attack-outcomes';
import { TEST_ROLES } from '../support/test-roles';

// MikroORM 7's connection hooks (Kysely's onCreateConnection and onReserveConnection) run while Kysely
// acquires a pooled connection, after pg-pool has handed it out: when one throws, Kysely neither returns
// the connection nor releases it, so each failure lost a connection of the pool for good (found by the
// second review of the connection leases: with a pool of one, every later query hung). A connection
// whose hook failed is now destroyed, and the pool makes a new one for the next user. MikroORM 7 only;
// on a direct connection (it ends backends to make the pool open new connections, which PgBouncer hides).

const whoAmI = 'select current_user as who';

let t: Booted;
const hooks = bootWithConnectionHooks((booted) => (t = booted));

async function poolStillServes(): Promise<void> {
  expect(ids(await within(t.app.em.forkWithRls({ account_id: 2 }).find(Project, {})))).toEqual([3, 4]);
  expect(await within(t.app.em.fork().execute(whoAmI))).toEqual([{ who: TEST_ROLES.app }]);
  expect(ids(await within(t.app.em.fork().find(Project, {})))).toEqual([]);
}

it('a throwing onReserveConnection fails its caller with its own error, and the pool of one still serves the next users', async () => {
  hooks.onReserve = () => Promise.reject(new Error('reserve hook failed'));
  expect(await within(outcome(t.app.em.forkWithRls({ account_id: 1 }).find(Project, {})))).toBe('refused: reserve hook failed');
  expect(await within(outcome(t.app.em.fork().execute(whoAmI)))).toBe('refused: reserve hook failed');
  hooks.onReserve = undefined;
  await poolStillServes();
});

it('a connection whose onReserveConnection failed (after a SET ROLE to the bypass role) is destroyed, not handed to the next user', async () => {
  let hookPid: unknown;
  hooks.onReserve = async (connection) => {
    hookPid = (await connection.executeQuery(rawQuery('select pg_backend_pid() as pid'))).rows[0];
    await connection.executeQuery(rawQuery(`set role ${TEST_ROLES.bypass}`));
    throw new Error('reserve hook failed after set role');
  };
  expect(await within(outcome(t.app.em.fork().execute(whoAmI)))).toBe('refused: reserve hook failed after set role');
  hooks.onReserve = undefined;
  expect(hookPid).toEqual({ pid: expect.any(Number) });
  const [next] = await within(t.app.em.fork().execute<{ pid: number }[]>('select pg_backend_pid() as pid'));
  expect(next).not.toEqual(hookPid);
  await poolStillServes();
});

it('a throwing onCreateConnection fails its caller, and the next user gets a new connection on which the hook runs again', async () => {
  let failNext = true;
  let runs = 0;
  hooks.onCreate = async () => {
    runs++;
    if (failNext) {
      failNext = false;
      throw new Error('create hook failed');
    }
  };
  // The pool's connection ended: the next statement makes a new one (the first may fail on the old one).
  await t.db.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and usename = $1`, [t.db.roles.app]);
  const first = [await within(outcome(t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}))), await within(outcome(t.app.em.fork().execute(whoAmI)))];
  expect(first).toContain('refused: create hook failed');
  await poolStillServes();
  expect(runs).toBeGreaterThanOrEqual(2);
});
