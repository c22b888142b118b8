import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// The repository's own mikro-orm.config.ts loads in the CLI through ts-node, as package.json's
// "mikro-orm" section configures it, and includes the declared policies in the schema it would create.

jest.setTimeout(120_000);

const repo = join(__dirname, '..', '..');
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

function cli(...args: string[]) {
  const res = spawnSync(process.execPath, [join(repo, 'node_modules', '@mikro-orm', 'cli', 'cli.js'), ...args], {
    cwd: repo,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, DATABASE_URL: db.superUrl, FORCE_COLOR: '0', NO_COLOR: '1', MIKRO_ORM_CLI_CONFIG: '' },
  });
  return { status: res.status, output: `${res.stdout}${res.stderr}`.replace(/\x1b\[[0-9;]*m/g, '') }; // eslint-disable-line no-control-regex
}

it('mikro-orm debug finds the TypeScript config and connects', () => {
  const { status, output } = cli('debug');
  expect(output).toMatch(/mikro-orm\.config\.ts \(found\)/);
  expect(output).toMatch(/database connection successful/);
  expect(status).toBe(0);
});

it('mikro-orm schema:create --dump includes the policies of the seed example', () => {
  const { status, output } = cli('schema:create', '--dump');
  expect(status).toBe(0);
  expect(output).toMatch(/alter table "public"."items" force row level security;/);
  expect(output).toMatch(/create policy "equal_to_accountId_policy_select" on "public"."users" as permissive for select/);
});
