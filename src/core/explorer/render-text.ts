import { allWarnings, shownAccess, type PolicyMap } from './policy-map';
import { flagsOf, policyExpressions, policyHeadline, sourceLine, tableName } from './policy-wording';

/**
 * The explorer as plain text for a terminal: per table its flags, per command its state and the
 * policies that apply, then its warnings and differences; the warnings about other tables last.
 */
export function renderPolicyMapText(map: PolicyMap): string {
  const lines = [`mikro-orm-rls policies: ${map.tables.length} table(s) with declared policies. ${sourceLine(map.live)}`];
  for (const table of map.tables) {
    const shown = shownAccess(table);
    const live = table.live === undefined ? '' : table.live === null ? '; live: the table does not exist' : `; live: ${flagsOf(table.live)}`;
    const owner = table.entity ? ` (entity ${table.entity})` : table.partitionOf ? ` (partition of ${table.partitionOf})` : '';
    lines.push('', `${tableName(table)}${owner}: declared ${flagsOf(table.declared)}${live}`);
    for (const access of shown.commands) {
      lines.push(`  ${access.command}: ${access.state}`);
      for (const policy of access.policies) lines.push(`    ${policy.name}: ${policyHeadline(policy)} ${policyExpressions(policy)}`.trimEnd());
    }
    for (const w of table.warnings) lines.push(`  warning ${w.code}: ${w.message}`);
    for (const d of table.differences) lines.push(`  difference ${d.kind}: ${d.message}`);
  }
  if (map.otherWarnings.length > 0) {
    lines.push('', 'Other tables:');
    for (const w of map.otherWarnings) lines.push(`  warning ${w.code}${w.table ? ` ${w.table}` : ''}: ${w.message}`);
  }
  const differences = map.tables.reduce((n, t) => n + t.differences.length, 0);
  lines.push('', `${allWarnings(map).length} warning(s)${map.live ? `, ${differences} difference(s)` : ''}. The explorer only describes; \`mikro-orm-rls audit\` fails on problems.`);
  return lines.join('\n');
}
