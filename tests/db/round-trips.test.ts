import { IsolationLevel, MikroORM, type EntityManager } from '@mikro-orm/postgresql';
import { boot, type Booted } from '../fixtures/boot';
import { mikroOrmTreeOfThisRun } from '../support/mikro-orm-tree';
import { rawOnTransaction } from '../support/raw-on-transaction';
import { RoundTripCounter } from '../support/round-trip-counter';
import { Project, RESET_SQL, Tag, tenantEntities } from '../fixtures/tenant-model';

// The scope travels in the same message as the statement it precedes, so a scoped fork makes no more
// round trips than an unscoped fork for the same work; in a transaction BEGIN travels with it too, which
// saves MikroORM's own round trip for BEGIN. Round trips are counted on the wire (ReadyForQuery
// messages), each workload run alone on the pool.

let t: Booted;
// The same work without any scope, as a superuser (not subject to the policies, so writes succeed).
let unscopedOrm: MikroORM;
const unscopedRoundTrips = new RoundTripCounter();
const tenant1 = () => t.app.em.forkWithRls({ account_id: 1 });
const plain = () => unscopedOrm.em.fork();

beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
  unscopedOrm = await MikroORM.init(unscopedRoundTrips.installIn({ entities: tenantEntities, clientUrl: t.db.superUrl, pool: { min: 0, max: 1 } }));
  // The ORM's one-time role check (tests/db/role-check.test.ts) runs before the first scoped query;
  // done here, so that no measured workload pays for it, whichever runs first.
  await tenant1().execute('select 1');
  // MikroORM 7 connects on first use, not in init: that first use pays for the connect, here too.
  await plain().execute('select 1');
});
beforeEach(() => t.db.query(RESET_SQL));
afterAll(async () => {
  await unscopedOrm?.close(true);
  await t?.close();
});

// [label, work, transactions it opens: each saves the BEGIN round trip]
const workloads: [string, (em: EntityManager) => Promise<unknown>, number][] = [
  ['a find outside a transaction', (em) => em.find(Project, { account: 1 }), 0],
  ['a raw execute outside a transaction', (em) => em.execute('select count(*) from projects'), 0],
  ['a flush outside a transaction', async (em) => {
    em.create(Tag, { label: 'new', accountId: 1 });
    await em.flush();
  }, 1],
  ['a transaction with two reads and a flush', (em) =>
    em.transactional(async (tx) => {
      await tx.find(Project, { account: 1 });
      await tx.find(Tag, { accountId: 1 });
      tx.create(Tag, { label: 'new', accountId: 1 });
    }), 1],
];

describe.each(workloads)('%s', (_label, work, transactions) => {
  it('costs a scoped fork the round trips of an unscoped fork, less one BEGIN per transaction', async () => {
    const unscoped = await unscopedRoundTrips.during(() => work(plain()));
    await t.db.query(RESET_SQL);
    const scoped = await t.roundTrips.during(() => work(tenant1()));
    expect(unscoped).toBeGreaterThan(0);
    expect(scoped).toBe(unscoped - transactions);
  });

  it('costs a bypass fork the same as a scoped fork', async () => {
    const unscoped = await unscopedRoundTrips.during(() => work(plain()));
    await t.db.query(RESET_SQL);
    expect(await t.roundTrips.during(() => work(t.app.em.bypassRls()))).toBe(unscoped - transactions);
  });

  it('costs a fork without context of the RLS-enabled ORM what it costs plain MikroORM', async () => {
    const unscoped = await unscopedRoundTrips.during(() => work(plain()));
    await t.db.query(RESET_SQL);
    // Without context the app role sees no rows and may write none: count the attempt, not its result.
    expect(await t.roundTrips.during(() => work(t.app.em.fork()).catch(() => undefined))).toBe(unscoped);
  });
});

it('a single read outside a transaction is one round trip, scoped or not', async () => {
  expect(await unscopedRoundTrips.during(() => plain().findOne(Project, 1))).toBe(1);
  expect(await t.roundTrips.during(() => tenant1().findOne(Project, 1))).toBe(1);
});

describe('the transaction start (BEGIN and scope) deferred to its first statement', () => {
  it('holds for raw SQL sent on the transaction (knex on v6, Kysely on v7) before anything else', async () => {
    const seen = await tenant1().transactional(async (em) => {
      const rows = await rawOnTransaction<{ account: string }>(em.getTransactionContext(), `select current_setting('rls.account_id', true) as account`);
      return rows[0].account;
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

  it('sends nothing for a transaction that runs no statement', async () => {
    expect(await unscopedRoundTrips.during(() => plain().transactional(async () => undefined))).toBe(2);
    expect(await t.roundTrips.during(() => tenant1().transactional(async () => undefined))).toBe(0);
  });

  it('starts the transaction for real: a later statement sees what an earlier one wrote', async () => {
    const seen = await tenant1().transactional(async (em) => {
      await em.execute(`insert into tags (id, label, account_id) values (50, 'in-tx', 1)`);
      const inTx = await em.execute(`select count(*)::int as n from tags where id = 50`);
      const outside = await t.db.query(`select count(*)::int as n from tags where id = 50`);
      return { inTx, outside };
    });
    expect(seen).toEqual({ inTx: [{ n: 1 }], outside: [{ n: 0 }] });
  });

  it('keeps the isolation level and read-only mode MikroORM asks for', async () => {
    const seen = await tenant1().transactional(
      (em) => em.execute(`select current_setting('transaction_isolation') as level, current_setting('transaction_read_only') as ro`),
      { isolationLevel: IsolationLevel.SERIALIZABLE, readOnly: true },
    );
    expect(seen).toEqual([{ level: 'serializable', ro: 'on' }]);
  });

  it('rolls back what the first statement did when the transaction fails', async () => {
    await tenant1()
      .transactional(async (em) => {
        await em.execute(`insert into tags (id, label, account_id) values (51, 'undone', 1)`);
        throw new Error('fail after the first statement');
      })
      .catch(() => undefined);
    expect(await t.db.query(`select count(*)::int as n from tags where id = 51`)).toEqual([{ n: 0 }]);
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

  it('returns what an unscoped fork returns for each execute method, in and out of a transaction', async () => {
    for (const sql of ['select id from projects where id in (1, 2) order by id', '/* no statement */', 'select 1 as a; /* trailing */']) {
      for (const method of ['all', 'get', 'run'] as const) {
        const expected = await plain().execute(sql, [], method);
        expect(await tenant1().execute(sql, [], method)).toEqual(expected);
        expect(await tenant1().transactional((em) => em.execute(sql, [], method))).toEqual(expected);
      }
    }
  });

  it('shows the scope statement with ? for its values in error messages, never the values', async () => {
    const em = t.app.em.forkWithRls({ account_id: 4242 });
    const outside = (await em.execute('select 1/0').catch((e: unknown) => e)) as Error;
    const inside = (await em.transactional((tx) => tx.execute('select 1/0')).catch((e: unknown) => e)) as Error;
    if (mikroOrmTreeOfThisRun() === 'root') {
      // MikroORM 6 puts the statement in front of the message: the scope's, with ? for its values.
      expect(outside.message).toBe("select pg_catalog.set_config('rls.account_id', ?, true);\nselect 1/0 - division by zero");
      expect(inside.message).toBe("BEGIN;\nselect pg_catalog.set_config('rls.account_id', ?, true);\nselect 1/0 - division by zero");
    } else {
      // MikroORM 7 puts no statement in the message: the scope's is not shown either, as for an unscoped fork.
      const unscoped = (await plain().execute('select 1/0').catch((e: unknown) => e)) as Error;
      expect([outside.message, inside.message]).toEqual([unscoped.message, unscoped.message]);
    }
    // Nowhere on the error (message, stack, fields) is the value.
    for (const error of [outside, inside]) expect(`${error.stack} ${JSON.stringify({ ...error })}`).not.toContain('4242');
  });
});
