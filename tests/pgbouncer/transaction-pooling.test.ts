import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, Task, tenantEntities } from '../fixtures/tenant-model';
import { PGBOUNCER_ADDR_ENV, PGBOUNCER_POOL_SIZE, pgbouncerPools, pgbouncerRequested } from '../support/pgbouncer';
import { superuserUrl } from '../support/superuser-url';
import { poolUsage } from '../support/pool-of-either-major';

// With RLS_TEST_PGBOUNCER=1 the application role reaches PostgreSQL through PgBouncer in transaction
// mode: one client connection's transactions may run on different backends, and one backend serves
// many client connections, hence many tenants, in turn. Isolation must hold anyway, because every scoped
// statement runs inside a transaction that sets the context with set_config(..., true), which ends with
// it. Without PgBouncer the same checks run directly, where each pooled connection also serves tenants
// in turn: the file proves something in both runs and skips nothing.

/** More client connections than PgBouncer opens backends per pool, so they must share. */
const CLIENT_POOL = 8;
const ROUNDS = 100;

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: CLIENT_POOL });
});
afterAll(() => t?.close());

const portOf = (url: string) => Number(new URL(url).port || 5432);

const path = pgbouncerRequested()
  ? 'the application role reaches PostgreSQL through PgBouncer in transaction mode'
  : 'the application role reaches PostgreSQL directly (RLS_TEST_PGBOUNCER is not set)';

it(path, async () => {
  // Whichever way it goes, the backend that answers the application is the test server's.
  const [{ port }] = await t.app.em.fork().execute('select inet_server_port() as port');
  expect(port).toBe(portOf(superuserUrl()));
  const address = process.env[PGBOUNCER_ADDR_ENV];
  if (!pgbouncerRequested()) {
    expect({ address, appPort: portOf(t.db.appUrl) }).toEqual({ address: undefined, appPort: port });
    return;
  }
  // The application's URL names PgBouncer, not the server, and PgBouncer pools it in transaction mode.
  expect(new URL(t.db.appUrl).host).toBe(address);
  expect(portOf(t.db.appUrl)).not.toBe(port);
  const pool = (await pgbouncerPools(address!)).find((p) => p.database === t.db.name && p.user === t.db.roles.app);
  expect(pool).toMatchObject({ pool_mode: 'transaction' });
});

interface Seen {
  kind: 1 | 2 | 'none';
  pids: number[];
  projects?: number[];
  accounts: number[];
  setting?: string;
}

/** Tenant 1 or 2: an ORM find, then one raw statement reporting its backend and what it can see. */
async function scopedRound(tenant: 1 | 2): Promise<Seen> {
  const em = t.app.em.forkWithRls({ account_id: tenant });
  const projects = (await em.find(Project, {}, { orderBy: { id: 'asc' } })).map((p) => p.id);
  const [row] = await em.execute(`select pg_backend_pid() as pid, coalesce(array_agg(distinct account_id), '{}') as accounts from tasks`);
  return { kind: tenant, pids: [row.pid], projects, accounts: row.accounts };
}

/**
 * Tenant 1 or 2 in one transaction that yields between its statements, so that other rounds run in
 * between: PgBouncer must keep the whole transaction, context included, on one backend.
 */
async function transactionRound(tenant: 1 | 2): Promise<Seen> {
  return t.app.em.forkWithRls({ account_id: tenant }).transactional(async (em) => {
    const [first] = await em.execute('select pg_backend_pid() as pid');
    await new Promise((resolve) => setTimeout(resolve, 2));
    const tasks = await em.find(Task, {});
    const [last] = await em.execute('select pg_backend_pid() as pid');
    return { kind: tenant, pids: [first.pid, last.pid], accounts: [...new Set(tasks.map((x) => x.accountId))] };
  });
}

/** No context: on a backend a tenant just used, neither the setting nor the tenant's rows may remain. */
async function unscopedRound(): Promise<Seen> {
  const [row] = await t.app.em.fork().execute(
    `select pg_backend_pid() as pid, coalesce(current_setting('rls.account_id', true), '') as setting,
            coalesce(array_agg(distinct account_id), '{}') as accounts from projects`,
  );
  return { kind: 'none', pids: [row.pid], accounts: row.accounts, setting: row.setting };
}

it(`two tenants interleaving ${ROUNDS} rounds on shared backends each see only their own rows`, async () => {
  const rounds: Promise<Seen>[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const tenant = i % 2 === 0 ? 1 : 2;
    // An unscoped round waits for the round before it, so that it lands on backends tenants have used.
    if (i % 10 === 9) rounds.push(rounds[i - 1].then(unscopedRound));
    else rounds.push(i % 4 === 3 ? transactionRound(tenant) : scopedRound(tenant));
  }
  const seen = await Promise.all(rounds);

  for (const s of seen) {
    if (s.kind === 'none') {
      expect({ setting: s.setting, accounts: s.accounts }).toEqual({ setting: '', accounts: [] });
    } else {
      expect({ tenant: s.kind, accounts: s.accounts }).toEqual({ tenant: s.kind, accounts: [s.kind] });
      if (s.projects) expect({ tenant: s.kind, projects: s.projects }).toEqual({ tenant: s.kind, projects: s.kind === 1 ? [1, 2] : [3, 4] });
      // A transaction never moves to another backend half-way, or its context would stay behind.
      expect(new Set(s.pids).size).toBe(1);
    }
  }

  // The backends really were shared: fewer of them than statements, and some served both tenants.
  const pidsOf = (kind: Seen['kind']) => new Set(seen.filter((s) => s.kind === kind).flatMap((s) => s.pids));
  const backends = new Set(seen.flatMap((s) => s.pids));
  expect(backends.size).toBeLessThan(seen.length);
  expect([...pidsOf(1)].filter((pid) => pidsOf(2).has(pid)).length).toBeGreaterThan(0);

  const clientConnections = (await poolUsage(t.app)).open;
  if (pgbouncerRequested()) {
    // Several client connections per backend: exactly what a transaction pooler does and a direct pool cannot.
    expect(backends.size).toBeLessThanOrEqual(PGBOUNCER_POOL_SIZE);
    expect(clientConnections).toBeGreaterThan(backends.size);
  } else {
    expect(backends.size).toBeLessThanOrEqual(clientConnections);
  }
});
