import { MikroORM, type EntityManager } from '@mikro-orm/postgresql';
import { boot, type Booted } from '../fixtures/boot';
import { RoundTripCounter } from '../support/round-trip-counter';
import { Project, RESET_SQL, Tag, tenantEntities } from '../fixtures/tenant-model';

// The scope travels in the same message as the statement it precedes, so a scoped fork makes exactly
// the round trips an unscoped fork makes for the same work. Round trips are counted on the wire
// (ReadyForQuery messages), each workload run alone on the pool.

let t: Booted;
// The same work without any scope, as a superuser (not subject to the policies, so writes succeed).
let unscopedOrm: MikroORM;
const unscopedRoundTrips = new RoundTripCounter();
const tenant1 = () => t.app.em.forkWithRls({ account_id: 1 });
const plain = () => unscopedOrm.em.fork();

beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
  unscopedOrm = await MikroORM.init({ entities: tenantEntities, clientUrl: t.db.superUrl, pool: { min: 0, max: 1, afterCreate: unscopedRoundTrips.afterCreate } });
});
beforeEach(() => t.db.query(RESET_SQL));
afterAll(async () => {
  await unscopedOrm?.close(true);
  await t?.close();
});

const workloads: [string, (em: EntityManager) => Promise<unknown>][] = [
  ['a find outside a transaction', (em) => em.find(Project, { account: 1 })],
  ['a raw execute outside a transaction', (em) => em.execute('select count(*) from projects')],
  ['a flush outside a transaction', async (em) => {
    em.create(Tag, { label: 'new', accountId: 1 });
    await em.flush();
  }],
  ['a transaction with two reads and a flush', (em) =>
    em.transactional(async (tx) => {
      await tx.find(Project, { account: 1 });
      await tx.find(Tag, { accountId: 1 });
      tx.create(Tag, { label: 'new', accountId: 1 });
    })],
];

describe.each(workloads)('%s', (_label, work) => {
  it('costs a scoped fork the round trips it costs an unscoped fork', async () => {
    const unscoped = await unscopedRoundTrips.during(() => work(plain()));
    await t.db.query(RESET_SQL);
    const scoped = await t.roundTrips.during(() => work(tenant1()));
    expect(unscoped).toBeGreaterThan(0);
    expect(scoped).toBe(unscoped);
  });

  it('costs a bypass fork the round trips it costs an unscoped fork', async () => {
    const unscoped = await unscopedRoundTrips.during(() => work(plain()));
    await t.db.query(RESET_SQL);
    expect(await t.roundTrips.during(() => work(t.app.em.bypassRls()))).toBe(unscoped);
  });
});

it('a single read outside a transaction is one round trip, scoped or not', async () => {
  expect(await unscopedRoundTrips.during(() => plain().findOne(Project, 1))).toBe(1);
  expect(await t.roundTrips.during(() => tenant1().findOne(Project, 1))).toBe(1);
});

describe('the scope deferred to the first statement of a transaction', () => {
  it('holds for raw knex sent on the transaction before anything else', async () => {
    const seen = await tenant1().transactional(async (em) => {
      const res = await em.getTransactionContext()!.raw(`select current_setting('rls.account_id', true) as account`);
      return (res as { rows: { account: string }[] }).rows[0].account;
    });
    expect(seen).toBe('1');
  });

  it('is set before a savepoint: statements inside see it, and rolling the savepoint back keeps it', async () => {
    const ids = (rows: Project[]) => rows.map((p) => p.id).sort();
    const seen = await tenant1().transactional(async (em) => {
      let inside: number[] = [];
      await em
        .transactional(async (nested) => {
          inside = ids(await nested.find(Project, {}));
          throw new Error('undo the savepoint');
        })
        .catch(() => undefined);
      return { inside, after: ids(await em.find(Project, {})) };
    });
    expect(seen).toEqual({ inside: [1, 2], after: [1, 2] });
  });

  it('is not sent for a transaction that runs no statement', async () => {
    const unscoped = await unscopedRoundTrips.during(() => plain().transactional(async () => undefined));
    expect(await t.roundTrips.during(() => tenant1().transactional(async () => undefined))).toBe(unscoped);
  });
});

describe('SQL that travels behind the scope statement', () => {
  it('keeps question marks of SQL without params as written', async () => {
    const sql = `select '?' as a, 'x\\?y' as b, '{"k":1}'::jsonb ? 'k' as c`;
    expect(await tenant1().execute(sql)).toEqual(await plain().execute(sql));
    expect(await tenant1().execute(sql)).toEqual([{ a: '?', b: 'x\\?y', c: true }]);
  });

  it('binds params as MikroORM does', async () => {
    expect(await tenant1().execute('select ? as a, ? as b', ['it?s', "o'clock"])).toEqual([{ a: 'it?s', b: "o'clock" }]);
  });

  it('returns what an unscoped fork returns for several statements in one call', async () => {
    const sql = 'select 1 as a; select 2 as b';
    expect(await tenant1().execute(sql)).toEqual(await plain().execute(sql));
  });

  it('returns what an unscoped fork returns for each execute method', async () => {
    for (const method of ['all', 'get', 'run'] as const) {
      const sql = 'select id from projects where id in (1, 2) order by id';
      expect(await tenant1().execute(sql, [], method)).toEqual(await plain().execute(sql, [], method));
    }
  });

  it('leaves the scope statement and its values out of error messages', async () => {
    for (const run of [(em: EntityManager) => em.execute('select 1/0'), (em: EntityManager) => em.transactional((tx) => tx.execute('select 1/0'))]) {
      const error = (await run(tenant1()).catch((e: unknown) => e)) as Error;
      expect(error.message).toMatch(/^select 1\/0 - division by zero/);
      expect(error.message).not.toMatch(/set_config/);
    }
  });
});
