import type { LiveTableState } from '../catalog/live-state';
import { qualifiedTable, tableLabel } from '../ddl/quote';
import type { AuditFinding } from './audit-finding';
import { AUDIT_AS_APPLICATION_ROLE, type AuditTarget } from './audit-target';

/**
 * Findings about the role the audit connects as. The fixes never suggest `ALTER ROLE ... NOSUPERUSER`:
 * the connecting superuser is usually the cluster's administrator (`postgres`), and taking that away
 * would lock the administrator out rather than protect the application. The fix is a separate role.
 */
export function roleFindings(target: AuditTarget, live: readonly LiveTableState[]): AuditFinding[] {
  const findings: AuditFinding[] = [];
  const role = `"${target.role}"`;
  if (target.superuser) {
    findings.push({
      code: 'role-superuser',
      message: `The audited role ${role} is a superuser: row level security never applies to it. An application connected as it sees and changes every row.`,
      fix:
        'Connect the application as a role that is NOSUPERUSER NOBYPASSRLS and owns no table ' +
        `(CREATE ROLE app_user LOGIN NOSUPERUSER NOBYPASSRLS; see the README's Security model), then audit as that role: ${AUDIT_AS_APPLICATION_ROLE}`,
    });
    // Superusers have every owner's privileges and bypass RLS anyway: the checks below would repeat this.
    return findings;
  }
  if (target.bypassRls) {
    findings.push({
      code: 'role-bypassrls',
      message: `The audited role ${role} has BYPASSRLS: row level security never applies to it.`,
      fix:
        `If ${role} is the application's role: ALTER ROLE ${role} NOBYPASSRLS; and give admin work its own BYPASSRLS role through bypassRole. ` +
        `If it is not, audit as the application's role: ${AUDIT_AS_APPLICATION_ROLE}`,
    });
  }
  for (const { setting, database } of target.roleDefaults) {
    const name = setting.split('=')[0];
    const where = database ? ` IN DATABASE "${database}"` : '';
    findings.push({
      code: 'role-default-settings',
      message:
        `The role has a role-level default ${setting}${database ? ` in database "${database}"` : ''}: every new connection starts with it, and ` +
        "the session reset returns to it. 'role' makes the connection another role; 'search_path' decides which table MikroORM's " +
        'unqualified names reach. The application role can set such defaults on itself by raw SQL.',
      fix: `If it is not deliberate: ALTER ROLE "${target.sessionRole}"${where} RESET ${name}; and give the application role CREATE on no schema.`,
    });
  }
  for (const state of live) {
    const owned = target.ownedTables.some((t) => t.schema === state.table.schema && t.name === state.table.name);
    if (!owned || !state.enabled || state.forced) continue;
    findings.push({
      code: 'role-owns-table-without-force',
      table: tableLabel(state.table),
      message: `The audited role ${role} owns ${tableLabel(state.table)}, which has RLS without FORCE: the owner bypasses its policies.`,
      fix: `ALTER TABLE ${qualifiedTable(state.table)} FORCE ROW LEVEL SECURITY; (or let another role own the table)`,
    });
  }
  return findings;
}
