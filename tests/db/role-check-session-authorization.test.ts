import { RlsConfigurationError } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { tenantOrmAt } from '../support/tenant-orm';
import { ids } from '../support/ids';
import { onNewConnection } from '../support/pool-of-either-major';

// The role check (wiring/role-check.ts) checks the role RESET SESSION AUTHORIZATION returns to. Found by the
// ninth review: a superuser login that switched to the application role with SET SESSION AUTHORIZATION
// passed (current_user and the session user were both the application role), and raw SQL of one tenant
// could return the pooled connection to the superuser for the next.


let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL });
});
afterAll(() => t?.close());

const ormAt = tenantOrmAt;

it('a superuser login that drops to the application role with SET SESSION AUTHORIZATION in afterCreate: a tenant cannot hand the superuser to the next tenant', async () => {
  // The check reads current_user (the application role) and the role RESET ROLE returns to (the
  // session user, now the application role too): both pass. But the AUTHENTICATED user is still the
  // superuser, and `RESET SESSION AUTHORIZATION` (any raw SQL can run it; the session reset does not
  // undo it) returns the connection to it for good.
  const orm = await ormAt(t.db.superUrl, onNewConnection((connection) => connection.query(`set session authorization ${t.db.roles.app}`)));
  try {
    const first = await orm.em.forkWithRls({ account_id: 1 }).execute('reset session authorization').then(
      () => 'ran',
      (error: unknown) => (error instanceof RlsConfigurationError ? 'refused' : String(error)),
    );
    const next = await orm.em.forkWithRls({ account_id: 2 }).find(Project, {}).then(
      (rows) => JSON.stringify(ids(rows)),
      (error: unknown) => (error instanceof RlsConfigurationError ? 'refused' : String(error)),
    );
    expect({ first, next }).toEqual({ first: 'refused', next: 'refused' });
    await expect(orm.em.forkWithRls({ account_id: 2 }).find(Project, {})).rejects.toThrow(/return them to "postgres", which is a superuser/);
  } finally {
    await orm.close(true);
  }
});
