import { MikroORM } from '@mikro-orm/postgresql';
import { withRls, type RlsEntityManager } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

// Found by the third adversarial review: the driverOptions variant for a read replica. MikroORM merges a replica's own
// driverOptions last (getKnexOptions: mergeConfig({ pool }, config.driverOptions, replica.driverOptions)),
// so a replica's `driverOptions.pool.validate` replaces the guard on that replica's pool.

let t: Booted;
let orm: MikroORM & { em: RlsEntityManager };
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
  orm = (await MikroORM.init(
    withRls(
      {
        entities: tenantEntities,
        clientUrl: t.db.appUrl,
        allowGlobalContext: true,
        preferReadReplicas: true,
        pool: { min: 0, max: 1 },
        replicas: [{ name: 'r1', clientUrl: t.db.appUrl, driverOptions: { pool: { min: 0, max: 1, validate: () => true } } } as never],
      },
      { bypassRole: t.db.roles.bypass },
    ),
  )) as never;
});
afterAll(async () => {
  await orm?.close(true);
  await t?.close();
});


it("tenant 2's reads on the replica do not run as the bypass role a failed scoped message left there", async () => {
  const tenant1 = orm.em.forkWithRls({ account_id: 1 });
  await expect(tenant1.getConnection('read').execute(`set role ${t.db.roles.bypass}; commit; select 1/0`)).rejects.toThrow(/division by zero/);
  expect(ids(await orm.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
});
