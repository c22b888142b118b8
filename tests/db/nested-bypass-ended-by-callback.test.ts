import { RlsConfigurationError } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { freshBackends } from '../support/fresh-backends';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { TEST_ROLES } from '../support/test-roles';

// A nested bypass step whose callback ends the savepoint itself through the public EntityManager API
// (em.commit(): RELEASE SAVEPOINT with the role switch still in force). Found by the tenth review: the
// step took the savepoint's settled execution promise for a rollback and released its guards, and the
// caller, catching the step's error, went on as the bypass role (read and overwrote tenant 2's rows).
// Now the step refuses, with an error that says why, and rolls the caller's transaction back: nothing
// more runs in it, and nothing of it is committed.

const nested = { propagation: 'nested' } as const;
const whoAmI = `select current_user as who`;
const ENDED = /callback ended the step's savepoint itself/;
const ROLLED_BACK = /could not be undone.*the transaction was rolled back/;

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
beforeEach(async () => {
  await freshBackends(t);
  await t.db.query(RESET_SQL);
});
afterAll(() => t?.close());

/** What a caller that catches the step's error and carries on gets, and how its transaction ends. */
async function continueAfterStep(scoped: boolean, endSavepoint: (admin: typeof t.app.em) => Promise<unknown>) {
  const fork = scoped ? t.app.em.forkWithRls({ account_id: 1 }) : t.app.em.fork();
  let step: unknown;
  let next: unknown;
  const ending = await fork
    .transactional(async (tx) => {
      if (scoped) await tx.find(Project, {});
      step = await tx.bypassRls(endSavepoint, nested).catch((error: unknown) => error);
      next = await tx.nativeUpdate(Project, { id: 3 }, { title: 'taken over' }).catch((error: unknown) => error);
    })
    .then(
      () => 'committed',
      (error: unknown) => error,
    );
  return { step, next, ending };
}

it.each([
  ['admin.commit()', (admin: typeof t.app.em) => admin.commit()],
  ['admin.getConnection().commit(ctx)', (admin: typeof t.app.em) => admin.getConnection().commit(admin.getTransactionContext()!)],
])('a callback that ends its savepoint with %s is refused, and the caller can do nothing more in its transaction', async (_label, end) => {
  for (const scoped of [true, false]) {
    const { step, next } = await continueAfterStep(scoped, async (admin) => {
      await admin.count(Project);
      await end(admin);
    });
    expect(step).toBeInstanceOf(RlsConfigurationError);
    expect((step as Error).message).toMatch(ENDED);
    expect(next).toBeInstanceOf(RlsConfigurationError);
    expect((next as Error).message).toMatch(ROLLED_BACK);
  }
  // Nothing of tenant 2 changed, and the connection's next users are the application role, isolated.
  expect(await t.db.query(`select title from projects where id = 3`)).toEqual([{ title: 'p3' }]);
  expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
  expect(await t.app.em.fork().execute(whoAmI)).toEqual([{ who: TEST_ROLES.app }]);
});
