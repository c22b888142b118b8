import { buildPolicyMap } from '../../src/core/explorer/build-policy-map';
import { escapeHtml, renderPolicyMapHtml } from '../../src/core/explorer/render-html';
import { renderPolicyMapMarkdown } from '../../src/core/explorer/render-markdown';
import { renderPolicyMapText } from '../../src/core/explorer/render-text';
import type { TableRlsSpec } from '../../src/core/ddl/policy-spec';

// The policy explorer's pure core: states per command, the audit's rules as warnings, differences, and
// the renderers, from plain inputs without a database.

const ctx = `"account_id" = (select nullif(current_setting('rls.account_id', true), '')::integer)`;
const declared: TableRlsSpec[] = [
  { table: { schema: 'public', name: 'notes' }, force: true, policies: [
    { name: 'own', permissive: true, command: 'all', roles: ['public'], using: ctx, withCheck: ctx },
    { name: 'published', permissive: true, command: 'select', roles: ['public'], using: `"size" < 3 and "size" > 1 and 'a' <> 'b' & 1`, withCheck: null },
    { name: 'not_archived', permissive: false, command: 'update', roles: ['app'], using: '"archived" = false', withCheck: null },
  ] },
  { table: { schema: 'public', name: 'logs' }, force: false, policies: [{ name: 'insert_own', permissive: true, command: 'insert', roles: ['public'], using: null, withCheck: ctx }] },
];
const references = [{ code: 'table-references-rls-table', table: 'public.links', message: 'public.links has no row level security but references public.notes', fix: '...' }];
const map = buildPolicyMap({ declared, entityOf: (t) => (t.name === 'notes' ? 'Note' : null), prefix: 'rls', references });

it('gives each command a state from the permissive and restrictive policies that apply, FOR ALL under every command', () => {
  const notes = map.tables[0];
  expect(notes.entity).toBe('Note');
  expect(notes.declared.commands.map((c) => [c.command, c.state, c.policies.map((p) => `${p.name}${p.forAll ? '*' : ''}`)])).toEqual([
    ['select', 'allowed', ['own*', 'published']],
    ['insert', 'allowed', ['own*']],
    ['update', 'restricted', ['own*', 'not_archived']],
    ['delete', 'allowed', ['own*']],
  ]);
  expect(map.tables[1].declared.commands.map((c) => c.state)).toEqual(['refused', 'allowed', 'refused', 'refused']);
});

it('warns as the audit words it: a write without SELECT, FOR ALL widening SELECT, no context, and other tables referencing RLS tables', () => {
  expect(map.tables[0].warnings.map((w) => w.code)).toEqual(['for-all-widens-select', 'policy-reads-no-context', 'policy-reads-no-context']);
  expect(map.tables[1].warnings.map((w) => w.code)).toEqual(['write-without-select']);
  expect(map.tables[1].warnings[0].message).toBe("public.logs has policies for insert but none for SELECT: MikroORM's RETURNING makes those writes fail.");
  expect(map.otherWarnings.map((w) => w.table)).toEqual(['public.links']);
});

it('marks live differences: a policy only declared, only live, altered, and FORCE', () => {
  const live = buildPolicyMap({
    declared,
    entityOf: () => null,
    prefix: 'rls',
    references: [],
    live: {
      canonical: declared,
      contextFree: [],
      states: [{ table: { schema: 'public', name: 'notes' }, enabled: true, forced: false, policies: [
        { ...declared[0].policies[0], using: 'true', managed: true },
        { name: 'by_hand', permissive: true, command: 'select', roles: ['public'], using: 'true', withCheck: null, managed: false },
      ] }],
    },
  });
  expect(live.tables[0].differences.map((d) => `${d.kind} ${d.policy ?? ''}`.trim())).toEqual(['force-differs', 'differs own', 'only-declared published', 'only-declared not_archived', 'only-live by_hand']);
  expect(live.tables[0].live?.commands[0].policies.map((p) => p.name)).toEqual(['own', 'by_hand']);
  expect(live.tables[1]).toMatchObject({ live: null, differences: [{ kind: 'table-missing' }] });
});

it('renders text, Markdown and HTML with every expression, escaped in HTML', () => {
  expect(renderPolicyMapText(map)).toContain(`    published: permissive, to public using ("size" < 3 and "size" > 1 and 'a' <> 'b' & 1)`);
  expect(renderPolicyMapMarkdown(map)).toContain('| notes | Note | RLS enabled, forced | 🟢 allowed (own, published) | 🟢 allowed (own) | 🟡 restricted (own, not_archived) | 🟢 allowed (own) |');
  const html = renderPolicyMapHtml(map);
  expect(html).toContain('<td class="command state-restricted" data-table="public.notes" data-command="update" data-state="restricted">');
  expect(html).toContain(escapeHtml(`"size" < 3 and "size" > 1 and 'a' <> 'b' & 1`));
  expect(escapeHtml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
  expect(html).not.toMatch(/<script|https?:\/\//);
});
