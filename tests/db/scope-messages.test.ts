import { EntityManager } from '@mikro-orm/core';
import { MikroORM } from '@mikro-orm/postgresql';
import { RlsConfigurationError, RlsScopeEscapeError } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { mikroOrmTreeOfThisRun } from '../support/mikro-orm-tree';
import { rawOnTransaction } from '../support/raw-on-transaction';

// The scope travels in the same message as the caller's SQL (outside a transaction) or as the first
// statement of a transaction, with BEGIN. What could go wrong with that, each a test that would fail
// if it did. The pool has one connection, so "the next user" is the same backend.

let t: Booted;
const tenant1 = () => t.app.em.forkWithRls({ account_id: 1 });
const tenant2 = () => t.app.em.forkWithRls({ account_id: 2 });
// A table without RLS: a statement that escaped its transaction would keep its write there.
const AUDIT = `create table if not exists audit_log (note text); grant select, insert on audit_log to rls_test_app, rls_test_bypass; truncate audit_log;`;
const auditNotes = async () => (await t.db.query<{ note: string }>(`select note from audit_log order by note`)).map((r) => r.note);

beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
beforeEach(() => t.db.query(RESET_SQL + AUDIT));
afterAll(() => t?.close());

async function connectionIsClean() {
  const sessions = await t.db.query<{ state: string }>(`select state from pg_stat_activity where datname = current_database() and usename = 'rls_test_app' and state like 'idle in transaction%'`);
  expect(sessions).toEqual([]);
  expect(ids(await t.app.em.fork().find(Project, {}))).toEqual([]);
  const [state] = await t.app.em.fork().execute(`select current_user as "user", current_setting('rls.account_id', true) as account`);
  expect(state).toEqual({ user: 'rls_test_app', account: expect.stringMatching(/^$/) });
}

describe('SQL outside a transaction that opens one', () => {
  it.each([
    ['a scoped fork', () => tenant1()],
    ['a bypass fork', () => t.app.em.bypassRls()],
  ])('is refused for %s, rolled back, and leaves the connection clean', async (_label, fork) => {
    await expect(fork().execute(`begin; insert into audit_log values ('kept?')`)).rejects.toThrow(RlsScopeEscapeError);
    expect(await auditNotes()).toEqual([]);
    await connectionIsClean();
    expect(ids(await tenant2().find(Project, {}))).toEqual([3, 4]);
  });

  it('is rolled back when it fails, too', async () => {
    await expect(tenant1().execute(`begin; select 1/0`)).rejects.toThrow(/division by zero/);
    await connectionIsClean();
  });
});

describe('the transaction start sent with the first statement', () => {
  it('still happens when the first statement is rejected before anything runs (syntax error)', async () => {
    let seen: number[] = [];
    await tenant1()
      .transactional(async (em) => {
        await em.execute('selec 1').catch(() => undefined);
        seen = ids(await em.find(Project, {}));
        await em.execute(`insert into audit_log values ('rolled back')`);
        throw new Error('roll back');
      })
      .catch(() => undefined);
    expect(seen).toEqual([1, 2]);
    expect(await auditNotes()).toEqual([]);
    await connectionIsClean();
  });

  it('is not sent twice when the first statement failed after BEGIN ran', async () => {
    const error = await tenant1()
      .transactional(async (em) => {
        await em.execute('select 1/0').catch(() => undefined);
        await em.execute('select 1');
      })
      .catch((e: unknown) => e);
    expect(String(error)).toMatch(/current transaction is aborted/);
    await connectionIsClean();
  });

  it('goes out before a statement sent concurrently with a savepoint, whatever the interleaving', async () => {
    const ticks = async (n: number) => {
      for (let i = 0; i < n; i += 1) await Promise.resolve();
    };
    const seen = new Set<string>();
    for (let offset = 0; offset < 40; offset += 1) {
      const outcome = await tenant1().transactional(async (em) => {
        const statement = em.execute(`select current_setting('rls.account_id', true) as account, txid_current()::text as xid`);
        await ticks(offset);
        const [[row], [nested]] = await Promise.all([statement, em.transactional(async (tx) => tx.execute(`select txid_current()::text as xid`))]);
        return { account: row.account, sameTransaction: row.xid === nested.xid };
      });
      seen.add(JSON.stringify(outcome));
    }
    // Always the scope, and always inside the transaction.
    expect([...seen]).toEqual([JSON.stringify({ account: '1', sameTransaction: true })]);
  });

  it('answers a statement-less first statement with a result of its own', async () => {
    const first = await tenant1().transactional((em) => em.execute('/* nothing */'));
    (first as unknown[]).push({ leaked: true });
    expect(await tenant2().transactional((em) => em.execute('/* nothing */'))).toEqual([]);
  });
});

describe("another fork's transaction", () => {
  it('is refused by a scoped fork, as ctx of a statement or of a nested transaction', async () => {
    await tenant1().transactional(async (em) => {
      const trx = em.getTransactionContext()!;
      await expect(tenant2().getConnection().execute('select 1', [], 'all', trx)).rejects.toThrow(RlsConfigurationError);
      await expect(tenant2().transactional(async () => undefined, { ctx: trx })).rejects.toThrow(RlsConfigurationError);
      await expect(t.app.em.bypassRls().getConnection().execute('select 1', [], 'all', trx)).rejects.toThrow(RlsConfigurationError);
    });
  });

  // MikroORM 6 runs knex queries on the transaction they are bound to; MikroORM 7 has no knex, and its
  // transaction is a Kysely transaction: each run gets the attack its major allows.
  if (mikroOrmTreeOfThisRun() === 'root') {
    it('is refused when a knex query bound to it is passed to a scoped fork (MikroORM 6)', async () => {
      await tenant1().transactional(async (em) => {
        const trx = em.getTransactionContext()!;
        const raw = trx.raw(`select current_setting('rls.account_id') as account`);
        await expect(tenant2().execute(raw)).rejects.toThrow(RlsConfigurationError);
        await expect(tenant2().getConnection().execute(trx('projects').select('id'))).rejects.toThrow(RlsConfigurationError);
        await expect(t.app.em.bypassRls().execute(trx.raw('select count(*) from projects'))).rejects.toThrow(/did not open/);
        // Its own transaction's bound queries still run, with its own context.
        expect(await em.execute(raw)).toEqual([{ account: '1' }]);
      });
    });
  } else {
    // MikroORM 7's em.execute takes SQL (a string, raw() or its own query builder), not a Kysely query;
    // what hands a fork another fork's Kysely transaction is setTransactionContext (ctx is the test above).
    it('is refused when the Kysely transaction is set as a scoped fork\'s transaction context (MikroORM 7)', async () => {
      await tenant1().transactional(async (em) => {
        const trx = em.getTransactionContext();
        const adopted = tenant2();
        // Refused where it is set (see tests/db/kysely-on-scoped-fork.test.ts for em.getKysely())...
        expect(() => adopted.setTransactionContext(trx as never)).toThrow(/did not open/);
        expect(() => t.app.em.bypassRls().setTransactionContext(trx as never)).toThrow(/did not open/);
        // ...and, set past that refusal (MikroORM's own setTransactionContext), by every statement.
        EntityManager.prototype.setTransactionContext.call(adopted, trx as never);
        await expect(adopted.execute(`select current_setting('rls.account_id') as account`)).rejects.toThrow(/did not open/);
        await expect(adopted.find(Project, {})).rejects.toThrow(/did not open/);
        const bypass = t.app.em.bypassRls();
        EntityManager.prototype.setTransactionContext.call(bypass, trx as never);
        await expect(bypass.execute('select count(*) from projects')).rejects.toThrow(/did not open/);
        // Its own transaction's Kysely queries still run, with its own context.
        expect(await rawOnTransaction(trx, `select current_setting('rls.account_id') as account`)).toEqual([{ account: '1' }]);
      });
    });
  }

  it('is refused when it is unscoped', async () => {
    const unscoped = await MikroORM.init({ entities: tenantEntities, clientUrl: t.db.appUrl, pool: { min: 0, max: 1 } });
    try {
      await unscoped.em.fork().transactional(async (em) => {
        await expect(tenant1().getConnection().execute('select 1', [], 'all', em.getTransactionContext())).rejects.toThrow(RlsConfigurationError);
      });
    } finally {
      await unscoped.close(true);
    }
  });
});
