import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { auditRls, createPolicies, withRls } from '../../src';
import { readsSettingPerRow } from '../../src/core/audit';
import { CliProject } from '../fixtures/cli-project';
import { boot, type Booted } from '../fixtures/boot';
import { RESET_SQL, tenantEntities } from '../fixtures/tenant-model';

// auditRls and `mikro-orm-rls audit` find setups that silently defeat RLS, running as the application.

jest.setTimeout(120_000);

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL });
  await t.db.query(`do $$ begin
    if not exists (select from pg_roles where rolname = 'rls_test_audit_bypass') then
      create role rls_test_audit_bypass login bypassrls password 'rls_test_audit_bypass';
    end if; end $$;
    grant select on all tables in schema public to rls_test_audit_bypass`);
});
afterAll(() => t?.close());

const codes = async (orm = t.app) => (await auditRls(orm as never)).map((f) => `${f.code}${f.table ? ` ${f.table}` : ''}`).sort();

it('finds nothing on a correct setup, as the application role', async () => {
  expect(await codes()).toEqual([]);
});

it('finds a table without FORCE, drifted and per-row policies, writes without select, and a view that bypasses RLS', async () => {
  await t.db.query(`
    alter table projects no force row level security;
    alter policy tenant_all on tasks using (account_id >= (select nullif(current_setting('rls.account_id', true), '')::integer));
    create table notes (id int primary key, body text);
    alter table notes enable row level security;
    create policy only_insert on notes for insert with check (true);
    create policy slow on accounts for select using (id = current_setting('rls.account_id')::int);
    create view project_titles as select title from projects;
    grant select on project_titles to rls_test_app;
  `);
  try {
    expect(await codes()).toEqual([
      'policy-drift public.tasks',
      // The per-row policy is hand-written too.
      'policy-undeclared public.accounts',
      'setting-read-per-row public.accounts',
      'table-not-forced public.projects',
      'view-without-security-invoker public.project_titles',
    ]);
    // An entity table whose only policy is for DELETE: MikroORM's RETURNING needs a SELECT policy.
    await t.db.query(`drop policy tenant_all on tags; create policy only_delete on tags for delete using (true)`);
    expect(await codes()).toContain('write-without-select public.tags');
  } finally {
    await t.db.query(`drop view project_titles; drop table notes; drop policy slow on accounts; drop policy if exists only_delete on tags`);
    await createPolicies(t.owner as never);
  }
  expect(await codes()).toEqual([]);
});

it('finds an application role with BYPASSRLS', async () => {
  const url = new URL(t.db.appUrl);
  url.username = url.password = 'rls_test_audit_bypass';
  const orm = await MikroORM.init(withRls({ clientUrl: url.toString(), entities: tenantEntities }));
  try {
    expect(await codes(orm as never)).toContain('role-bypassrls');
  } finally {
    await orm.close(true);
  }
});

it('tells a wrapped current_setting from one read per row', () => {
  expect(readsSettingPerRow(`(id = ( SELECT (NULLIF(current_setting('rls.a'::text, true), ''::text))::integer AS "nullif"))`)).toBe(false);
  expect(readsSettingPerRow(`(id = (current_setting('rls.a'::text))::integer)`)).toBe(true);
  expect(readsSettingPerRow(`((select 1) = 1 and id = current_setting('x')::int)`)).toBe(true);
});

it('the mikro-orm-rls audit command prints findings, supports --json and exits 1 when it finds any', async () => {
  const project = new CliProject(t.db.appUrl);
  const main = join(__dirname, '..', '..', 'src', 'cli', 'main.ts');
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', main, ...args], {
      cwd: project.dir,
      encoding: 'utf8',
      env: { ...process.env, MIKRO_ORM_CLI_CONFIG: join(project.dir, 'mikro-orm.config.ts') },
      timeout: 60_000,
    });
  try {
    project.entities(`export { tenantEntities as entities } from ${JSON.stringify(join(__dirname, '..', 'fixtures', 'tenant-model'))};\n`);
    const clean = run('audit');
    expect(clean.stdout).toMatch(/no problems found/);
    expect(clean.status).toBe(0);
    await t.db.query(`alter table projects no force row level security`);
    const dirty = run('audit', '--json');
    expect(JSON.parse(dirty.stdout)).toEqual([expect.objectContaining({ code: 'table-not-forced', table: 'public.projects' })]);
    expect(dirty.status).toBe(1);
    expect(run('nonsense').status).toBe(2);
  } finally {
    await t.db.query(`alter table projects force row level security`);
    project.remove();
  }
});
