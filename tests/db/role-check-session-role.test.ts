import { boot, type Booted } from '../fixtures/boot';
import { tenantOrmAt } from '../support/tenant-orm';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { connectionParams, onNewConnection } from '../support/pool-of-either-major';

// The role check (wiring/role-check.ts) also checks the role `RESET ROLE` returns to: every scoped
// message and transaction end carries `reset role`, which returns to the role the SESSION started with
// (the login role, or its `-c role=` / role-level default). Found by the eighth review: a pool whose
// connections log in as a privileged role and drop to the application role in `pool.afterCreate`
// (`SET ROLE app`) passed the check, which read `current_user` only, and the reset then put every
// connection back to the superuser, so the second tenant saw every row. Since the fix for session state
// left by unscoped work, a pool hook's SQL is reset before the connection's first use: the login role is
// what the check sees, and refuses.

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL });
});
afterAll(() => t?.close());

const ormAt = tenantOrmAt;

it('a superuser login that drops to the application role in pool.afterCreate is refused: the hook\'s SET ROLE is reset before first use', async () => {
  const orm = await ormAt(t.db.superUrl, onNewConnection((connection) => connection.query(`set role ${t.db.roles.app}`)));
  try {
    for (const account of [1, 2, 1]) {
      await expect(orm.em.forkWithRls({ account_id: account }).find(Project, {})).rejects.toThrow('the ORM connects as "postgres", which is a superuser');
    }
    // Nothing was scoped. What a pool hook sets within the session reset's reach is undone before the
    // connection's first use (like any unscoped work's), so unscoped work runs as the login.
    expect(await orm.em.fork().execute('select current_user as role')).toEqual([{ role: 'postgres' }]);
  } finally {
    await orm.close(true);
  }
});

it('a superuser login whose session default is the application role (-c role=) runs scoped queries as that role', async () => {
  const orm = await ormAt(t.db.superUrl, connectionParams({ options: `-c role=${t.db.roles.app}` }));
  try {
    expect((await orm.em.forkWithRls({ account_id: 2 }).find(Project, {})).map((p) => p.id).sort()).toEqual([3, 4]);
    expect(await orm.em.forkWithRls({ account_id: 1 }).execute('select current_user as role')).toEqual([{ role: t.db.roles.app }]);
  } finally {
    await orm.close(true);
  }
});
