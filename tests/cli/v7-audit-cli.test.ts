import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildPackageUnderV7, node22, V7CliProject } from '../fixtures/v7-cli-project';
import { passwordOf } from '../support/test-roles';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// `mikro-orm-rls audit` on MikroORM 7 (7.2.1, Node 22), as a user of a MikroORM 7 project runs it: the
// package's built CLI loads the project's configuration the way the mikro-orm 7 CLI does (@mikro-orm/cli),
// with the same help, usage errors, header and findings as on MikroORM 6 (tests/cli/audit-cli.test.ts).

jest.setTimeout(300_000);

const repo = join(__dirname, '..', '..');
let build: string;
let db: TestDatabase;
let project: V7CliProject;

const ENTITIES = `
const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
const account = new EntitySchema({ name: 'Account', tableName: 'accounts', properties: { id: { type: 'integer', primary: true }, name: { type: 'string' } },
  rls: { policies: [Permissive({ conditionArgs: [accountId], cmd: Command.all, customExpr: (id) => sql\`\${column('id')} = \${id}\`, customPolicyName: 'tenant' })] } });
const note = new EntitySchema({ name: 'Note', tableName: 'notes', properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' } },
  rls: { policies: [Permissive({ conditionArgs: [accountId], cmd: Command.all, customPolicyName: 'tenant' })] } });
exports.entities = [account, note];
`;

beforeAll(async () => {
  build = buildPackageUnderV7(mkdtempSync(join(repo, 'v7', '.rls-build-')));
  db = await createTestDatabase();
  // The project's configuration connects as the owner, as a migration setup would.
  project = new V7CliProject(db.ownerUrl, build);
  project.entities(ENTITIES);
  project.ok('schema:create', '--run');
});
afterAll(async () => {
  project?.remove();
  await db?.drop();
  rmSync(build, { recursive: true, force: true });
});

it('audit --help and --help print the usage on stdout and exit 0, without connecting', () => {
  for (const args of [['audit', '--help'], ['audit', '-h'], ['--help']]) {
    const res = project.rls(args, { MIKRO_ORM_CLI_CONFIG: '/nonexistent/mikro-orm.config.js' });
    expect(res.stdout).toMatch(/^Usage: mikro-orm-rls audit \[--json\]/);
    expect(res.status).toBe(0);
  }
});

it('an unknown option is a clear error with exit status 2', () => {
  const flag = project.rls(['audit', '--fix']);
  expect(flag.stderr).toMatch(/^mikro-orm-rls audit: unknown option "--fix"; it takes --json and --help\./);
  expect(flag.stdout).toBe('');
  expect(flag.status).toBe(2);
});

it('loads the MikroORM 7 configuration: as the owner, the first line says so and how to audit the application role; connected as that role, it is plain', () => {
  const asOwner = project.rls(['audit']);
  const lines = asOwner.stdout.split('\n');
  expect(lines[0]).toMatch(new RegExp(`^mikro-orm-rls audit of database "${db.name}" as role "${db.roles.owner}", which is not a plain application role: it owns public\\.accounts`));
  expect(lines[1]).toMatch(/MIKRO_ORM_USER=<application role> MIKRO_ORM_PASSWORD=<its password> npx mikro-orm-rls audit/);
  const asApp = project.rls(['audit'], { MIKRO_ORM_USER: db.roles.app, MIKRO_ORM_PASSWORD: passwordOf(db.roles.app) });
  expect(asApp.stdout.split('\n')[0]).toBe(
    `mikro-orm-rls audit of database "${db.name}" as role "${db.roles.app}", a plain application role (not a superuser, no BYPASSRLS, owns none of the audited tables).`,
  );
  expect(asApp.stdout).toMatch(/no problems found/);
  expect(asApp.status).toBe(0);
});

it('reports a finding with exit status 1, and with --json stdout is only the findings', async () => {
  await db.query(`create policy by_hand on public.notes as permissive for select using (true)`);
  try {
    const res = project.rls(['audit', '--json']);
    const findings = JSON.parse(res.stdout);
    expect(findings.map((f: { code: string; table: string }) => [f.code, f.table])).toEqual([
      ['policy-undeclared', 'public.notes'],
      ['policy-reads-no-context', 'public.notes'],
    ]);
    expect(res.stderr).toMatch(new RegExp(`^mikro-orm-rls audit of database "${db.name}" as role "${db.roles.owner}"`));
    expect(res.status).toBe(1);
  } finally {
    await db.query(`drop policy by_hand on public.notes`);
  }
});


it("names the @mikro-orm/cli internal it relies on when a release changed it (CLIHelper's loader)", () => {
  const script = [
    `const { CLIHelper } = require('@mikro-orm/cli');`,
    `delete CLIHelper.getORM;`,
    `require(${JSON.stringify(join(build, 'adapters/mikro-orm-7/cli/orm-from-cli-config'))}).ormFromCliConfig()`,
    `  .then(() => console.log('loaded'), (e) => console.log(e.constructor.name + ': ' + e.message));`,
  ].join('\n');
  const out = execFileSync(node22, ['-e', script], { cwd: join(repo, 'v7'), encoding: 'utf8' }).trim();
  expect(out).toMatch(/^RlsAdapterAssumptionError: /);
  expect(out).toMatch(/CLIHelper has no getORM/);
});
