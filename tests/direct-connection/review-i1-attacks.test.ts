import { boot, type Booted } from '../fixtures/boot';
import { bootWithConnectionHooks, rawQuery, type ConnectionHook, type KyselyConnection } from '../fixtures/connection-hooks';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { outcome, sleep, within } from '../support/attack-outcomes';
import { seededRandom } from '../support/seeded-random';
import { TEST_ROLES } from '../support/test-roles';

// Review i1 (adversarial) of two changes on MikroORM 7: scoped forks reuse cached connection views per
// scope statement (wire/scoped-driver.ts), and a connection whose Kysely hook throws is destroyed
// (wire/connection-leases.ts, withoutStore in wire/scope-storage.ts). Every test asserts the SECURE
// outcome: it fails when the attack works. MikroORM 7 only.

type Hook = ConnectionHook;
const whoAmI = 'select current_user as who';
const pidSql = 'select pg_backend_pid() as pid';
const accountVar = `select current_setting('rls.account_id', true) as v`;

let t: Booted;
const hooks = bootWithConnectionHooks((booted) => (t = booted));

const pidOf = async (): Promise<number> => (await within(t.app.em.fork().execute<{ pid: number }[]>(pidSql)))[0].pid;

/** Ends every backend of the app role and waits until the pool has dropped its idle client. */
async function killBackends(): Promise<void> {
  await t.db.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and usename = $1`, [t.db.roles.app]);
  await sleep(200);
}

async function poolStillServes(): Promise<void> {
  expect(ids(await within(t.app.em.forkWithRls({ account_id: 2 }).find(Project, {})))).toEqual([3, 4]);
  expect(await within(t.app.em.fork().execute(whoAmI))).toEqual([{ who: TEST_ROLES.app }]);
  expect(ids(await within(t.app.em.fork().find(Project, {})))).toEqual([]);
  const [{ v }] = await within(t.app.em.fork().execute<{ v: string | null }[]>(accountVar));
  expect(v ?? '').toBe('');
}

/** What a plain fork sees of the session: role, context variable, temp tables, listens. */
async function cleanSession(): Promise<void> {
  const [row] = await within(
    t.app.em.fork().execute<{ who: string; v: string | null; temps: number; listens: number }[]>(
      `select current_user as who, coalesce(current_setting('rls.account_id', true), '') as v,
        (select count(*)::int from pg_class where relpersistence = 't') as temps,
        (select count(*)::int from pg_listening_channels()) as listens`,
    ),
  );
  expect(row).toEqual({ who: TEST_ROLES.app, v: '', temps: 0, listens: 0 });
}

describe('cached connection views (scoped-driver.ts)', () => {
  it('1,500 tenants (more than the 1,000 cached views) in parallel on a pool of one: each fork runs with its own context', async () => {
    const n = 1500;
    const early = t.app.em.forkWithRls({ account_id: 1 }); // its view gets evicted by what follows
    const forks = Array.from({ length: n }, (_, i) => ({ id: i + 3, em: t.app.em.forkWithRls({ account_id: i + 3 }) }));
    const seen = await within(Promise.all(forks.map(async ({ id, em }) => ({ id, v: (await em.execute<{ v: string }[]>(accountVar))[0].v }))), 60_000);
    expect(seen.filter(({ id, v }) => String(id) !== v)).toEqual([]);
    // the evicted view of a fork in hand still carries its own scope; a new fork of the same tenant too
    expect(ids(await within(early.find(Project, {})))).toEqual([1, 2]);
    expect(ids(await within(t.app.em.forkWithRls({ account_id: 1 }).find(Project, {})))).toEqual([1, 2]);
    await cleanSession();
  }, 90_000);

  it('forks created while others run (interleaved create / evict / use) never run with another scope', async () => {
    const random = seededRandom(0x11);
    const work: Promise<string | undefined>[] = [];
    for (let i = 0; i < 2500; i++) {
      const id = 1 + Math.floor(random() * 1200);
      const em = t.app.em.forkWithRls({ account_id: id });
      if (i % 3 === 0) await sleep(0);
      work.push(em.execute<{ v: string }[]>(accountVar).then(([row]) => (row.v === String(id) ? undefined : `${id} ran as ${row.v}`)));
    }
    expect((await within(Promise.all(work), 60_000)).filter(Boolean)).toEqual([]);
  }, 90_000);

  it('a bypass fork and context forks with cached views stay apart (transactions too)', async () => {
    for (let i = 0; i < 3; i++) {
      expect(await within(t.app.em.bypassRls().count(Project))).toBe(4);
      expect(ids(await within(t.app.em.forkWithRls({ account_id: 2 }).find(Project, {})))).toEqual([3, 4]);
      expect(await within(t.app.em.forkWithRls({ account_id: 1 }).transactional((em) => em.execute(whoAmI)))).toEqual([{ who: TEST_ROLES.app }]);
      expect(ids(await within(t.app.em.forkWithRls({ account_id: 1 }).transactional((em) => em.find(Project, {}))))).toEqual([1, 2]);
      expect(await within(t.app.em.bypassRls().transactional((em) => em.execute(whoAmI)))).toEqual([{ who: TEST_ROLES.bypass }]);
    }
  });

  it('two forks sharing one cached view keep their own rlsContext and result-cache entries', async () => {
    const a = t.app.em.forkWithRls({ account_id: 1 });
    const b = t.app.em.forkWithRls({ account_id: 1 });
    const c = t.app.em.forkWithRls({ account_id: 2 });
    expect([a.rlsContext, b.rlsContext, c.rlsContext]).toEqual([{ account_id: 1 }, { account_id: 1 }, { account_id: 2 }]);
    expect(ids(await within(a.find(Project, {}, { cache: ['review-i1', 10_000] })))).toEqual([1, 2]);
    expect(ids(await within(c.find(Project, {}, { cache: ['review-i1', 10_000] })))).toEqual([3, 4]);
    expect(ids(await within(t.app.em.bypassRls().find(Project, {}, { cache: ['review-i1', 10_000] })))).toEqual([1, 2, 3, 4]);
    expect(ids(await within(t.app.em.fork().find(Project, {}, { cache: ['review-i1', 10_000] })))).toEqual([]);
  });

  it('orm.reconnect(): forks made before (cached views on the old pool) and after still run scoped on the new pool', async () => {
    const before = t.app.em.forkWithRls({ account_id: 1 });
    await before.find(Project, {});
    await t.app.reconnect();
    expect(ids(await within(before.find(Project, {})))).toEqual([1, 2]);
    expect(ids(await within(t.app.em.forkWithRls({ account_id: 1 }).find(Project, {})))).toEqual([1, 2]);
    expect(ids(await within(t.app.em.forkWithRls({ account_id: 2 }).find(Project, {})))).toEqual([3, 4]);
    expect(await within(t.app.em.bypassRls().count(Project))).toBe(4);
    await poolStillServes();
  });
});

describe('throwing connection hooks (connection-leases.ts)', () => {
  const hookThrowsAfter = (sql: string[], error: unknown = new Error('hook failed')) => async (connection: KyselyConnection) => {
    for (const s of sql) await connection.executeQuery(rawQuery(s));
    throw error;
  };

  async function failsThenDestroyed(hook: Hook, expected: string, run: () => Promise<unknown> = () => t.app.em.fork().execute(whoAmI)): Promise<void> {
    const pid = await pidOf();
    let hookPid: number | undefined;
    hooks.onReserve = async (connection) => {
      hookPid = (await connection.executeQuery(rawQuery(pidSql))).rows[0].pid;
      return hook(connection);
    };
    expect(await within(outcome(run()))).toBe(expected);
    hooks.onReserve = undefined;
    expect(hookPid).toBe(pid);
    expect(await pidOf()).not.toBe(pid);
    await cleanSession();
    await poolStillServes();
  }

  it('onReserveConnection throws after BEGIN (and a SET LOCAL ROLE)', async () => {
    await failsThenDestroyed(hookThrowsAfter(['begin', `set local role ${TEST_ROLES.bypass}`]), 'refused: hook failed');
  });

  it("onReserveConnection throws after set_config('rls.account_id', '1', false)", async () => {
    await failsThenDestroyed(hookThrowsAfter([`select set_config('rls.account_id', '1', false)`]), 'refused: hook failed');
  });

  it('onReserveConnection throws after creating a temp table named like an entity table (shadowing)', async () => {
    await failsThenDestroyed(
      hookThrowsAfter(['create temp table projects (id int, title text, account_id int)', `insert into pg_temp.projects values (99, 'evil', 2)`]),
      'refused: hook failed',
    );
    expect(ids(await within(t.app.em.forkWithRls({ account_id: 2 }).find(Project, {})))).toEqual([3, 4]);
  });

  it('onReserveConnection throws after LISTEN and a WITH HOLD cursor', async () => {
    await failsThenDestroyed(hookThrowsAfter(['listen review_i1', 'declare c cursor with hold for select 1']), 'refused: hook failed');
  });

  it('onReserveConnection throws synchronously', async () => {
    await failsThenDestroyed(() => {
      throw new Error('sync hook failed');
    }, 'refused: sync hook failed');
  });

  it.each([
    ['a string', 'just a string'],
    ['undefined', undefined],
    ['null', null],
    ['a plain object', { code: 'E_HOOK' }],
  ])('onReserveConnection rejects with %s: the caller is refused, the connection is destroyed', async (_name, value) => {
    const pid = await pidOf();
    hooks.onReserve = () => Promise.reject(value);
    let got: unknown = 'resolved';
    await within(t.app.em.fork().execute(whoAmI).then(() => undefined, (e: unknown) => void (got = e)));
    hooks.onReserve = undefined;
    // MikroORM's exception converter wraps (or trips over) a non-Error value; the caller is refused either way.
    expect(got).not.toBe('resolved');
    expect(await pidOf()).not.toBe(pid);
    await poolStillServes();
  });

  it('onReserveConnection throws on a connection the server killed during the hook', async () => {
    await failsThenDestroyed(async (connection) => {
      const [{ pid }] = (await connection.executeQuery(rawQuery(pidSql))).rows;
      await t.db.query('select pg_terminate_backend($1)', [pid]);
      await sleep(50);
      throw new Error('hook failed on dead connection');
    }, 'refused: hook failed on dead connection');
  });

  it('onReserveConnection throws with its own query still in flight (not awaited)', async () => {
    await failsThenDestroyed(async (connection) => {
      void connection.executeQuery(rawQuery(`select pg_sleep(0.2), set_config('rls.account_id', '2', false)`)).catch(() => undefined);
      throw new Error('hook failed mid query');
    }, 'refused: hook failed mid query');
  });

  it("the destroy step's BEGIN takes no scope: a hook failing on a scoped em.transactional's acquire (after SET ROLE bypass)", async () => {
    await failsThenDestroyed(hookThrowsAfter([`set role ${TEST_ROLES.bypass}`]), 'refused: hook failed', () =>
      t.app.em.forkWithRls({ account_id: 1 }).transactional((em) => em.find(Project, {})),
    );
  });

  it("the destroy step's BEGIN takes no scope: a hook failing on a bypass fork's acquire", async () => {
    await failsThenDestroyed(hookThrowsAfter([`select set_config('rls.account_id', '1', false)`]), 'refused: hook failed', () => t.app.em.bypassRls().count(Project));
  });

  it('a hook failing on a scoped message (outside a transaction) after SET ROLE bypass', async () => {
    await failsThenDestroyed(hookThrowsAfter([`set role ${TEST_ROLES.bypass}`]), 'refused: hook failed', () => t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}));
  });

  it('many parallel acquires on a pool of one, hooks failing intermittently: nothing hangs, nothing leaks scope or role', async () => {
    const random = seededRandom(0x51);
    hooks.onReserve = async (connection) => {
      if (random() < 0.35) {
        await connection.executeQuery(rawQuery(`set role ${TEST_ROLES.bypass}`));
        if (random() < 0.5) await connection.executeQuery(rawQuery('create temp table projects (id int, title text, account_id int)'));
        throw new Error('intermittent');
      }
    };
    const jobs = Array.from({ length: 120 }, (_, i) => {
      const kind = i % 4;
      if (kind === 0) return t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}).then((r) => (ids(r).join() === '1,2' ? 'ok' : `t1 saw ${ids(r)}`));
      if (kind === 1) return t.app.em.fork().execute<{ who: string }[]>(whoAmI).then(([r]) => (r.who === TEST_ROLES.app ? 'ok' : `plain ran as ${r.who}`));
      if (kind === 2) return t.app.em.fork().find(Project, {}).then((r) => (r.length === 0 ? 'ok' : `plain saw ${ids(r)}`));
      return t.app.em.forkWithRls({ account_id: 2 }).transactional((em) => em.find(Project, {})).then((r) => (ids(r).join() === '3,4' ? 'ok' : `t2 saw ${ids(r)}`));
    });
    const results = await within(Promise.all(jobs.map((job) => job.catch((e: Error) => (e.message === 'intermittent' ? 'failed' : `other: ${e.message}`)))), 30_000);
    hooks.onReserve = undefined;
    expect(results.filter((r) => r !== 'ok' && r !== 'failed')).toEqual([]);
    expect(results).toContain('failed');
    await cleanSession();
    await poolStillServes();
  }, 40_000);

  it('a throwing onCreateConnection: its pg client is never handed out again (without the hook having run on it)', async () => {
    const hooked = new Set<number>();
    let fail = true;
    hooks.onCreate = async (connection) => {
      const [{ pid }] = (await connection.executeQuery(rawQuery(pidSql))).rows;
      if (fail) {
        fail = false;
        await connection.executeQuery(rawQuery(`set role ${TEST_ROLES.bypass}`));
        throw new Error('create hook failed');
      }
      hooked.add(pid);
    };
    await killBackends();
    expect(await within(outcome(t.app.em.fork().execute(whoAmI)))).toBe('refused: create hook failed');
    for (let i = 0; i < 5; i++) expect(hooked).toContain(await pidOf());
    await cleanSession();
    await poolStillServes();
  });

  it('onCreateConnection that fails on the first acquire of a scoped transaction', async () => {
    hooks.onCreate = hookThrowsAfter([`select set_config('rls.account_id', '2', false)`, 'begin']);
    await killBackends();
    expect(await within(outcome(t.app.em.forkWithRls({ account_id: 1 }).transactional((em) => em.find(Project, {}))))).toBe('refused: hook failed');
    hooks.onCreate = undefined;
    await cleanSession();
    await poolStillServes();
  });

});

/** An ORM of its own (pool of one) whose onCreateConnection is `hook`: a lost connection cannot poison the other tests. */
async function ownOrm(hook: Hook, body: (o: Booted) => Promise<void>): Promise<void> {
  const o = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1, extra: { onCreateConnection: (c: KyselyConnection) => hook(c) } as never });
  try {
    await body(o);
  } finally {
    await Promise.race([o.close(), sleep(3000)]);
  }
}

describe('onCreateConnection that returns normally, but whose session reset (sent by withRls behind it) then fails', () => {
  it('leaves an aborted transaction (its own error caught): the caller is refused and the pool of one still serves', async () => {
    let armed = false;
    await ownOrm(async (connection) => {
      if (!armed) return;
      armed = false;
      await connection.executeQuery(rawQuery('begin'));
      await connection.executeQuery(rawQuery('select 1/0')).catch(() => undefined);
    }, async (o) => {
      // a new connection for the next acquire, with the hook armed
      await o.db.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and usename = $1`, [o.db.roles.app]);
      await sleep(200);
      armed = true;
      expect(await within(outcome(o.app.em.fork().execute(whoAmI)))).toMatch(/^refused: /);
      expect(armed).toBe(false);
      expect(await within(o.app.em.fork().execute(whoAmI))).toEqual([{ who: TEST_ROLES.app }]);
    });
  });

  it('runs on a connection the server killed meanwhile: the caller is refused and the pool of one still serves', async () => {
    let armed = false;
    await ownOrm(async (connection) => {
      if (!armed) return;
      armed = false;
      const [{ pid }] = (await connection.executeQuery(rawQuery(pidSql))).rows;
      await t.db.query('select pg_terminate_backend($1)', [pid]);
      await sleep(50);
    }, async (o) => {
      // a new connection for the next acquire, with the hook armed
      await o.db.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and usename = $1`, [o.db.roles.app]);
      await sleep(200);
      armed = true;
      expect(await within(outcome(o.app.em.fork().execute(whoAmI)))).toMatch(/^refused: /);
      expect(armed).toBe(false);
      expect(await within(o.app.em.fork().execute(whoAmI))).toEqual([{ who: TEST_ROLES.app }]);
    });
  });
});
