import { CLI_MAJOR, cliProjectOfThisRun, removeCliBuild, type AnyCliProject } from '../fixtures/cli-project-of-this-run';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { oneScaleTestAtATime } from '../support/one-scale-test-at-a-time';

// An initial migration of 3,000 tables with 4 policies each, through the real CLI of the run's major, on
// a server with default lock settings: one transaction of it would need about 9 locks per table, three
// times what PostgreSQL's shared lock table holds (max_locks_per_transaction x max_connections), so
// plain MikroORM's `migration:up` of its 3,000 tables already fails with "out of shared memory". Planning
// probes the policies chunk by chunk, and the migration is written as bounded transactions.

const TABLES = 3000;

jest.setTimeout(1_200_000);

const entities = `
const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
const ownerId = ConditionArg({ comparatorName: 'owner_id', type: 'integer' });
const tables = Array.from({ length: ${TABLES} }, (_, i) => new EntitySchema${CLI_MAJOR === 6 ? '<any>' : ''}({
  name: 'T' + i,
  tableName: 't' + i,
  properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' }, ownerId: { type: 'integer' } },
  rls: { policies: [Permissive({ conditionArgs: [accountId, ownerId], cmd: [Command.select, Command.insert, Command.update, Command.delete], customPolicyName: 'own' })] },
}));
${CLI_MAJOR === 6 ? 'export const entities = tables;\nvoid Restrictive; void column; void sql;' : 'exports.entities = tables;'}
`;

let db: TestDatabase;
let project: AnyCliProject;

// Before the hooks below: the other scale files wait while this one runs.
oneScaleTestAtATime();

beforeAll(async () => {
  db = await createTestDatabase();
  project = cliProjectOfThisRun(db.ownerUrl);
  project.timeoutMs = 600_000;
  project.entities(entities);
});

afterAll(async () => {
  project?.remove();
  removeCliBuild();
  await db?.drop();
});

it('the server has the default lock settings, so one transaction cannot hold the locks of the whole migration', async () => {
  const [settings] = await db.query(
    `select current_setting('max_locks_per_transaction')::int as locks, current_setting('max_connections')::int + current_setting('max_prepared_transactions')::int as slots`,
  );
  expect(settings.locks).toBeLessThanOrEqual(64);
  expect(settings.slots).toBeLessThanOrEqual(100);
  expect(settings.locks * settings.slots).toBeLessThan((TABLES * 9) / 3);
});

it(`migration:create --initial plans ${TABLES} tables and writes them in bounded transactions`, () => {
  project.ok('migration:create', '--initial');
  const file = project.latestMigration();
  expect(file).toMatch(/isTransactional\(\)(: boolean)? \{\n {4}return false;/);
  const transactions = [...file.matchAll(/this\.addSql\(`([^`]*)`\)/g)].map((m) => m[1]);
  expect(transactions.length).toBeGreaterThan(5);
  expect(transactions.join('\n').match(/^create policy /gm)).toHaveLength(TABLES * 4);
});

it(`migration:up applies them: every table has RLS enabled and forced and its 4 policies, and migration:check is clean`, async () => {
  project.ok('migration:up');
  const [counts] = await db.query(
    `select count(*) filter (where c.relrowsecurity and c.relforcerowsecurity)::int as protected,
            (select count(*)::int from pg_policy p join pg_class t on t.oid = p.polrelid where t.relname ~ '^t[0-9]+$') as policies
     from pg_class c where c.relname ~ '^t[0-9]+$' and c.relkind = 'r'`,
  );
  expect(counts).toEqual({ protected: TABLES, policies: TABLES * 4 });
  const [last] = await db.query(`select qual from pg_policies where tablename = $1 and policyname = 'own_select'`, [`t${TABLES - 1}`]);
  expect(last.qual).toMatch(/account_id = .*AND \(owner_id = /);
  expect(project.run('migration:check').status).toBe(0);
});
