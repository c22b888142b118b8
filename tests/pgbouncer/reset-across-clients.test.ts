import { MikroORM } from '@mikro-orm/postgresql';
import { withRls, type RlsEntityManager } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { PGBOUNCER_ADDR_ENV, startPgBouncer, type PgBouncer } from '../support/pgbouncer';
import { superuserUrl } from '../support/superuser-url';
import { ids } from '../support/ids';

// Found by the third adversarial review: the reset of a failed scoped message (`set role x; commit; select 1/0`) is deferred to the
// pool guard's validate, which runs it on the same *client* connection before its next use. Through
// PgBouncer in transaction mode (documented as safe) the client connection is not the backend: the
// backend goes back to PgBouncer at the failed message's ReadyForQuery (idle), still set to the bypass
// role, and the next transaction of any other client (another app instance) gets it (PgBouncer reuses
// server connections LIFO). Uses the suite's PgBouncer under RLS_TEST_PGBOUNCER=1, or starts its own.

let t: Booted;
let own: PgBouncer | undefined;
let appUrl: string;
let other: MikroORM & { em: RlsEntityManager };
let attacker: MikroORM & { em: RlsEntityManager };
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
  let address = process.env[PGBOUNCER_ADDR_ENV];
  if (!address) {
    own = await startPgBouncer(superuserUrl());
    address = own.address;
  }
  const routed = new URL(t.db.appUrl);
  routed.host = address;
  appUrl = routed.toString();
  // Two instances of the application behind the same PgBouncer, one pooled connection each.
  attacker = (await MikroORM.init(withRls({ entities: tenantEntities, clientUrl: appUrl, allowGlobalContext: true, pool: { min: 0, max: 1 } }, { bypassRole: t.db.roles.bypass }))) as never;
  other = (await MikroORM.init(withRls({ entities: tenantEntities, clientUrl: appUrl, allowGlobalContext: true, pool: { min: 0, max: 1 } }, { bypassRole: t.db.roles.bypass }))) as never;
});
afterAll(async () => {
  await other?.close(true);
  await attacker?.close(true);
  await t?.close();
  await own?.stop();
});


it('tenant 2 on another app instance does not get the backend a failed scoped message left as the bypass role', async () => {
  // Baseline, through PgBouncer: isolated.
  expect(ids(await other.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
  const [{ pid }] = await attacker.em.forkWithRls({ account_id: 1 }).execute(`select pg_backend_pid() as pid`);
  await expect(attacker.em.forkWithRls({ account_id: 1 }).execute(`set role ${t.db.roles.bypass}; commit; select 1/0`)).rejects.toThrow(/division by zero/);
  // The other instance's next scoped request.
  const [seen] = await other.em.forkWithRls({ account_id: 2 }).execute(`select pg_backend_pid() as pid, current_user as who, (select array_agg(id order by id) from projects) as ids`);
  expect({ samePid: seen.pid === pid, who: seen.who, ids: seen.ids }).toEqual({ samePid: seen.pid === pid, who: t.db.roles.app, ids: [3, 4] });
  expect(ids(await other.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
});

it('same through a scoped transaction whose first statement commits the SET ROLE and then fails', async () => {
  expect(ids(await other.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
  await expect(
    attacker.em.forkWithRls({ account_id: 1 }).transactional((em) => em.execute(`set role ${t.db.roles.bypass}; commit; select 1/0`)),
  ).rejects.toThrow(/division by zero/);
  const [seen] = await other.em.forkWithRls({ account_id: 2 }).execute(`select current_user as who, (select array_agg(id order by id) from projects) as ids`);
  expect({ who: seen.who, ids: seen.ids }).toEqual({ who: t.db.roles.app, ids: [3, 4] });
});
