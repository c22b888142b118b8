import { allWarnings, COMMAND_STATES, shownAccess, type CommandAccess, type CommandState, type PolicyMap, type TablePolicies } from './policy-map';
import { flagsOf, policyExpressions, policyHeadline, sourceLine, tableName } from './policy-wording';

/** Each state's cell colour: the one place they are chosen (a test counts these pixels in a screenshot). */
export const STATE_COLOURS: Record<CommandState, string> = { allowed: '#c6efce', restricted: '#ffeb9c', refused: '#ffc7ce', unprotected: '#d9d9d9' };

/** Text and attribute values: everything that comes from a declaration or the catalog goes through here. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const STYLE = `
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1f2328; background: #ffffff; }
  table { border-collapse: collapse; margin-bottom: 24px; }
  th, td { border: 1px solid #8c959f; padding: 6px 8px; vertical-align: top; text-align: left; }
  th { background: #f6f8fa; }
  code { font: 12px/1.3 ui-monospace, monospace; white-space: pre-wrap; word-break: break-word; }
  td.command { width: 22%; }
  .state { font-weight: 600; }
  .policy { margin-top: 4px; }
  .differs { font-weight: 600; color: #9a6700; }
${COMMAND_STATES.map((s) => `  td.state-${s} { background: ${STATE_COLOURS[s]}; }`).join('\n')}
`;

function commandCell(table: TablePolicies, access: CommandAccess): string {
  const policies = access.policies
    .map((p) => `<div class="policy"><code>${escapeHtml(p.name)}</code> ${escapeHtml(policyHeadline(p))}${policyExpressions(p) ? `<br><code>${escapeHtml(policyExpressions(p))}</code>` : ''}</div>`)
    .join('');
  const attributes = `data-table="${escapeHtml(tableName(table))}" data-command="${access.command}" data-state="${access.state}"`;
  return `<td class="command state-${access.state}" ${attributes}><span class="state">${access.state}</span>${policies}</td>`;
}

function tableRow(table: TablePolicies): string {
  const shown = shownAccess(table);
  const flags = table.live === null ? 'missing in the database' : flagsOf(shown);
  const notes = [
    ...table.warnings.map((w) => `<li class="warning" data-code="${escapeHtml(w.code)}">⚠ ${escapeHtml(w.message)}</li>`),
    ...table.differences.map((d) => `<li class="differs" data-kind="${d.kind}">≠ ${escapeHtml(d.message)}</li>`),
  ];
  const head = `<th scope="row">${escapeHtml(table.name)}${table.entity ? `<br><small>${escapeHtml(table.entity)}</small>` : table.partitionOf ? `<br><small>partition of ${escapeHtml(table.partitionOf)}</small>` : ''}<br><small>${escapeHtml(flags)}</small></th>`;
  const cells = table.live === null ? `<td colspan="4">the table does not exist in the database</td>` : shown.commands.map((c) => commandCell(table, c)).join('');
  return `<tr>${head}${cells}<td>${notes.length > 0 ? `<ul>${notes.join('')}</ul>` : ''}</td></tr>`;
}

/**
 * The explorer as one self-contained HTML page (no external assets): a table per schema, a row per
 * table, the commands as columns coloured by state, each cell carrying `data-table`, `data-command`
 * and `data-state`; warnings and differences in the last column, the other tables' warnings below.
 */
export function renderPolicyMapHtml(map: PolicyMap): string {
  const schemas = [...new Set(map.tables.map((t) => t.schema))];
  const sections = schemas.map((schema) => {
    const rows = map.tables.filter((t) => t.schema === schema).map(tableRow).join('\n');
    return `<h2>Schema ${escapeHtml(schema)}</h2>
<table data-schema="${escapeHtml(schema)}"><thead><tr><th>table</th><th>select</th><th>insert</th><th>update</th><th>delete</th><th>warnings and differences</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
  });
  const others = map.otherWarnings.map((w) => `<li class="warning" data-code="${escapeHtml(w.code)}">⚠ ${escapeHtml(w.message)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Row level security policies</title>
<style>${STYLE}</style></head>
<body>
<h1>Row level security policies</h1>
<p>${escapeHtml(sourceLine(map.live))} allowed: some permissive policy lets rows through; restricted: permissive policies narrowed by restrictive ones; refused: no permissive policy, no row passes; unprotected: row level security is off.</p>
${sections.join('\n')}
${others ? `<h2>Other tables</h2><ul>${others}</ul>` : ''}
<p>${allWarnings(map).length} warning(s).</p>
</body></html>
`;
}
