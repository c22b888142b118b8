import { RlsTransactionStartError } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import type { RlsEntityManager } from '../../src';
import { ids } from '../support/ids';
import { mikroOrmTreeOfThisRun } from '../support/mikro-orm-tree';

// A scoped (or bypass) transaction's BEGIN and scope travel with its first statement. Statements sent
// while that first one is in flight must wait for it: if it fails before BEGIN ran (a syntax error is
// refused before anything of the message runs), a statement queued behind it would otherwise run
// outside the transaction, unscoped, and commit on its own. One pooled connection, so "the next user"
// is the same backend.

let t: Booted;
const tenant1 = () => t.app.em.forkWithRls({ account_id: 1 });
const bypass = () => t.app.em.bypassRls();
// A table without RLS: a statement that escaped its transaction would keep its write there.
const AUDIT = `create table if not exists audit_log (note text); grant select, insert on audit_log to rls_test_app, rls_test_bypass; truncate audit_log;`;
const auditNotes = async () => (await t.db.query<{ note: string }>(`select note from audit_log order by note`)).map((r) => r.note);
const whoAmI = `select current_user as "user", current_setting('role') as role, coalesce(current_setting('rls.account_id', true), '') as account`;

beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
beforeEach(() => t.db.query(RESET_SQL + AUDIT));
afterAll(() => t?.close());

class CallbackError extends Error {}

// MikroORM 6 (knex) sends a transaction's statements as they come, so the ones sent while the first is
// in flight are held by the adapter and refused if the start failed. MikroORM 7 (Kysely) queues them
// itself and sends each after the previous settled: the next one then starts the transaction, with its
// scope, as a statement sent after the failure does. Either way none runs outside the transaction or
// without its scope; the expectations below say which of the two each major does.
const KYSELY_QUEUES = mikroOrmTreeOfThisRun() === 'v7';
const ALL_PROJECTS = [1, 2, 3, 4];

/**
 * Runs `first` and `others` at once as the first statements of a transaction of `fork`, then throws
 * (so the transaction rolls back); returns how each statement settled.
 */
async function concurrentlyThenThrow(fork: RlsEntityManager, first: string, others: string[]): Promise<PromiseSettledResult<unknown>[]> {
  let settled: PromiseSettledResult<unknown>[] = [];
  const error = await fork
    .transactional(async (em) => {
      settled = await Promise.allSettled([em.execute(first), ...others.map((sql) => em.execute(sql))]);
      throw new CallbackError('roll back');
    })
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(CallbackError);
  return settled;
}

async function connectionIsClean() {
  const open = await t.db.query(`select state from pg_stat_activity where datname = current_database() and usename = 'rls_test_app' and state like 'idle in transaction%'`);
  expect(open).toEqual([]);
  expect(await t.app.em.fork().execute(whoAmI)).toEqual([{ user: 'rls_test_app', role: 'none', account: '' }]);
}

const TENANT_SCOPE = { user: 'rls_test_app', role: 'none', account: '1' };
const BYPASS_SCOPE = { user: 'rls_test_bypass', role: 'rls_test_bypass', account: '' };

describe.each([
  ['a tenant transaction', () => tenant1(), TENANT_SCOPE],
  ['a bypass transaction', () => bypass(), BYPASS_SCOPE],
])('%s whose first statement fails to parse', (_label, fork, scope) => {
  it('sends no statement that was sent concurrently: a write to a table without RLS is not committed', async () => {
    const [first, insert] = await concurrentlyThenThrow(fork(), 'selec 1', [`insert into audit_log values ('escaped')`]);
    expect(first).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: expect.stringMatching(/syntax error/) }) });
    expect(await auditNotes()).toEqual([]);
    // On v7 it ran inside the transaction, and was rolled back with it (audit_log is empty above).
    if (KYSELY_QUEUES) expect(insert).toMatchObject({ status: 'fulfilled' });
    else expect(insert).toMatchObject({ status: 'rejected', reason: expect.any(RlsTransactionStartError) });
    await connectionIsClean();
  });

  it('runs no concurrent statement without its scope', async () => {
    const [, who, rows] = await concurrentlyThenThrow(fork(), 'selec 1', [whoAmI, 'select id from projects']);
    // Before the fix these ran in autocommit as the plain app role, with no context: the tenant's
    // select saw none of its rows and the bypass select none of anyone's.
    if (KYSELY_QUEUES) {
      // Sent by Kysely after the failure settled, they started the transaction with its scope.
      expect(who).toEqual({ status: 'fulfilled', value: [scope] });
      expect(rows.status === 'fulfilled' && ids(rows.value as { id: number }[])).toEqual(scope === TENANT_SCOPE ? [1, 2] : ALL_PROJECTS);
    } else {
      expect(who.status === 'fulfilled' && who.value).toBe(false);
      expect(who).toMatchObject({ status: 'rejected', reason: expect.any(RlsTransactionStartError) });
      expect(rows).toMatchObject({ status: 'rejected', reason: expect.any(RlsTransactionStartError) });
    }
    await connectionIsClean();
  });

  // Only MikroORM 6 holds concurrent statements behind the first, so only there is there an error to word.
  if (!KYSELY_QUEUES) {
    it('rejects the concurrent statements with an error naming the first statement failure and what to do', async () => {
      const [, other] = await concurrentlyThenThrow(fork(), 'selec 1', ['select 1']);
      const reason = (other as PromiseRejectedResult).reason as RlsTransactionStartError;
      expect(reason.message).toMatch(/not sent.*first statement.*failed.*syntax error/is);
      expect(reason.message).toMatch(/one after another|await/i);
      expect(reason.message).not.toContain('set_config');
    });
  }

  it('still starts the transaction, with its scope, for a statement sent after the failure settled', async () => {
    const seen = await fork()
      .transactional(async (em) => {
        await Promise.allSettled([em.execute('selec 1'), em.execute('select 1')]);
        const [state] = await em.execute(whoAmI);
        await em.execute(`insert into audit_log values ('rolled back')`);
        throw new CallbackError(JSON.stringify(state));
      })
      .catch((e: CallbackError) => JSON.parse(e.message));
    expect(seen).toEqual(scope);
    // Rolled back with the transaction: it ran inside it.
    expect(await auditNotes()).toEqual([]);
    await connectionIsClean();
  });
});

describe('a tenant transaction whose first statement fails when it runs (BEGIN ran)', () => {
  it('rejects the concurrent statements with the same clear error, and nothing is committed', async () => {
    const [first, insert] = await concurrentlyThenThrow(tenant1(), 'select 1/0', [`insert into audit_log values ('escaped')`]);
    expect(first).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: expect.stringMatching(/division by zero/) }) });
    if (KYSELY_QUEUES) {
      // Sent by Kysely after the failure, inside the failed transaction, which PostgreSQL refuses.
      expect(insert).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: expect.stringMatching(/current transaction is aborted/) }) });
    } else {
      expect(insert).toMatchObject({ status: 'rejected', reason: expect.any(RlsTransactionStartError) });
      expect(((insert as PromiseRejectedResult).reason as Error).message).toMatch(/division by zero/);
    }
    expect(await auditNotes()).toEqual([]);
    await connectionIsClean();
  });
});

describe('concurrent statements after a first statement that succeeds', () => {
  it.each([
    ['a tenant transaction', () => tenant1(), TENANT_SCOPE],
    ['a bypass transaction', () => bypass(), BYPASS_SCOPE],
  ])('all run inside %s, with its scope, in the order they were sent', async (_label, fork, scope) => {
    const rows = await fork().transactional(async (em) => {
      const sent = Array.from({ length: 6 }, (_, i) => em.execute(`${whoAmI}, txid_current()::text as xid, ${i} as n, to_char(clock_timestamp(), 'YYYYMMDDHH24MISSUS') as at`));
      return (await Promise.all(sent)).map(([row]) => row as Record<string, unknown>);
    });
    for (const { user, role, account } of rows) expect({ user, role, account }).toEqual(scope);
    expect(new Set(rows.map((r) => r.xid)).size).toBe(1);
    const byTime = [...rows].sort((a, b) => String(a.at).localeCompare(String(b.at))).map((r) => r.n);
    expect(byTime).toEqual([0, 1, 2, 3, 4, 5]);
    await connectionIsClean();
  });

  it('see the rows of the tenant only', async () => {
    const seen = await tenant1().transactional(async (em) => {
      const [own, all, count] = await Promise.all([em.find(Project, {}), em.execute('select id from projects'), em.count(Project, { id: { $gt: 2 } })]);
      return { own: ids(own), all: ids(all as { id: number }[]), count };
    });
    expect(seen).toEqual({ own: [1, 2], all: [1, 2], count: 0 });
  });
});

// knex ends a transaction as soon as its COMMIT or ROLLBACK is issued, and refuses any statement of it
// sent later: so these are never held behind the start, they go out behind the message in flight.
describe('a callback that ends while its first statement is still in flight', () => {
  const pid = async () => (await t.app.em.fork().execute('select pg_backend_pid() as pid'))[0].pid as number;

  it('throws: ROLLBACK still reaches the server, the callback error is what the caller gets, the connection is kept', async () => {
    const before = await pid();
    const error = await tenant1()
      .transactional(async (em) => {
        void em.execute(`insert into audit_log values ('rolled back'); select pg_sleep(0.2)`).catch(() => undefined);
        throw new CallbackError('gave up');
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallbackError);
    expect(await auditNotes()).toEqual([]);
    // Ended by its ROLLBACK, not by destroying the connection.
    expect(await pid()).toBe(before);
    await connectionIsClean();
  });

  it('returns: COMMIT goes out behind the first statement and commits it, as without the scope', async () => {
    const before = await pid();
    await tenant1().transactional(async (em) => {
      void em.execute(`select pg_sleep(0.2); insert into audit_log values ('committed ' || current_setting('rls.account_id'))`);
    });
    expect(await auditNotes()).toEqual(['committed 1']);
    expect(await pid()).toBe(before);
    await connectionIsClean();
  });
});

describe('a savepoint or nested bypass started while the first statement is in flight', () => {
  const ticks = async (n: number) => {
    for (let i = 0; i < n; i += 1) await Promise.resolve();
  };

  it('waits for the transaction start, and is refused when the first statement failed to parse, whatever the interleaving', async () => {
    const refusals = new Set<string>();
    for (let offset = 0; offset < 30; offset += 1) {
      const error = await tenant1()
        .transactional(async (em) => {
          const outcome = await Promise.allSettled([
            em.execute('selec 1'),
            ticks(offset).then(() => em.transactional((tx) => tx.execute(`insert into audit_log values ('savepoint')`))),
            ticks(offset).then(() =>
              em.bypassRls((admin) => admin.execute(`insert into audit_log values ('nested bypass ' || current_user)`), { propagation: 'nested' }),
            ),
          ]);
          for (const o of outcome.slice(1)) if (o.status === 'rejected') refusals.add((o.reason as Error).name);
          throw new CallbackError('roll back');
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CallbackError);
      // Whichever went first, nothing ran outside the transaction: it all rolled back.
      expect(await auditNotes()).toEqual([]);
    }
    // Some interleavings had the savepoint wait for the failed first statement (before the fix, its
    // SAVEPOINT went out behind the failed message and PostgreSQL refused it outside a transaction).
    expect(refusals).toContain('RlsTransactionStartError');
    await connectionIsClean();
  });

  it('runs inside the transaction, with its scope, when the first statement succeeded', async () => {
    const seen = await tenant1().transactional(async (em) => {
      const [first, inner, admin] = await Promise.allSettled([
        em.execute(`${whoAmI}, txid_current()::text as xid`),
        em.transactional((tx) => tx.execute(`${whoAmI}, txid_current()::text as xid`)),
        em.bypassRls((a) => a.execute(`${whoAmI}, txid_current()::text as xid`), { propagation: 'nested' }),
      ]);
      const row = (settled: PromiseSettledResult<unknown>) => (settled.status === 'fulfilled' ? (settled.value as Record<string, unknown>[])[0] : settled.reason);
      return { first: row(first), inner: row(inner), admin: row(admin) };
    });
    expect(seen.admin).toMatchObject({ user: 'rls_test_bypass' });
    const tenantRow = { user: 'rls_test_app', role: 'none', account: '1', xid: (seen.admin as { xid: string }).xid };
    if (KYSELY_QUEUES) {
      // Kysely queues them on the transaction's one connection: those queued behind the nested step's
      // start are refused while it runs (they would run as the bypass role), the others run scoped.
      for (const other of [seen.first, seen.inner]) {
        if (other instanceof Error) expect(other).toMatchObject({ name: 'RlsConfigurationError', message: expect.stringMatching(/running a bypassRls\(cb, \{ propagation: 'nested' \}\) step/) });
        else expect(other).toMatchObject(tenantRow);
      }
    } else {
      expect(seen.first).toMatchObject(tenantRow);
      expect(seen.inner).toMatchObject(tenantRow);
    }
    await connectionIsClean();
  });
});
