import { allWarnings, shownAccess, type CommandState, type PolicyMap, type TablePolicies } from './policy-map';
import { flagsOf, policyExpressions, policyHeadline, sourceLine, tableName } from './policy-wording';

const MARK: Record<CommandState, string> = { allowed: '🟢 allowed', restricted: '🟡 restricted', refused: '🔴 refused', unprotected: '⚪ unprotected' };

/** Text in a table cell: a `|` would end the cell, a newline the row. */
const cell = (text: string) => text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
/** Text in a code span: backticks inside need a longer fence. */
const code = (text: string) => (text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``);

function bySchema(map: PolicyMap): Map<string, TablePolicies[]> {
  const schemas = new Map<string, TablePolicies[]>();
  for (const t of map.tables) schemas.set(t.schema, [...(schemas.get(t.schema) ?? []), t]);
  return schemas;
}

/** The explorer as Markdown for a pull request: a table per schema (commands as columns), then each table's policies, warnings and differences. */
export function renderPolicyMapMarkdown(map: PolicyMap): string {
  const out = ['# Row level security policies', '', sourceLine(map.live)];
  for (const [schema, tables] of bySchema(map)) {
    out.push('', `## Schema ${code(schema)}`, '', '| table | entity | flags | select | insert | update | delete |', '|---|---|---|---|---|---|---|');
    for (const t of tables) {
      const shown = shownAccess(t);
      const states = shown.commands.map((c) => cell(`${MARK[c.state]}${c.policies.length > 0 ? ` (${c.policies.map((p) => p.name).join(', ')})` : ''}`));
      const flags = t.live === null ? 'missing in the database' : flagsOf(shown);
      // ≠ beside the table's name: a difference can be in a policy or in the flags (its list below says which).
      out.push(`| ${cell(t.name)}${t.differences.length > 0 ? ' ≠' : ''} | ${cell(t.entity ?? (t.partitionOf ? `partition of ${t.partitionOf}` : ''))} | ${cell(flags)} | ${states.join(' | ')} |`);
    }
    for (const t of tables) {
      const policies = [...new Map(shownAccess(t).commands.flatMap((c) => c.policies).map((p) => [p.name, p])).values()];
      out.push('', `### ${code(tableName(t))}`, '');
      for (const p of policies) out.push(`- ${code(p.name)}: ${policyHeadline(p)}${policyExpressions(p) ? ` ${code(policyExpressions(p))}` : ''}`);
      if (policies.length === 0) out.push('- no policies');
      for (const w of t.warnings) out.push(`- ⚠️ **${w.code}**: ${w.message}`);
      for (const d of t.differences) out.push(`- ≠ **${d.kind}**: ${d.message}`);
    }
  }
  if (map.otherWarnings.length > 0) {
    out.push('', '## Other tables', '');
    for (const w of map.otherWarnings) out.push(`- ⚠️ **${w.code}**${w.table ? ` ${code(w.table)}` : ''}: ${w.message}`);
  }
  const differences = map.tables.reduce((n, t) => n + t.differences.length, 0);
  out.push('', `${allWarnings(map).length} warning(s)${map.live ? `, ${differences} difference(s)` : ''}.`);
  return `${out.join('\n')}\n`;
}
