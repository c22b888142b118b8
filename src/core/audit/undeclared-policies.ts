import type { LiveTableState } from '../catalog/live-state';
import { qualifiedTable, quoteIdent, tableLabel } from '../ddl/quote';
import type { AuditFinding } from './audit-finding';

/**
 * Policies on tables whose policies are declared (and on their partitions) that no declaration owns:
 * written by hand, so mikro-orm-rls never compares or replaces them. A permissive one is the dangerous
 * kind: PostgreSQL ORs permissive policies, so `using (true)` opens the table whatever is declared.
 */
// What a permissive policy opens, by its command: a FOR SELECT one makes rows visible, not writable.
const REACH: Record<LiveTableState['policies'][number]['command'], string> = {
  select: 'is visible',
  insert: 'can be inserted',
  update: 'can be updated',
  delete: 'can be deleted',
  all: 'is visible and writable',
};

export function undeclaredPolicyFindings(managed: readonly LiveTableState[]): AuditFinding[] {
  return managed.flatMap((state) =>
    state.policies
      .filter((policy) => !policy.managed)
      .map((policy) => {
        const label = tableLabel(state.table);
        const effect = policy.permissive
          ? `It is PERMISSIVE: PostgreSQL ORs permissive policies, so every row it allows ${REACH[policy.command]} whatever the declared policies say.`
          : 'It is RESTRICTIVE: it narrows what the declared policies allow.';
        return {
          code: 'policy-undeclared',
          table: label,
          message: `Policy "${policy.name}" on ${label} (for ${policy.command}) is not declared by any entity and was not created by mikro-orm-rls. ${effect}`,
          fix: `Declare it in the entity's rls.policies, so mikro-orm-rls manages it, or drop it: DROP POLICY ${quoteIdent(policy.name)} ON ${qualifiedTable(state.table)};`,
        };
      }),
  );
}
