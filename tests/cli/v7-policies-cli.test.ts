import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EXPLORER_MODEL_STATES } from '../fixtures/explorer-model';
import { buildPackageUnderV7, V7CliProject } from '../fixtures/v7-cli-project';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// `mikro-orm-rls policies` on MikroORM 7 (7.2.1, Node 22): the package's built CLI in a MikroORM 7 project
// describes the same model as tests/cli/policies-cli.test.ts does on MikroORM 6, with the same states.

jest.setTimeout(300_000);

const repo = join(__dirname, '..', '..');
let build: string;
let db: TestDatabase;
let project: V7CliProject;

// tests/fixtures/explorer-model.ts, in the CommonJS a MikroORM 7 JavaScript project has.
const ENTITIES = `
const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
const ledger = new EntitySchema({ name: 'Ledger', tableName: 'ledger',
  properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' }, amount: { type: 'integer' }, flags: { type: 'integer' } },
  rls: { policies: [Permissive({ conditionArgs: [accountId], cmd: Command.all, customPolicyName: 'bounded',
    customExpr: (x) => sql\`\${column('account_id')} = \${x} and \${column('amount')} < 1000000 and \${column('amount')} > -1000000 and (\${column('flags')} & 1) = 0\` })] } });
const invoice = new EntitySchema({ name: 'Invoice', tableName: 'invoice',
  properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' }, open: { type: 'boolean', default: true } },
  rls: { policies: [Permissive({ conditionArgs: [accountId], cmd: Command.all, customPolicyName: 'tenant' }),
    Restrictive({ cmd: Command.all, customPolicyName: 'open_only', customExpr: () => sql\`\${column('open')}\` })] } });
const entry = new EntitySchema({ name: 'Entry', schema: 'archive', tableName: 'entry',
  properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' } },
  rls: { policies: [Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'tenant' })] } });
exports.entities = [ledger, invoice, entry];
`;

beforeAll(async () => {
  build = buildPackageUnderV7(mkdtempSync(join(repo, 'v7', '.rls-build-')));
  db = await createTestDatabase();
  project = new V7CliProject(db.ownerUrl, build);
  project.entities(ENTITIES);
  project.ok('schema:create', '--run');
});
afterAll(async () => {
  project?.remove();
  await db?.drop();
  rmSync(build, { recursive: true, force: true });
});

it('with --json, prints the states of every command of the three tables, as on MikroORM 6', () => {
  const res = project.rls(['policies', '--json']);
  const map = JSON.parse(res.stdout) as { tables: { schema: string; name: string; declared: { commands: { command: string; state: string }[] } }[] };
  const states = Object.fromEntries(map.tables.map((t) => [`${t.schema}.${t.name}`, Object.fromEntries(t.declared.commands.map((c) => [c.command, c.state]))]));
  expect(states).toEqual(EXPLORER_MODEL_STATES);
  expect(res.status).toBe(0);
});

it('prints text, and with --live marks a policy altered by hand as differing', async () => {
  const before = project.rls(['policies', '--live']);
  expect(before.stdout).toContain('public.invoice (entity Invoice): declared RLS enabled, forced; live: RLS enabled, forced\n  select: restricted\n');
  expect(before.stdout).toMatch(/, 0 difference\(s\)\./);
  await db.query(`alter policy tenant_select on archive.entry using (account_id > 0)`);
  const after = project.rls(['policies', '--live']);
  expect(after.stdout).toMatch(/\n {2}difference differs: Policy "tenant_select" differs: USING \(declared .*, live \(account_id > 0\)\)/);
  expect(after.status).toBe(0);
});

it('with --html FILE, writes the page; two formats are a usage error with exit status 2', () => {
  const file = join(project.dir, 'policies.html');
  expect(project.rls(['policies', '--html', file]).status).toBe(0);
  expect(readFileSync(file, 'utf8')).toContain('data-table="archive.entry" data-command="insert" data-state="refused"');
  const both = project.rls(['policies', '--json', '--html', file]);
  expect(both.stderr).toMatch(/^mikro-orm-rls policies: choose one of --json, --markdown and --html FILE\./);
  expect(both.status).toBe(2);
});
