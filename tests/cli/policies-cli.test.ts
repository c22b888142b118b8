import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_MAJOR, cliProjectOfThisRun, removeCliBuild, type AnyCliProject } from '../fixtures/cli-project-of-this-run';
import { EXPLORER_MODEL_JS, EXPLORER_MODEL_STATES, EXPLORER_MODEL_TS } from '../fixtures/explorer-model';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// `mikro-orm-rls policies` as a user runs it, in a project of this run's major (MikroORM 6: src/cli/main.ts
// in a TypeScript project; 7: the built CLI on Node 22 in a JavaScript one): each output format, --live
// marking a policy altered by hand, and usage errors with exit status 2.

jest.setTimeout(300_000);

let db: TestDatabase;
let project: AnyCliProject;

beforeAll(async () => {
  db = await createTestDatabase();
  project = cliProjectOfThisRun(db.ownerUrl);
  project.entities(CLI_MAJOR === 7 ? EXPLORER_MODEL_JS : EXPLORER_MODEL_TS);
  project.ok('schema:create', '--run');
});
afterAll(async () => {
  project?.remove();
  await db?.drop();
  removeCliBuild();
});

/** `schema.table` -> command -> state, from what `--json` printed. */
function statesOf(map: { tables: { schema: string; name: string; declared: { commands: { command: string; state: string }[] } }[] }) {
  return Object.fromEntries(map.tables.map((t) => [`${t.schema}.${t.name}`, Object.fromEntries(t.declared.commands.map((c) => [c.command, c.state]))]));
}

it('prints each table with its commands, states and policies as text, and exits 0 despite warnings', () => {
  const res = project.rls(['policies']);
  expect(res.stderr).toBe('');
  expect(res.stdout).toMatch(/^mikro-orm-rls policies: 3 table\(s\) with declared policies\./);
  expect(res.stdout).toContain('public.invoice (entity Invoice): declared RLS enabled, forced\n  select: restricted\n');
  expect(res.stdout).toContain('archive.entry (entity Entry)');
  expect(res.stdout).toMatch(/\n {2}insert: refused\n/);
  expect(res.stdout).toMatch(/warning policy-reads-no-context: Policy "open_only_all" on public\.invoice/);
  expect(res.status).toBe(0);
});

it('with --json, stdout is the policy map describePolicies returns', () => {
  const res = project.rls(['policies', '--json']);
  const map = JSON.parse(res.stdout);
  expect(map.live).toBe(false);
  expect(statesOf(map)).toEqual(EXPLORER_MODEL_STATES);
  expect(res.status).toBe(0);
});

it('with --markdown, prints a Markdown table per schema', () => {
  const res = project.rls(['policies', '--markdown']);
  expect(res.stdout.match(/^\| table \|/gm)).toHaveLength(2);
  expect(res.stdout).toMatch(/^\| invoice \| Invoice \| RLS enabled, forced \|( 🟡 restricted \(tenant_all, open_only_all\) \|){4}$/mu);
  expect(res.status).toBe(0);
});

it('with --html FILE, writes the page to FILE and says so', () => {
  const file = join(project.dir, 'policies.html');
  const res = project.rls(['policies', '--html', file]);
  expect(res.stdout).toBe(`mikro-orm-rls policies: wrote ${file} (3 table(s)).\n`);
  expect(existsSync(file)).toBe(true);
  const page = readFileSync(file, 'utf8');
  expect(page).toMatch(/^<!doctype html>/);
  expect(page).toContain('data-table="archive.entry" data-command="insert" data-state="refused"');
  expect(res.status).toBe(0);
});

it('with --live, marks a policy altered by hand as differing, and nothing before', async () => {
  expect(project.rls(['policies', '--live']).stdout).toMatch(/, 0 difference\(s\)\./);
  await db.query(`alter policy tenant_select on archive.entry using (account_id > 0)`);
  const res = project.rls(['policies', '--live']);
  expect(res.stdout).toMatch(/\n {2}difference differs: Policy "tenant_select" differs: USING \(declared .*, live \(account_id > 0\)\)/);
  expect(res.stdout).toMatch(/, 1 difference\(s\)\./);
  expect(res.status).toBe(0);
});

it('an unknown option, --html without FILE and two formats are usage errors with exit status 2', () => {
  const cases = [
    [['policies', '--colour'], /^mikro-orm-rls policies: unknown option "--colour"; it takes --live, --json, --markdown, --html FILE and --help\./],
    [['policies', '--html'], /^mikro-orm-rls policies: --html needs the file to write, e.g. --html policies\.html\./],
    [['policies', '--json', '--markdown'], /^mikro-orm-rls policies: choose one of --json, --markdown and --html FILE\./],
  ] as const;
  for (const [args, message] of cases) {
    const res = project.rls([...args]);
    expect({ args, stderr: res.stderr, stdout: res.stdout, status: res.status }).toEqual({ args, stderr: expect.stringMatching(message), stdout: '', status: 2 });
    expect(res.stderr).toContain('Usage: mikro-orm-rls policies [--live]');
  }
});
