import { EntityManager } from '@mikro-orm/core';
import { RlsConfigurationError } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { expectNextUsersIsolated } from '../support/next-users-isolated';

// Kysely on a scoped fork (MikroORM 7 only: em.getKysely() and Kysely's builders; in tests/v7-only.txt).
// em.execute() takes SQL, not a Kysely query: a scoped fork says so, and where to run the query instead.
// em.getKysely() hands out the manager's transaction: a scoped fork whose transaction context is another
// fork's (set with setTransactionContext, or kept with keepTransactionContext) must not hand that out.

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 2 });
});
beforeEach(() => t.db.query(RESET_SQL));
afterAll(() => t?.close());

// Kysely's builders, untyped: the root type-check (v6) has no Kysely types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const kyselyOf = (em: unknown): any => (em as { getKysely(): unknown }).getKysely();
const outcome = (work: () => unknown) =>
  Promise.resolve()
    .then(work)
    .then(
      (rows) => JSON.stringify(rows),
      (error: Error) => `${error.constructor.name}: ${error.message}`,
    );
const KYSELY_REFUSED = /^RlsConfigurationError: em\.execute\(\) .*takes SQL.*not a Kysely query.*em\.getKysely\(\) is scoped: .*em\.transactional\(/;
const FOREIGN_REFUSED = /^RlsConfigurationError: .*a transaction it did not open.*another fork's.*own em\.transactional\(\)/;

describe('em.execute() given a Kysely query', () => {
  // A builder of the application's Kysely, unscoped (any Kysely query of the same shape would do).
  const builder = () => kyselyOf(t.app.em.fork()).selectFrom('projects').select('id');

  it.each([
    ['a query builder', () => builder()],
    ['a compiled query with bound parameters', () => builder().where('id', '>', 0).compile()],
  ])('is refused on a scoped fork outside a transaction (%s), saying what to do', async (_label, query) => {
    const scoped = t.app.em.forkWithRls({ account_id: 1 });
    expect(await outcome(() => scoped.execute(query() as never))).toMatch(KYSELY_REFUSED);
    expect(await outcome(() => scoped.getConnection().execute(query() as never))).toMatch(KYSELY_REFUSED);
    await expectNextUsersIsolated(t);
  });

  it('is refused inside a scoped transaction too, and what it says to do instead is scoped', async () => {
    const seen = await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
      const refused = await outcome(() => tx.execute(kyselyOf(tx).selectFrom('projects').select('id') as never));
      const instead = await kyselyOf(tx).selectFrom('projects').select('id').orderBy('id').execute();
      return { refused, instead: instead.map((r: { id: number }) => r.id) };
    });
    expect(seen.refused).toMatch(KYSELY_REFUSED);
    expect(seen.instead).toEqual([1, 2]);
    await expectNextUsersIsolated(t);
  });

  it('SQL strings, raw() and MikroORM query builders still run, scoped', async () => {
    const scoped = t.app.em.forkWithRls({ account_id: 1 });
    expect(await scoped.execute('select id from projects order by id')).toEqual([{ id: 1 }, { id: 2 }]);
    const qb = scoped.createQueryBuilder(Project).select('id').orderBy({ id: 'asc' });
    expect(ids(await qb.getResultList())).toEqual([1, 2]);
  });
});

describe("em.getKysely() of a scoped fork holding another fork's transaction", () => {
  it('after setTransactionContext(another tenant fork\'s transaction): refused, no row of the other tenant read', async () => {
    const seen = await t.app.em.forkWithRls({ account_id: 2 }).transactional(async (other) => {
      await other.find(Project, {});
      const mine = t.app.em.forkWithRls({ account_id: 1 });
      const set = await outcome(() => mine.setTransactionContext(other.getTransactionContext()));
      const kysely = await outcome(() => kyselyOf(mine).selectFrom('projects').select('id').orderBy('id').execute());
      return { set, kysely };
    });
    expect(seen.set).toMatch(FOREIGN_REFUSED);
    expect(seen.kysely).not.toMatch(/3/);
    await expectNextUsersIsolated(t);
  });

  it('after setTransactionContext(an unscoped transaction): refused', async () => {
    const seen = await t.app.em.fork().transactional(async (plain) => {
      await plain.execute('select 1');
      return outcome(() => t.app.em.forkWithRls({ account_id: 1 }).setTransactionContext(plain.getTransactionContext()));
    });
    expect(seen).toMatch(FOREIGN_REFUSED);
  });

  it('a forkWithRls given keepTransactionContext (not in its options type) starts without the parent\'s transaction', async () => {
    const seen = await t.app.em.forkWithRls({ account_id: 2 }).transactional(async (other) => {
      await other.find(Project, {});
      const mine = other.forkWithRls({ account_id: 1 }, { keepTransactionContext: true } as never);
      return { trx: mine.getTransactionContext() === undefined, kysely: await outcome(() => kyselyOf(mine).selectFrom('projects').select('id').execute()) };
    });
    // Outside a transaction, a scoped fork's getKysely() is refused (see scoped-connection.ts).
    expect(seen).toEqual({ trx: true, kysely: expect.stringMatching(/^RlsConfigurationError: em\.getKysely\(\).*outside a transaction is refused/) });
    await expectNextUsersIsolated(t);
  });

  it("getKysely() refuses a foreign transaction however the fork got it (the refusal does not rely on setTransactionContext's)", async () => {
    const seen = await t.app.em.forkWithRls({ account_id: 2 }).transactional(async (other) => {
      await other.find(Project, {});
      const mine = t.app.em.forkWithRls({ account_id: 1 });
      // What MikroORM's own setTransactionContext does, past this package's override.
      EntityManager.prototype.setTransactionContext.call(mine, other.getTransactionContext());
      return outcome(() => kyselyOf(mine).selectFrom('projects').select('id').execute());
    });
    expect(seen).toMatch(FOREIGN_REFUSED);
    await expectNextUsersIsolated(t);
  });

  it("the fork's own transaction and savepoints are its own: getKysely() works there (in a nested bypass step it is refused: only the admin manager's MikroORM methods run)", async () => {
    const seen = await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
      const own = await kyselyOf(tx).selectFrom('projects').select('id').orderBy('id').execute();
      const nested = await tx.transactional(async (inner) => kyselyOf(inner).selectFrom('projects').select('id').orderBy('id').execute());
      const other = t.app.em.forkWithRls({ account_id: 1 });
      other.setTransactionContext(tx.getTransactionContext()); // the same context: the same scope
      const same = await kyselyOf(other).selectFrom('projects').select('id').orderBy('id').execute();
      const rawInStep = await tx.bypassRls((admin) => outcome(() => kyselyOf(admin).selectFrom('projects').select('id').orderBy('id').execute()), { propagation: 'nested' });
      const bypassed = await tx.bypassRls((admin) => admin.find(Project, {}, { orderBy: { id: 'asc' } }), { propagation: 'nested' });
      return { rows: [own, nested, same, bypassed].map((rows: { id: number }[]) => rows.map((r) => r.id)), rawInStep };
    });
    expect(seen.rows).toEqual([[1, 2], [1, 2], [1, 2], [1, 2, 3, 4]]);
    expect(seen.rawInStep).toMatch(/raw Kysely on any transaction \(em\.getKysely\(\) included\) is refused during the step/);
    await expectNextUsersIsolated(t);
  });
});

it('the refusals are RlsConfigurationErrors', async () => {
  const scoped = t.app.em.forkWithRls({ account_id: 1 });
  await expect(scoped.execute(kyselyOf(t.app.em.fork()).selectFrom('projects').select('id') as never)).rejects.toBeInstanceOf(RlsConfigurationError);
});
