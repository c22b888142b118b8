import { auditRls, createPolicies } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { RESET_SQL, tenantEntities } from '../fixtures/tenant-model';

// Permissive policies are OR-ed: one hand-written `using (true)` opens a table whatever is declared.
// The audit names policies no declaration owns, and policies whose expressions read no context.

jest.setTimeout(60_000);

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL });
});
afterAll(() => t?.close());

const codes = async () => (await auditRls(t.app as never)).map((f) => `${f.code}${f.table ? ` ${f.table}` : ''}`).sort();
const projectsSeenBy = async (tenant: number) => (await t.app.em.forkWithRls({ account_id: tenant }).execute(`select id from projects`)).length;

it('finds nothing on a correct setup, pivot-table policies (which read the context through other tables) included', async () => {
  expect(await codes()).toEqual([]);
});

it('flags a hand-written permissive using (true), which shows every tenant every row', async () => {
  await t.db.query(`create policy open_sesame on projects for select using (true)`);
  try {
    expect(await projectsSeenBy(1)).toBe(4);
    const findings = await auditRls(t.app as never);
    expect(findings.map((f) => `${f.code} ${f.table}`).sort()).toEqual(['policy-reads-no-context public.projects', 'policy-undeclared public.projects']);
    expect(findings.find((f) => f.code === 'policy-undeclared')).toEqual(
      expect.objectContaining({ message: expect.stringMatching(/"open_sesame" .* PERMISSIVE: .* every row it allows is visible whatever/), fix: expect.stringContaining('DROP POLICY "open_sesame" ON "public"."projects"') }),
    );
  } finally {
    await t.db.query(`drop policy open_sesame on projects`);
  }
});

it('flags a hand-written restrictive policy as undeclared, and not as context-free when it reads the context', async () => {
  await t.db.query(`create policy narrow on tasks as restrictive for select using (account_id = (select nullif(current_setting('rls.account_id', true), '')::integer))`);
  try {
    expect(await codes()).toEqual(['policy-undeclared public.tasks']);
  } finally {
    await t.db.query(`drop policy narrow on tasks`);
  }
});

it('flags a declared policy altered to read no context, and a WITH CHECK that reads none while its USING reads another RLS table', async () => {
  await t.db.query(`
    alter policy tenant_all on tags using (true);
    create policy linked on project_tags for insert with check (true);
    create policy half on project_tags for update using (project_id in (select id from projects)) with check (true)`);
  try {
    const findings = await auditRls(t.app as never);
    expect(findings.filter((f) => f.code === 'policy-reads-no-context').map((f) => `${f.table} ${/"(\w+)"/.exec(f.message)![1]}`)).toEqual([
      'public.project_tags half',
      'public.project_tags linked',
      'public.tags tenant_all',
    ]);
    expect(findings.find((f) => f.code === 'policy-reads-no-context' && f.message.includes('"half"'))!.message).toMatch(/a WITH CHECK \(true\) that reads no context/);
  } finally {
    await t.db.query(`drop policy linked on project_tags; drop policy half on project_tags`);
    await createPolicies(t.owner as never);
  }
  expect(await codes()).toEqual([]);
});
