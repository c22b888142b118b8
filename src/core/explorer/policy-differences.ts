import type { LiveTableState } from '../catalog/live-state';
import type { PolicySpec, TableRlsSpec } from '../ddl/policy-spec';
import { byName } from '../ddl/table-keys';
import type { PolicyDifference } from './policy-map';

const sameRoles = (a: readonly string[], b: readonly string[]) => [...a].sort().join('\u0000') === [...b].sort().join('\u0000');

/** The fields in which a live policy differs from the declared one of its name. */
function differingFields(declared: PolicySpec, live: PolicySpec): string[] {
  const fields: string[] = [];
  if (declared.command !== live.command) fields.push(`command (declared ${declared.command}, live ${live.command})`);
  if (declared.permissive !== live.permissive) fields.push(`kind (declared ${declared.permissive ? 'permissive' : 'restrictive'}, live ${live.permissive ? 'permissive' : 'restrictive'})`);
  if (!sameRoles(declared.roles, live.roles)) fields.push(`roles (declared ${declared.roles.join(', ')}, live ${live.roles.join(', ')})`);
  if (declared.using !== live.using) fields.push(`USING (declared ${declared.using ?? 'none'}, live ${live.using ?? 'none'})`);
  if (declared.withCheck !== live.withCheck) fields.push(`WITH CHECK (declared ${declared.withCheck ?? 'none'}, live ${live.withCheck ?? 'none'})`);
  return fields;
}

/**
 * Where a table's live state differs from its declaration. `declared` holds PostgreSQL's canonical text
 * of the declared expressions (canonicalizeSpecs), so a difference is a real one, not formatting.
 * Unlike the migration diff, hand-written policies count: they apply as much as declared ones.
 */
export function policyDifferences(declared: TableRlsSpec, live: LiveTableState | undefined): PolicyDifference[] {
  if (!live) return [{ kind: 'table-missing', message: 'The table does not exist in the database: run the migrations (npx mikro-orm migration:up).' }];
  const differences: PolicyDifference[] = [];
  if (!live.enabled) differences.push({ kind: 'enable-differs', message: 'Declared with row level security, but it is not enabled in the database.' });
  if (declared.force !== live.forced) {
    differences.push({ kind: 'force-differs', message: declared.force ? 'Declared FORCE ROW LEVEL SECURITY, but it is not forced in the database.' : 'Forced in the database, but not declared FORCE.' });
  }
  const liveByName = byName(live.policies);
  const declaredByName = byName(declared.policies);
  for (const policy of declared.policies) {
    const current = liveByName.get(policy.name);
    if (!current) {
      differences.push({ kind: 'only-declared', policy: policy.name, message: `Policy "${policy.name}" is declared but not in the database.` });
      continue;
    }
    const fields = differingFields(policy, current);
    if (fields.length > 0) differences.push({ kind: 'differs', policy: policy.name, message: `Policy "${policy.name}" differs: ${fields.join('; ')}.` });
  }
  for (const policy of live.policies) {
    if (declaredByName.has(policy.name)) continue;
    const origin = policy.managed ? 'created by mikro-orm-rls but no longer declared' : 'not declared (written by hand, or by another tool)';
    differences.push({ kind: 'only-live', policy: policy.name, message: `Policy "${policy.name}" is in the database but ${origin}.` });
  }
  return differences;
}
