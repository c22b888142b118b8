import { boot, type Booted } from '../fixtures/boot';
import { rawQuery, type KyselyConnection } from '../fixtures/connection-hooks';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { outcome, within } from '../support/attack-outcomes';
import { ids } from '../support/ids';
import { TEST_ROLES } from '../support/test-roles';

// A connection whose Kysely hook throws is destroyed, not lost (wire/connection-leases.ts): proven on a
// pool of one elsewhere (failing-connection-hooks, review-i1-attacks). Here on a pool of three, under
// parallel load, where a lost connection would not hang the next user but would shrink the pool for
// good: afterwards three transactions must still hold three connections at once. MikroORM 7 only; on a
// direct connection (hooks that fail destroy backends, which PgBouncer would hide).

const POOL_SIZE = 3;
const whoAmI = 'select current_user as who';
let failEvery = 0;
let acquires = 0;

let t: Booted;
beforeAll(async () => {
  t = await boot({
    entities: tenantEntities,
    seedSql: RESET_SQL,
    poolSize: POOL_SIZE,
    extra: {
      onReserveConnection: async (connection: KyselyConnection) => {
        acquires++;
        if (failEvery && acquires % failEvery === 0) {
          // What a failing hook leaves behind must not reach anyone: it switched to the bypass role.
          await connection.executeQuery(rawQuery(`set role ${TEST_ROLES.bypass}`));
          throw new Error('reserve hook failed');
        }
      },
    } as never,
  });
});
afterAll(() => t?.close());

/** Three transactions that each wait, holding their connection, until all three have one. */
async function threeConnectionsAtOnce(): Promise<{ pid: number; who: string }[]> {
  let arrived = 0;
  let allArrived!: () => void;
  const barrier = new Promise<void>((resolve) => (allArrived = resolve));
  return within(
    Promise.all(
      Array.from({ length: POOL_SIZE }, (_, i) =>
        t.app.em.forkWithRls({ account_id: (i % 2) + 1 }).transactional(async (em) => {
          const [row] = await em.execute<{ pid: number; who: string }[]>('select pg_backend_pid() as pid, current_user as who');
          if (++arrived === POOL_SIZE) allArrived();
          await barrier;
          return row;
        }),
      ),
    ),
    10_000,
  );
}

it('on a pool of three, 90 parallel jobs under a hook that fails every third acquire each get their own rows or the hook error, and the pool keeps its three connections', async () => {
  expect(await threeConnectionsAtOnce()).toHaveLength(POOL_SIZE); // the pool opens its three connections
  failEvery = 3;
  const jobs = Array.from({ length: 90 }, (_, i) => {
    const account = (i % 2) + 1;
    const expected = account === 1 ? '[1,2]' : '[3,4]';
    if (i % 3 === 0) return { expected, got: outcome(t.app.em.forkWithRls({ account_id: account }).find(Project, {}).then(ids)) };
    if (i % 3 === 1) return { expected, got: outcome(t.app.em.forkWithRls({ account_id: account }).transactional((em) => em.find(Project, {})).then(ids)) };
    return { expected: JSON.stringify([{ who: TEST_ROLES.app }]), got: outcome(t.app.em.fork().execute(whoAmI)) };
  });
  const results = await within(Promise.all(jobs.map(async (job) => ({ expected: job.expected, got: await job.got }))), 20_000);
  failEvery = 0;
  const wrong = results.filter((r) => r.got !== r.expected && r.got !== 'refused: reserve hook failed');
  expect(wrong).toEqual([]);
  expect(results.filter((r) => r.got === 'refused: reserve hook failed').length).toBeGreaterThan(0);

  const held = await threeConnectionsAtOnce();
  expect(new Set(held.map((row) => row.pid)).size).toBe(POOL_SIZE);
  expect(held.map((row) => row.who)).toEqual([TEST_ROLES.app, TEST_ROLES.app, TEST_ROLES.app]);
  expect(ids(await within(t.app.em.fork().find(Project, {})))).toEqual([]);
}, 60_000);
