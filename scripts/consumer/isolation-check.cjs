// Copied into the consumer project by scripts/consumer-test.mjs. What a user's first script does with
// an entity that has a tenant policy: create the schema and policies as the owner, then work as the
// application role (NOSUPERUSER, NOBYPASSRLS, not the owner) and check that each tenant sees only its
// rows. The library comes in as `rls` so that tenant-isolation.cjs passes what `require` gave it and
// tenant-isolation.mjs what `import` gave it.
'use strict';
const assert = require('node:assert/strict');
const { MikroORM } = require('@mikro-orm/postgresql');
const { createTenantDatabase, assertAppRoleIsUnprivileged, dropTenantDatabase } = require('./database.cjs');

/**
 * @param rls      the mikro-orm-rls module: withRls, createPolicies, RlsViolationError
 * @param Note     an entity with `id`, `tenantId` and `body`, whose policy compares tenant_id
 * @param id       names the database and roles (see database.cjs)
 * @param label    names the script in the lines it prints
 */
async function proveTenantIsolation({ rls, Note, id, label }) {
  const superUrl = process.env.DATABASE_URL;
  if (!superUrl) throw new Error('Set DATABASE_URL to a superuser URL (it creates roles and a database).');
  const { ownerUrl, appUrl, bypassRole } = await createTenantDatabase(superUrl, id);
  let owner;
  let app;
  try {
    owner = await MikroORM.init(rls.withRls({ clientUrl: ownerUrl, entities: [Note] }));
    await owner.schema.createSchema(); // with withRls, the schema generator creates the policies too
    const operations = await rls.createPolicies(owner); // brings them to the declared state: nothing left to do
    assert.deepEqual(operations, []);
    await assertAppRoleIsUnprivileged(superUrl, id);

    app = await MikroORM.init(rls.withRls({ clientUrl: appUrl, entities: [Note] }, { bypassRole }));
    const seed = [
      { tenantId: 1, body: 'tenant 1, first' },
      { tenantId: 1, body: 'tenant 1, second' },
      { tenantId: 2, body: 'tenant 2, first' },
    ];
    await app.em.bypassRls((em) => em.insertMany(Note, seed));

    // A scoped find outside a transaction: the context travels with the statement itself.
    const tenant1 = await app.em.forkWithRls({ tenant_id: 1 }).find(Note, {}, { orderBy: { id: 'asc' } });
    assert.deepEqual(tenant1.map((n) => n.body), ['tenant 1, first', 'tenant 1, second']);
    const tenant2 = await app.em.forkWithRls({ tenant_id: 2 }).find(Note, {});
    assert.deepEqual(tenant2.map((n) => n.body), ['tenant 2, first']);

    // A scoped transaction: writes its own tenant's row, and is refused another tenant's.
    await app.em.forkWithRls({ tenant_id: 1 }).transactional(async (em) => {
      em.create(Note, { tenantId: 1, body: 'tenant 1, third' });
      await em.flush();
      assert.equal(await em.count(Note), 3);
    });
    await assert.rejects(
      app.em.forkWithRls({ tenant_id: 1 }).transactional(async (em) => {
        em.create(Note, { tenantId: 2, body: 'written by tenant 1' });
      }),
      (error) => error instanceof rls.RlsViolationError,
    );

    // Without a context the application role sees nothing; the bypass sees every row.
    assert.equal(await app.em.fork().count(Note), 0);
    assert.equal(await app.em.bypassRls((em) => em.count(Note)), 4);
    console.log(`${label}: tenant 1 sees only its 2 rows, then 3; tenant 2 its 1; no context 0; bypass all 4`);
  } finally {
    await app?.close(true);
    await owner?.close(true);
    await dropTenantDatabase(superUrl, id);
  }
}

module.exports = { proveTenantIsolation };
