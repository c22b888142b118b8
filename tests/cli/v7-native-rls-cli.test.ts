import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildPackageUnderV7, V7CliProject } from '../fixtures/v7-cli-project';
import { policyRows, rlsState } from '../support/rls-state';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// MikroORM 7's native RLS (entity options `policies` / `rowLevelSecurity`) next to this package, through
// the real MikroORM 7 CLI (7.2.1, Node 22): a project on native RLS adopts the package cleanly, and what
// native does on its own is measured next to what the package does (README's side-by-side table).
// RLS_TEST_NATIVE_ONLY runs the same project without withRls: MikroORM's own generator and Migrator.

jest.setTimeout(300_000);

const repo = join(__dirname, '..', '..');
const NATIVE = { RLS_TEST_NATIVE_ONLY: '1' };
let build: string;
let db: TestDatabase | undefined;
let project: V7CliProject | undefined;

beforeAll(() => {
  build = buildPackageUnderV7(mkdtempSync(join(repo, 'v7', '.rls-build-')));
});
afterAll(() => rmSync(build, { recursive: true, force: true }));
afterEach(async () => {
  project?.remove();
  await db?.drop();
  project = undefined;
  db = undefined;
});

async function newProject(): Promise<V7CliProject> {
  db = await createTestDatabase();
  project = new V7CliProject(db.ownerUrl, build);
  return project;
}

const comments = (tables: string[]) =>
  db!.query(
    `select c.relname as table, p.polname as policy, obj_description(p.oid, 'pg_policy') as comment
     from pg_policy p join pg_class c on c.oid = p.polrelid where c.relname = any($1) order by 1, 2`,
    [tables],
  );

/** A `note` entity on native RLS only, as a MikroORM 7 user writes it (no declaration of this package). */
const nativeNote = (using: string) =>
  [
    `const note = new EntitySchema({ name: 'Note', tableName: 'note', properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' }, pinned: { type: 'boolean', default: false } },`,
    `  rowLevelSecurity: 'force', policies: [{ name: 'tenant', using: ${JSON.stringify(using)} }, { command: 'insert', check: 'account_id > 0' }] });`,
    `exports.entities = [note];`,
    '',
  ].join('\n');
const TENANT = "account_id = (select nullif(current_setting('rls.account_id', true), '')::int)";

it('a project whose policies native MikroORM created adopts the package: the first migration only marks them, its down unmarks them, and a change after is an ALTER', async () => {
  const p = await newProject();
  p.entities(nativeNote(TENANT));
  // The project as it was on native RLS alone: native's migrations created the tables and policies.
  p.runWith(NATIVE, 'migration:create', '--initial');
  expect(p.runWith(NATIVE, 'migration:up').status).toBe(0);
  await db!.query(`create policy by_hand on public.note as permissive for delete using (pinned)`);
  const native = await rlsState(db!, ['note']);
  expect(native.policies.map((r) => r.policyname)).toEqual(['by_hand', 'note_insert_policy', 'tenant']);
  expect(native.flags).toEqual([{ relname: 'note', enabled: true, forced: true }]);
  // With the package: the native policies are its own declarations, not a refused name clash. The audit
  // says the migration that takes them over is due, and calls only the hand-written one undeclared.
  const findings = (): [string, string][] =>
    JSON.parse(p.rls(['audit', '--json']).stdout)
      .filter((f: { code: string }) => f.code === 'policy-undeclared' || f.code === 'policy-drift')
      .map((f: { code: string; message: string }) => [f.code, /"([^"]+)"|\((.*) needed\)/.exec(f.message)!.slice(1).find(Boolean)!]);
  expect(findings()).toEqual([
    ['policy-undeclared', 'by_hand'],
    ['policy-drift', "adopt policy tenant (created by MikroORM's native RLS)"],
    ['policy-drift', "adopt policy note_insert_policy (created by MikroORM's native RLS)"],
  ]);
  expect(p.run('migration:check').status).not.toBe(0);
  p.ok('migration:create');
  const adoption = p.latestMigration();
  expect(adoption.match(/this\.addSql/g)).toHaveLength(4);
  expect(adoption).toMatch(/this\.addSql\(`comment on policy "tenant" on "public"."note" is 'managed by mikro-orm-rls'`\);/);
  expect(adoption).toMatch(/this\.addSql\(`comment on policy "note_insert_policy" on "public"."note" is 'managed by mikro-orm-rls'`\);/);
  expect(adoption).toMatch(/this\.addSql\(`comment on policy "tenant" on "public"."note" is null`\);/);
  expect(adoption).not.toMatch(/create policy|drop policy|alter policy|by_hand|create table/);
  p.ok('migration:up');
  expect(await rlsState(db!, ['note'])).toEqual(native);
  expect(await comments(['note'])).toEqual([
    { table: 'note', policy: 'by_hand', comment: null },
    { table: 'note', policy: 'note_insert_policy', comment: 'managed by mikro-orm-rls' },
    { table: 'note', policy: 'tenant', comment: 'managed by mikro-orm-rls' },
  ]);
  expect(p.run('migration:check').status).toBe(0);
  expect(findings()).toEqual([['policy-undeclared', 'by_hand']]);
  // Down: exactly as native left it, comments included.
  p.ok('migration:down');
  expect(await rlsState(db!, ['note'])).toEqual(native);
  expect((await comments(['note'])).map((r: { comment: string | null }) => r.comment)).toEqual([null, null, null]);
  p.ok('migration:up');
  // From now on the package manages them: a cast change native cannot see is an exact ALTER.
  p.entities(nativeNote(TENANT.replace('::int)', '::bigint)')));
  p.ok('migration:create');
  const change = p.latestMigration();
  expect(change.match(/this\.addSql/g)).toHaveLength(2);
  expect(change).toMatch(/alter policy "tenant" on "public"."note" to public using \(account_id = .*::bigint/);
  p.ok('migration:up');
  expect((await policyRows(db!, ['note'])).find((r) => r.policyname === 'tenant')!.qual).toContain('::bigint');
  expect((await policyRows(db!, ['note'])).map((r) => r.policyname)).toContain('by_hand');
});

/**
 * `note` on native RLS, its `tenant` policy built from four parts that each change in one way below; and
 * `memo`, whose policy is declared with this package's `rls` option only (native does not read it).
 */
const sideBySide = (part: Partial<typeof BASE> = {}) => {
  const p = { ...BASE, ...part };
  const using = [p.cast, p.precedence, p.literal, p.selfJoin].map((x) => `(${x})`).join(' and ');
  return [
    `const member = new EntitySchema({ name: 'Member', tableName: 'member', properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' } } });`,
    `const note = new EntitySchema({ name: 'Note', tableName: 'note', properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' }, a: { type: 'integer' }, b: { type: 'integer' }, c: { type: 'integer' }, status: { type: 'string' }, pinned: { type: 'boolean', default: false } },`,
    `  rowLevelSecurity: 'force', policies: [{ name: 'tenant', using: ${JSON.stringify(using)} }] });`,
    `const memo = new EntitySchema({ name: 'Memo', tableName: 'memo', properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' } },`,
    `  rls: { policies: [Permissive({ conditionArgs: [ConditionArg({ comparatorName: 'account_id', type: 'integer' })], cmd: Command.all, customPolicyName: 'memo_tenant' })] } });`,
    `exports.entities = [member, note, memo];`,
    '',
  ].join('\n');
};
const BASE = {
  // `as nullif` is the column name PostgreSQL stores: without it, native's comparison never matches (see below).
  cast: "note.account_id = (select nullif(current_setting('rls.account_id', true), '')::integer as nullif)",
  precedence: 'a = 1 or b = 2 and c = 3',
  literal: "status <> 'closed'",
  selfJoin: 'exists (select 1 from member m where m.account_id = note.account_id)',
};
/** Each change, and the text of it that this package's ALTER POLICY carries. */
const CHANGES: [string, Partial<typeof BASE>, string][] = [
  ['::integer to ::bigint', { cast: BASE.cast.replace('::integer', '::bigint') }, "'')::bigint as nullif)"],
  ['operator precedence', { precedence: '(a = 1 or b = 2) and c = 3' }, '((a = 1 or b = 2) and c = 3)'],
  ["a literal's case", { literal: "status <> 'CLOSED'" }, "(status <> 'CLOSED')"],
  ['a.x = b.x to a.x = a.x (always true)', { selfJoin: 'exists (select 1 from member m where m.account_id = m.account_id)' }, 'where m.account_id = m.account_id)'],
];
/** What native's schema:update proposes on this database whatever the declarations: it drops what it did not declare. */
const NATIVE_DROPS_UNDECLARED = [
  'drop policy "memo_by_hand" on "memo";',
  'drop policy "memo_tenant_all" on "memo";',
  'drop policy "by_hand" on "note";',
  'alter table "memo" no force row level security;',
  'alter table "memo" disable row level security;',
];
const statementsOf = (output: string) => output.split('\n').map((l) => l.trim()).filter((l) => /^(alter|create|drop|comment)\b/.test(l));

describe('side by side: MikroORM 7.2.1 native RLS alone (schema:update --dump), and with this package', () => {
  // One database for the block (its state never changes: every command is a --dump or a check).
  let shared: { db: TestDatabase; project: V7CliProject };
  beforeAll(async () => {
    const p = await newProject();
    p.entities(sideBySide());
    p.ok('schema:create', '--run');
    await db!.query(`create policy by_hand on public.note as permissive for delete using (pinned)`);
    await db!.query(`create policy memo_by_hand on public.memo as permissive for delete using (true)`);
    // The file's afterEach would drop them after the first test.
    shared = { db: db!, project: p };
    db = undefined;
    project = undefined;
  });
  afterAll(async () => {
    shared.project.remove();
    await shared.db.drop();
  });

  // The README's warning (MikroORM 6 and 7, "Wire it in"): schema commands with a config that lacks withRls
  // (a seeding script's, a second config) plan to drop this package's policies and RLS on its tables.
  it("a config without withRls plans to drop every policy of this package's tables (its own too), FORCE and RLS itself", () => {
    const plain = shared.project.runWith(NATIVE, 'schema:update', '--dump');
    expect(plain.status).toBe(0);
    expect(statementsOf(plain.output).filter((l) => l.includes('"memo"'))).toEqual([
      'drop policy "memo_by_hand" on "memo";',
      'drop policy "memo_tenant_all" on "memo";',
      'alter table "memo" no force row level security;',
      'alter table "memo" disable row level security;',
    ]);
  });

  it('with nothing changed, native drops the hand-written policies, the policies it does not read and RLS itself; this package proposes nothing', () => {
    const native = shared.project.runWith(NATIVE, 'schema:update', '--dump');
    expect(native.status).toBe(0);
    expect(statementsOf(native.output)).toEqual(NATIVE_DROPS_UNDECLARED);
    expect(shared.project.ok('schema:update', '--dump')).toMatch(/Schema is up-to-date/);
    expect(shared.project.run('migration:check').status).toBe(0);
  });

  it.each(CHANGES)('a change of %s: native writes nothing for it, this package writes the exact ALTER POLICY', (_, change, carried) => {
    const p = shared.project;
    p.entities(sideBySide(change));
    const native = p.runWith(NATIVE, 'schema:update', '--dump');
    expect(native.status).toBe(0);
    expect(statementsOf(native.output)).toEqual(NATIVE_DROPS_UNDECLARED);
    const ours = statementsOf(p.ok('schema:update', '--dump'));
    expect(ours).toEqual([expect.stringMatching(/^alter policy "tenant" on "public"."note" to public using \(.*\);$/)]);
    expect(ours[0]).toContain(carried);
    expect(p.run('migration:check').status).not.toBe(0);
  });

  it('the fail-closed subselect written without its column alias: native drops and recreates the unchanged policy on every run; this package proposes nothing', () => {
    const p = shared.project;
    p.entities(sideBySide({ cast: BASE.cast.replace(' as nullif', '') }));
    const native = statementsOf(p.runWith(NATIVE, 'schema:update', '--dump').output);
    expect(native).toEqual(expect.arrayContaining(['drop policy "tenant" on "note";', expect.stringMatching(/^create policy "tenant" on "note" using /)]));
    expect(p.ok('schema:update', '--dump')).toMatch(/Schema is up-to-date/);
  });
});
