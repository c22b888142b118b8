import { RlsConfigurationError } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

// The strict role check ("scoped queries refuse to run as a role RLS does not apply to, on the primary and
// each replica") after orm.reconnect() with other credentials (orm.reconnect({ clientUrl }), or
// orm.config.set('user' | 'clientUrl', ...) then orm.reconnect(), e.g. a credentials rotation that points
// at the wrong role). Found by the seventh review: the check was remembered per MikroORM connection
// object, which survives a reconnect, so scoped queries ran unchecked on the new pool, as a superuser,
// and a tenant's fork saw every tenant's rows. It is now remembered per pool.

let t: Booted;
beforeEach(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
afterEach(() => t?.close());


/** What tenant 1 gets: its own rows, or a refusal. */
async function tenantOne(): Promise<number[] | 'refused'> {
  try {
    return ids(await t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}));
  } catch (error) {
    if (error instanceof RlsConfigurationError) return 'refused';
    throw error;
  }
}

it('after orm.reconnect({ clientUrl }) as a superuser, scoped queries are refused (or still scoped)', async () => {
  expect(await tenantOne()).toEqual([1, 2]);
  await t.app.reconnect({ clientUrl: t.db.superUrl } as never);
  const [who] = await t.app.em.fork().execute('select current_user as who');
  expect(who.who).toBe('postgres');
  expect([[1, 2], 'refused']).toContainEqual(await tenantOne());
});

it("after orm.config.set('clientUrl', <superuser>) and orm.reconnect(), scoped queries are refused (or still scoped)", async () => {
  expect(await tenantOne()).toEqual([1, 2]);
  t.app.config.set('clientUrl', t.db.superUrl);
  await t.app.reconnect();
  expect([[1, 2], 'refused']).toContainEqual(await tenantOne());
});

it('after orm.reconnect({ clientUrl }) as a superuser, tenant 1 cannot overwrite a row of tenant 2', async () => {
  expect(await tenantOne()).toEqual([1, 2]);
  await t.app.reconnect({ clientUrl: t.db.superUrl } as never);
  const outcome = await t.app.em
    .forkWithRls({ account_id: 1 })
    .nativeUpdate(Project, { id: 3 }, { title: 'overwritten by tenant 1' })
    .catch((error: unknown) => (error instanceof RlsConfigurationError ? 'refused' : Promise.reject(error)));
  expect([0, 'refused']).toContain(outcome);
  expect(await t.db.query(`select title from projects where id = 3`)).toEqual([{ title: 'p3' }]);
});
