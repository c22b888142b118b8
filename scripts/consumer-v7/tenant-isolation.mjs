// Copied into the MikroORM 7 consumer project by scripts/consumer-test-v7.mjs: an ES module user on Node 22
// and MikroORM 7. As the application role (NOSUPERUSER, NOBYPASSRLS, owns nothing): two tenants over the
// main query paths, fail closed, bypass, pool hygiene (the next user of a connection sees no scope) and
// one round trip per scoped read.   node tenant-isolation.mjs <database id>
import assert from 'node:assert/strict';
import pg from 'pg';
import { MikroORM } from '@mikro-orm/postgresql';
import * as rls from 'mikro-orm-rls';
import { Note } from './entities.js';
import database from './database.cjs';

const { createTenantDatabase, assertAppRoleIsUnprivileged, dropTenantDatabase } = database;
const id = process.argv[2];
const superUrl = process.env.DATABASE_URL;
if (!superUrl) throw new Error('Set DATABASE_URL to a superuser URL (it creates roles and a database).');

// Round trips: node-postgres sends one message per Client#query call (MikroORM 7 sends no bound
// parameters, so each is one simple-protocol message); counted on the pg the project installed, which
// must be the one MikroORM uses (one copy: pg@8.23.0 exactly, as @mikro-orm/postgresql pins it).
let messages = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(...args) {
  messages += 1;
  return query.apply(this, args);
};
async function roundTripsOf(work) {
  const before = messages;
  const result = await work();
  return { result, roundTrips: messages - before };
}

const { ownerUrl, appUrl, bypassRole } = await createTenantDatabase(superUrl, id);
let owner;
let app;
try {
  owner = await MikroORM.init(rls.withRls({ clientUrl: ownerUrl, entities: [Note] }));
  await owner.schema.create();
  assert.deepEqual(await rls.createPolicies(owner), []);
  await assertAppRoleIsUnprivileged(superUrl, id);

  app = await MikroORM.init(rls.withRls({ clientUrl: appUrl, entities: [Note], pool: { min: 1, max: 1 } }, { bypassRole }));
  await app.em.bypassRls((em) =>
    em.insertMany(Note, [
      { tenantId: 1, body: 'tenant 1, first' },
      { tenantId: 1, body: 'tenant 1, second' },
      { tenantId: 2, body: 'tenant 2, first' },
    ]),
  );
  const t1 = () => app.em.forkWithRls({ tenant_id: 1 });
  const t2 = () => app.em.forkWithRls({ tenant_id: 2 });

  // Query paths, each for both tenants.
  assert.deepEqual((await t1().find(Note, {}, { orderBy: { id: 'asc' } })).map((n) => n.body), ['tenant 1, first', 'tenant 1, second']);
  assert.deepEqual((await t2().find(Note, {})).map((n) => n.body), ['tenant 2, first']);
  assert.equal(await t1().count(Note), 2);
  assert.equal(await t2().count(Note), 1);
  assert.equal((await t1().createQueryBuilder(Note).getResult()).length, 2);
  assert.deepEqual(await t2().getConnection().execute('select count(*)::int as n from notes'), [{ n: 1 }]);
  assert.deepEqual((await t2().findAndCount(Note, {}))[1], 1);
  // Kysely and streams: inside a scoped transaction; outside one they are refused (their bound parameters
  // and cursors cannot share the message that carries the scope, so they would run unscoped).
  assert.deepEqual(await t1().transactional((em) => em.getKysely().selectFrom('notes').select('body').orderBy('id').execute()), [{ body: 'tenant 1, first' }, { body: 'tenant 1, second' }]);
  assert.deepEqual(await t2().transactional((em) => em.getKysely().selectFrom('notes').select('body').execute()), [{ body: 'tenant 2, first' }]);
  assert.throws(() => t2().getKysely(), (error) => error instanceof rls.RlsConfigurationError);
  const streamed = await t2().transactional(async (em) => {
    const bodies = [];
    for await (const note of em.createQueryBuilder(Note).stream()) bodies.push(note.body);
    return bodies;
  });
  assert.deepEqual(streamed, ['tenant 2, first']);
  assert.equal(await t1().findOne(Note, { body: 'tenant 2, first' }), null);
  assert.equal(await t2().nativeUpdate(Note, { tenantId: 1 }, { body: 'hijacked' }), 0);
  assert.equal(await t2().nativeDelete(Note, { tenantId: 1 }), 0);

  // A scoped transaction writes its own tenant's row and is refused another tenant's.
  await t1().transactional(async (em) => {
    em.create(Note, { tenantId: 1, body: 'tenant 1, third' });
    await em.flush();
    assert.equal(await em.count(Note), 3);
  });
  await assert.rejects(
    t1().transactional(async (em) => {
      em.create(Note, { tenantId: 2, body: 'written by tenant 1' });
    }),
    (error) => error instanceof rls.RlsViolationError,
  );

  // Fail closed: no context, no rows and no writes; an invalid context sends no SQL.
  assert.equal(await app.em.fork().count(Note), 0);
  await assert.rejects(app.em.fork().insert(Note, { tenantId: 1, body: 'no context' }));
  const invalid = await roundTripsOf(() => assert.rejects(async () => app.em.forkWithRls({ tenant_id: 'one' }).find(Note, {})));
  assert.equal(invalid.roundTrips, 0);

  // Bypass sees every row; it is scoped to its callback.
  assert.equal(await app.em.bypassRls((em) => em.count(Note)), 4);
  assert.equal(await app.em.fork().count(Note), 0);

  // One round trip per scoped read outside a transaction.
  const read = await roundTripsOf(() => t2().find(Note, {}));
  assert.deepEqual({ rows: read.result.length, roundTrips: read.roundTrips }, { rows: 1, roundTrips: 1 });

  // Pool hygiene: the pool has one connection; after scoped work, bypass and a failed transaction, its
  // next user sees no scope and no role switch.
  // (em.execute: the statement runs in the transaction; em.getConnection().execute would ask the pool for
  // a second connection, which max: 1 never gives while the transaction holds the first.)
  await assert.rejects(t1().transactional(async (em) => em.execute('select 1/0')));
  const [state] = await app.em.fork().getConnection().execute(
    "select current_setting('rls.tenant_id', true) as tenant, current_user as role, pg_catalog.txid_current_if_assigned() as txid",
  );
  assert.deepEqual({ tenant: state.tenant || null, role: state.role, txid: state.txid }, { tenant: null, role: `${id}_app`, txid: null });
  console.log('MikroORM 7, ES module: two tenants isolated on find, count, findAndCount, QueryBuilder, its stream and Kysely (in a transaction; refused outside), execute, findOne, nativeUpdate, nativeDelete and flush; fail closed; bypass; pool hygiene; 1 round trip per scoped read');
} finally {
  await app?.close(true);
  await owner?.close(true);
  await dropTenantDatabase(superUrl, id);
}
