import { RlsConfigurationError } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { tenantOrmAt } from '../support/tenant-orm';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { onNewConnection } from '../support/pool-of-either-major';

// Attacks of the ninth adversarial review on the role check that were refused, through afterCreate and
// role-level defaults: direct connections only (through a transaction-mode PgBouncer, server connections
// made before an ALTER ROLE ... SET do not have it). Each asserts the secure outcome.


let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
afterAll(() => t?.close());

const ormAt = tenantOrmAt;


describe('role check', () => {
  it("a superuser login with set_config('role', <app>, false) in afterCreate is refused", async () => {
    const orm = await ormAt(t.db.superUrl, onNewConnection((connection) => connection.query(`select set_config('role', '${t.db.roles.app}', false)`)));
    try {
      await expect(orm.em.forkWithRls({ account_id: 1 }).find(Project, {})).rejects.toThrow(RlsConfigurationError);
    } finally {
      await orm.close(true);
    }
  });

  it('a role-level default set by a superuser for the login in this database (role = <bypass>) is refused', async () => {
    await t.db.query(`alter role ${t.db.roles.app} in database ${t.db.name} set role = ${t.db.roles.bypass}`);
    const orm = await ormAt(t.db.appUrl);
    try {
      await expect(orm.em.forkWithRls({ account_id: 1 }).find(Project, {})).rejects.toThrow(RlsConfigurationError);
    } finally {
      await orm.close(true);
      await t.db.query(`alter role ${t.db.roles.app} in database ${t.db.name} reset role`);
    }
  });

  it('the check leaves no transaction and no role switch behind on its connection', async () => {
    const orm = await ormAt(t.db.superUrl, onNewConnection((connection) => connection.query(`set role ${t.db.roles.app}`)));
    try {
      await expect(orm.em.forkWithRls({ account_id: 1 }).find(Project, {})).rejects.toThrow(RlsConfigurationError);
      // The hook's SET ROLE is reset before a connection's first use (as any unscoped work's is), so the
      // connection runs as its login; a switch of the check's own would show as another role.
      expect(await orm.em.fork().execute(`select current_user as who, (select count(*)::int from pg_stat_activity where datname = current_database() and state like 'idle in transaction%') as open`)).toEqual([
        { who: 'postgres', open: 0 },
      ]);
    } finally {
      await orm.close(true);
    }
  });
});
