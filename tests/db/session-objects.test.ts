import { Client } from 'pg';
import { boot, type Booted } from '../fixtures/boot';
import { RESET_SQL, tenantEntities } from '../fixtures/tenant-model';

// Session objects that raw SQL of a scoped or bypass fork can leave on a pooled connection, besides the
// role and the context variables: a WITH HOLD cursor (its rows were read under that scope, and the next
// user can fetch them by name), LISTEN registrations, session advisory locks. The session reset undoes
// them in the same message. Found by the second adversarial review. Pool of one: the next user gets
// the same backend.

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
afterAll(() => t?.close());

it("a WITH HOLD cursor of tenant 1's rows cannot be fetched by tenant 2", async () => {
  await t.app.em.forkWithRls({ account_id: 1 }).transactional((em) => em.execute('declare shared_cursor cursor with hold for select id from projects order by id'));
  await expect(t.app.em.forkWithRls({ account_id: 2 }).execute('fetch all from shared_cursor')).rejects.toThrow(/cursor "shared_cursor" does not exist/);
});

it("a bypass fork's WITH HOLD cursor (every tenant's rows) is gone after its message", async () => {
  await t.app.em.bypassRls().execute('begin; declare everything cursor with hold for select id from projects; commit');
  await expect(t.app.em.fork().execute('fetch all from everything')).rejects.toThrow(/cursor "everything" does not exist/);
});

it('LISTEN registrations and session advisory locks do not stay on the connection', async () => {
  await t.app.em.forkWithRls({ account_id: 1 }).execute("listen tenant_1_events; select pg_advisory_lock(4242)");
  expect(await t.app.em.forkWithRls({ account_id: 2 }).execute('select pg_listening_channels() as channel')).toEqual([]);
  // Another session can take the lock at once: the pooled connection no longer holds it.
  const other = new Client({ connectionString: t.db.superUrl });
  await other.connect();
  try {
    expect((await other.query('select pg_try_advisory_lock(4242) as locked')).rows).toEqual([{ locked: true }]);
  } finally {
    await other.end();
  }
});
