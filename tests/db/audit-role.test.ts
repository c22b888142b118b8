import { MikroORM } from '@mikro-orm/postgresql';
import { auditRlsReport, describeAuditTarget, withRls } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { tenantEntities } from '../fixtures/tenant-model';

// An audit run as the owner or a superuser describes that role, not the application's: its report
// says which database and role it checked, whether that is a plain application role, and how to audit
// the application's role instead. Its fixes never take SUPERUSER away from the connecting role.

jest.setTimeout(60_000);

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities });
});
afterAll(() => t?.close());

it('as the application role: names the database and the role, a plain application role', async () => {
  const report = await auditRlsReport(t.app as never);
  expect(report.target).toEqual({ database: t.db.name, role: t.db.roles.app, sessionRole: t.db.roles.app, superuser: false, bypassRls: false, ownedTables: [], roleDefaults: [] });
  expect(describeAuditTarget(report.target)).toEqual([
    `mikro-orm-rls audit of database "${t.db.name}" as role "${t.db.roles.app}", a plain application role (not a superuser, no BYPASSRLS, owns none of the audited tables).`,
  ]);
  expect(report.findings).toEqual([]);
});

it('as the owner: says the role owns the audited tables and how to audit the application role instead', async () => {
  const report = await auditRlsReport(t.owner as never);
  const [first, second] = describeAuditTarget(report.target);
  expect(first).toBe(
    `mikro-orm-rls audit of database "${t.db.name}" as role "${t.db.roles.owner}", which is not a plain application role: ` +
      'it owns public.accounts, public.project_tags, public.projects and 2 more (an owner can switch their row level security off).',
  );
  expect(second).toMatch(/audit that role by connecting as it: MIKRO_ORM_USER=<application role> MIKRO_ORM_PASSWORD=<its password> npx mikro-orm-rls audit/);
  // FORCE is on everywhere, so ownership alone is no finding: the tables are as declared.
  expect(report.findings).toEqual([]);
});

it('as a superuser: says so, reports role-superuser once, and never suggests ALTER ROLE ... NOSUPERUSER', async () => {
  const orm = await MikroORM.init(withRls({ clientUrl: t.db.superUrl, entities: tenantEntities }));
  try {
    const report = await auditRlsReport(orm);
    const [first] = describeAuditTarget(report.target);
    expect(first).toMatch(new RegExp(`^mikro-orm-rls audit of database "${t.db.name}" as role "\\w+", which is not a plain application role: it is a superuser`));
    expect(report.findings.map((f) => f.code)).toEqual(['role-superuser']);
    for (const finding of report.findings) expect(finding.fix).not.toMatch(/alter\s+role[^;]*nosuperuser/i);
    expect(report.findings[0].fix).toMatch(/Connect the application as a role that is NOSUPERUSER NOBYPASSRLS and owns no table/);
  } finally {
    await orm.close(true);
  }
});
