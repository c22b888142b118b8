import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { healthCheck } from '../support/pool-of-either-major';

// Found by the third adversarial review: withRls() guards `options.pool`, but MikroORM merges `driverOptions` over it
// (Utils.mergeConfig({ pool: config.pool }, driverOptions)). An application that passes a pool health
// check the knex way, `driverOptions: { pool: { validate } }`, silently replaces the guard's validate:
// no reset before reuse after a failed message, no refusal of non-idle connections.
// One pooled connection, so the next user gets the same backend.


async function attack(t: Booted) {
  const bypass = t.db.roles.bypass;
  await expect(t.app.em.forkWithRls({ account_id: 1 }).execute(`set role ${bypass}; commit; select 1/0`)).rejects.toThrow(/division by zero/);
  const [state] = await t.app.em.fork().execute(`select current_user as who`);
  const tenant2 = ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}));
  return { who: state.who, tenant2 };
}

describe('control: pool options given as options.pool', () => {
  let t: Booted;
  beforeAll(async () => {
    t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
  });
  afterAll(() => t?.close());

  it('the next user is reset', async () => {
    expect(await attack(t)).toEqual({ who: t.db.roles.app, tenant2: [3, 4] });
  });
});

describe('a pool health check given through driverOptions (knex: pool.validate; pg-pool: verify)', () => {
  let t: Booted;
  const seen = { checks: 0 };
  beforeAll(async () => {
    t = await boot({
      entities: tenantEntities,
      seedSql: RESET_SQL,
      poolSize: 1,
      // An ordinary health check, as the pool documents it.
      extra: healthCheck(seen),
    });
  });
  afterAll(() => t?.close());

  it('the next tenant does not run as the bypass role left by the previous one', async () => {
    const outcome = await attack(t);
    expect(seen.checks).toBeGreaterThan(0);
    expect(outcome).toEqual({ who: t.db.roles.app, tenant2: [3, 4] });
  });
});
