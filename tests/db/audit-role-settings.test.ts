import { auditRls } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { RESET_SQL, tenantEntities } from '../fixtures/tenant-model';

// Role-level defaults of the application role (`ALTER ROLE current_user [IN DATABASE ...] SET ...`),
// which the role may set on itself by raw SQL: `role` makes every new backend start as another role,
// `search_path` decides which table MikroORM's unqualified names reach, and the session reset returns
// to both. The audit reports them. Found by the second and fourth adversarial reviews.

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL });
});
afterAll(async () => {
  await t?.db.query(`alter role ${t.db.roles.app} in database ${t.db.name} reset all`);
  await t?.close();
});

it('reports a role-level search_path or role of the audited role, and nothing when there is none', async () => {
  expect((await auditRls(t.app as never)).map((f) => f.code)).not.toContain('role-default-settings');
  await t.db.query(`alter role ${t.db.roles.app} in database ${t.db.name} set search_path = public`);
  const findings = await auditRls(t.app as never);
  const finding = findings.find((f) => f.code === 'role-default-settings');
  expect(finding?.message).toMatch(/search_path=public/);
  expect(finding?.fix).toMatch(/ALTER ROLE "rls_test_app" IN DATABASE .* RESET search_path/);
});
