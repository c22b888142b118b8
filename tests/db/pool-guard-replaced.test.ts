import { RlsConfigurationError } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';

// Pool options replaced below withRls() after init, then reconnected: the new pool lacks the guard, and
// a scoped fork's raw SQL that commits `SET ROLE <bypass>` and then fails would reach the next user.
// Scoped work is refused on such a pool instead, before any statement. Found by the sixth adversarial
// review (tests on its branch adversary6 showed the leak for each of these).

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
      await expect(t.app.em.forkWithRls({ account_id: 1 }).transactional((em) => em.find(Project, {}))).rejects.toThrow(/built without its pool guard/);
      await expect(t.app.em.bypassRls((em) => em.count(Project))).rejects.toThrow(/built without its pool guard/);
      const [who] = await t.app.em.fork().execute('select current_user as who');
      expect(who.who).toBe(t.db.roles.app);
      expect(await t.app.em.fork().count(Project)).toBe(0);
    });
  });
}

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
