import { join } from 'node:path';
import { CliProject } from '../fixtures/cli-project';
import { passwordOf } from '../support/test-roles';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// `mikro-orm-rls audit` as a user runs it: help and usage errors, and a first line that names the
// database and role it checked, with the way to check the application's role when it is not that one.

jest.setTimeout(180_000);

let db: TestDatabase;
let project: CliProject;

const run = (args: string[], env: Record<string, string> = {}) => project.rls(args, env);

beforeAll(async () => {
  db = await createTestDatabase();
  // The project's configuration connects as the owner, as a migration setup would.
  project = new CliProject(db.ownerUrl);
  project.entities(`export { tenantEntities as entities } from ${JSON.stringify(join(__dirname, '..', 'fixtures', 'tenant-model'))};\n`);
  project.ok('schema:create', '--run');
});
afterAll(async () => {
  project?.remove();
  await db?.drop();
});

it('audit --help and --help print the usage on stdout and exit 0, without connecting', () => {
  for (const args of [['audit', '--help'], ['audit', '-h'], ['--help']]) {
    const res = run(args, { MIKRO_ORM_CLI_CONFIG: '/nonexistent/mikro-orm.config.ts' });
    expect(res.stdout).toMatch(/^Usage: mikro-orm-rls audit \[--json\]/);
    expect(res.status).toBe(0);
  }
});

it('an unknown option or command is a clear error with exit status 2', () => {
  const flag = run(['audit', '--fix']);
  expect(flag.stderr).toMatch(/^mikro-orm-rls audit: unknown option "--fix"; it takes --json and --help\./);
  expect(flag.stderr).toMatch(/Usage:/);
  expect(flag.stdout).toBe('');
  expect(flag.status).toBe(2);
  const command = run(['adit']);
  expect(command.stderr).toMatch(/^mikro-orm-rls: unknown command "adit"; the commands are "audit" and "policies"\./);
  expect(command.status).toBe(2);
  expect(run([]).status).toBe(2);
});

it('as the owner, the first line says so and how to audit the application role; connected as that role, it is plain', () => {
  const asOwner = run(['audit']);
  const lines = asOwner.stdout.split('\n');
  expect(lines[0]).toMatch(new RegExp(`^mikro-orm-rls audit of database "${db.name}" as role "${db.roles.owner}", which is not a plain application role: it owns public\\.accounts`));
  expect(lines[1]).toMatch(/MIKRO_ORM_USER=<application role> MIKRO_ORM_PASSWORD=<its password> npx mikro-orm-rls audit/);
  // The advice works: MikroORM's environment variables override the configuration's role.
  const asApp = run(['audit'], { MIKRO_ORM_USER: db.roles.app, MIKRO_ORM_PASSWORD: passwordOf(db.roles.app) });
  expect(asApp.stdout.split('\n')[0]).toBe(
    `mikro-orm-rls audit of database "${db.name}" as role "${db.roles.app}", a plain application role (not a superuser, no BYPASSRLS, owns none of the audited tables).`,
  );
  expect(asApp.stdout).toMatch(/no problems found/);
  expect(asApp.status).toBe(0);
});

it('with --json, stdout is only the findings and the database and role go to stderr', () => {
  const res = run(['audit', '--json']);
  expect(JSON.parse(res.stdout)).toEqual([]);
  expect(res.stderr).toMatch(new RegExp(`^mikro-orm-rls audit of database "${db.name}" as role "${db.roles.owner}"`));
  expect(res.status).toBe(0);
});
