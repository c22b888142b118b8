import { Client as PgClient } from 'pg';
import { RlsConfigurationError } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { onMikroOrm7 } from '../support/pool-of-either-major';

// Pool options replaced below withRls() after init, then reconnected: the new pool lacks the guard, and
// a scoped fork's raw SQL that commits `SET ROLE <bypass>` and then fails would reach the next user.
// Scoped work is refused on such a pool instead, before any statement. Found by the sixth adversarial
// review (tests on its branch adversary6 showed the leak for each of these).

// The refusal names what the pool lacks: knex's pool guard (MikroORM 6), the package's pg client (MikroORM 7).
const BUILT_UNGUARDED = onMikroOrm7 ? /built without its pg client/ : /built without its pool guard/;

function scenario(name: string, replace: (t: Booted) => void) {
  describe(name, () => {
    let t: Booted;
    beforeAll(async () => {
      t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
      replace(t);
      await t.app.reconnect();
    });
    afterAll(() => t?.close());

    it('scoped and bypass work is refused, before any statement; unscoped forks still see no rows', async () => {
      await expect(t.app.em.forkWithRls({ account_id: 1 }).execute(`set role ${t.db.roles.bypass}; commit; select 1/0`)).rejects.toThrow(RlsConfigurationError);
      await expect(t.app.em.forkWithRls({ account_id: 1 }).transactional((em) => em.find(Project, {}))).rejects.toThrow(BUILT_UNGUARDED);
      await expect(t.app.em.bypassRls((em) => em.count(Project))).rejects.toThrow(BUILT_UNGUARDED);
      const [who] = await t.app.em.fork().execute('select current_user as who');
      expect(who.who).toBe(t.db.roles.app);
      expect(await t.app.em.fork().count(Project)).toBe(0);
    });
  });
}

if (!onMikroOrm7) {
  // MikroORM 6: the guard is knex's pool validate, in the pool options.
  scenario("orm.config.reset('pool')", (t) => t.app.config.reset('pool'));
  scenario('a write into orm.config.getAll().pool', (t) => {
    (t.app.config.getAll() as { pool: unknown }).pool = { min: 0, max: 1 };
  });
  scenario("Object.assign(orm.config.get('pool'), { validate })", (t) => {
    Object.assign(t.app.config.get('pool')!, { validate: () => true });
  });
  scenario('a write into orm.config.getAll().driverOptions', (t) => {
    (t.app.config.getAll() as { driverOptions: unknown }).driverOptions = { pool: { min: 0, max: 1, validate: () => true } };
  });
} else {
  // MikroORM 7: the guard is the pg Client class, in driverOptions (merged into the pg Pool's options).
  scenario("orm.config.reset('driverOptions')", (t) => t.app.config.reset('driverOptions'));
  scenario('a write into orm.config.getAll().driverOptions', (t) => {
    (t.app.config.getAll() as { driverOptions: unknown }).driverOptions = { max: 1 };
  });
  scenario("Object.assign(orm.config.get('driverOptions'), { Client: pg.Client })", (t) => {
    Object.assign(t.app.config.get('driverOptions') as object, { Client: PgClient });
  });
}
