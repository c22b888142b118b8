import type { PolicySpec } from '../ddl/policy-spec';
import type { AuditFinding } from './audit-finding';

/**
 * A table with a permissive FOR ALL policy next to permissive SELECT policies of its own: PostgreSQL ORs
 * them, so the FOR ALL policy widens what SELECT shows beyond what the SELECT policies say (a common
 * surprise when the FOR ALL policy was meant for the writes). Used by the policy explorer; the policy
 * test kit names the same cause when a check finds rows it should not see.
 */
export function forAllWidensSelectFinding(label: string, policies: readonly Pick<PolicySpec, 'name' | 'permissive' | 'command'>[]): AuditFinding | undefined {
  const forAll = policies.filter((p) => p.permissive && p.command === 'all');
  const forSelect = policies.filter((p) => p.permissive && p.command === 'select');
  if (forAll.length === 0 || forSelect.length === 0) return undefined;
  const names = (list: typeof policies) => list.map((p) => `"${p.name}"`).join(', ');
  return {
    code: 'for-all-widens-select',
    table: label,
    message: `${label}: the FOR ALL policy ${names(forAll)} applies to SELECT too, and permissive policies are OR-ed: rows it allows are visible whatever the SELECT policy ${names(forSelect)} says.`,
    fix: 'Declare the FOR ALL policy for the write commands only (cmd: [Command.insert, Command.update, Command.delete]), or make the narrowing one Restrictive.',
  };
}
