import { MikroORM } from '@mikro-orm/postgresql';
import { RlsConfigurationError, withRls, type RlsEntityManager } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, Tag, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

let t: Booted;
beforeAll(async () => {
  // One pooled connection: whatever a bypass left on it would be seen by the next query.
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
beforeEach(() => t.db.query(RESET_SQL));
afterAll(() => t?.close());


it('a bypass fork sees and changes every tenant rows', async () => {
  const admin = t.app.em.bypassRls();
  expect(ids(await admin.find(Project, {}))).toEqual([1, 2, 3, 4]);
  expect(await admin.nativeUpdate(Project, {}, { title: 'audited' })).toBe(4);
  expect(admin.isRlsBypassed).toBe(true);
});

it('the callback form runs in one transaction as the bypass role', async () => {
  const result = await t.app.em.bypassRls(async (em) => {
    const [{ role }] = await em.execute(`select current_user as role`);
    return { role, count: await em.count(Tag) };
  });
  expect(result).toEqual({ role: 'rls_test_bypass', count: 2 });
});

it('leaves the parent, a sibling scoped fork and the next query on the pool unaffected', async () => {
  const scoped = t.app.em.forkWithRls({ account_id: 1 });
  const admin = scoped.bypassRls();
  expect(ids(await admin.find(Project, {}))).toEqual([1, 2, 3, 4]);
  expect(ids(await scoped.find(Project, {}))).toEqual([1, 2]);
  expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
  expect(await t.app.em.fork().find(Project, {})).toEqual([]);
  const [state] = await t.app.em.fork().execute(`select current_user as role, current_setting('role') as setting`);
  expect(state).toEqual({ role: 'rls_test_app', setting: 'none' });
});

it('is not reachable from a context payload', () => {
  expect(() => t.app.em.forkWithRls({ account_id: 1, role: 'rls_test_bypass' } as never)).toThrow(/role: not a field of the context schema/);
  expect(() => t.app.em.forkWithRls({ account_id: 1, bypass: true } as never)).toThrow(/bypass: not a field of the context schema/);
});

it('a context value that looks like SQL stays a value', async () => {
  // Values are bound parameters, and the derived schema wants an integer anyway: try both layers.
  expect(() => t.app.em.forkWithRls({ account_id: "1'); select set_config('role', 'rls_test_bypass', true); --" as never })).toThrow(
    /account_id/,
  );
});

it('throws a helpful error when no bypass role is configured', async () => {
  const orm = await MikroORM.init(withRls({ clientUrl: t.db.appUrl, entities: tenantEntities }, {}));
  try {
    const em = orm.em as unknown as RlsEntityManager;
    expect(() => em.bypassRls()).toThrow(RlsConfigurationError);
    expect(() => em.bypassRls()).toThrow(/CREATE ROLE app_bypass NOLOGIN BYPASSRLS; GRANT app_bypass TO/);
  } finally {
    await orm.close(true);
  }
});
