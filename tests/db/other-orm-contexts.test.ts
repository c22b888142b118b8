import { RequestContext } from '@mikro-orm/core';
import { MikroORM } from '@mikro-orm/postgresql';
import { boot, type Booted } from '../fixtures/boot';
import { TEST_ROLES } from '../support/test-roles';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

// MikroORM finds the current transaction and request context by the ORM's name alone ('default'). A
// second ORM of the application with the same name (here a superuser one, as an admin or reporting ORM
// would be) must not lend its managers, connections or transactions to the RLS ORM's calls.

let t: Booted;
let other: MikroORM;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL });
  other = await MikroORM.init({ entities: tenantEntities, clientUrl: t.db.superUrl, pool: { min: 0, max: 1 } });
});
afterAll(async () => {
  await other?.close(true);
  await t?.close();
});


it('a scoped fork made inside another ORM transaction runs on the RLS ORM, with its scope', async () => {
  await other.em.fork().transactional(async () => {
    const em = t.app.em.forkWithRls({ account_id: 1 });
    expect(ids(await em.find(Project, {}))).toEqual([1, 2]);
    expect(await em.execute('select current_user as role')).toEqual([{ role: TEST_ROLES.app }]);
  });
});

it('the RLS ORM global manager inside another ORM request context does not use that ORM', async () => {
  await RequestContext.create(other.em.fork(), async () => {
    // Resolved to another ORM's fork, this would read every tenant's projects as the superuser. The RLS
    // ORM's own global manager has no scope (the fixture allows global context): no rows.
    expect(await t.app.em.find(Project, {})).toEqual([]);
    expect(await t.app.em.execute('select current_user as role')).toEqual([{ role: TEST_ROLES.app }]);
  });
});

it('a bypass fork made inside another ORM transaction runs on the RLS ORM', async () => {
  await other.em.fork().transactional(async () => {
    expect(await t.app.em.bypassRls(async (em) => em.execute('select current_user as role'))).toEqual([{ role: TEST_ROLES.bypass }]);
  });
});
