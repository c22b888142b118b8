import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

// Found by the fifth adversarial review: withRls() installs the pool guard into the options once, before MikroORM.init. The
// public `orm.reconnect(options)` (and `orm.config.set('pool', ...)` followed by a reconnect) writes
// new options into the live Configuration and builds a new knex pool from them; the guard is not
// re-applied. After that, a tenant's raw SQL that commits a session-level change and then fails
// (`set role <bypass>; commit; select 1/0`) leaves it on the pooled backend for the next user.
// The app role stays NOSUPERUSER, NOBYPASSRLS and owns no RLS table. One pooled connection.


async function attack(t: Booted) {
  await expect(t.app.em.forkWithRls({ account_id: 1 }).execute(`set role ${t.db.roles.bypass}; commit; select 1/0`)).rejects.toThrow(/division by zero/);
  const [state] = await t.app.em.fork().execute(`select current_user as who`);
  const tenant2 = ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}));
  return { who: state.who, tenant2 };
}

describe('control: no reconnect', () => {
  let t: Booted;
  beforeAll(async () => {
    t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
  });
  afterAll(() => t?.close());
  it('the next user is reset', async () => {
    expect(await attack(t)).toEqual({ who: t.db.roles.app, tenant2: [3, 4] });
  });
});

describe('plain orm.reconnect() keeps the configured (guarded) pool', () => {
  let t: Booted;
  beforeAll(async () => {
    t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
    await t.app.reconnect();
  });
  afterAll(() => t?.close());
  it('the next user is reset', async () => {
    expect(await attack(t)).toEqual({ who: t.db.roles.app, tenant2: [3, 4] });
  });
});

describe('orm.reconnect({ pool }) with new pool options', () => {
  let t: Booted;
  beforeAll(async () => {
    t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
    // e.g. resizing the pool at runtime, the documented way to change options and reconnect.
    await t.app.reconnect({ pool: { min: 0, max: 1 } });
  });
  afterAll(() => t?.close());
  it('the next tenant does not run as the bypass role left by the previous one', async () => {
    expect(await attack(t)).toEqual({ who: t.db.roles.app, tenant2: [3, 4] });
  });
});

describe("orm.config.set('pool', ...) then orm.reconnect()", () => {
  let t: Booted;
  beforeAll(async () => {
    t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
    t.app.config.set('pool', { min: 0, max: 1 });
    await t.app.reconnect();
  });
  afterAll(() => t?.close());
  it('the next tenant does not run as the bypass role left by the previous one', async () => {
    expect(await attack(t)).toEqual({ who: t.db.roles.app, tenant2: [3, 4] });
  });
});

describe("orm.config.set('driverOptions', { pool }) then orm.reconnect()", () => {
  let t: Booted;
  beforeAll(async () => {
    t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
    t.app.config.set('driverOptions', { pool: { min: 0, max: 1, validate: () => true } });
    await t.app.reconnect();
  });
  afterAll(() => t?.close());
  it('the next tenant does not run as the bypass role left by the previous one', async () => {
    expect(await attack(t)).toEqual({ who: t.db.roles.app, tenant2: [3, 4] });
  });
});
