import type { PolicySpec } from './policy-spec';
import { qualifiedTable, quoteIdent, quoteLiteral, quoteRole, type TableRef } from './quote';

/** Written on every policy this package creates, so hand-written policies can be told apart and left alone. */
export const MANAGED_POLICY_COMMENT = 'managed by mikro-orm-rls';

// What `createPolicies` writes after the marker: see src/core/catalog/policy-fingerprint.ts.
const FINGERPRINTED = /^managed by mikro-orm-rls \(fingerprint d=[0-9a-f]{32} q=[0-9a-f]{32}\)$/;

/** Whether a policy's comment marks it as created by this package: the plain marker or a fingerprinted one. */
export function isManagedComment(comment: string | null | undefined): boolean {
  return comment === MANAGED_POLICY_COMMENT || (typeof comment === 'string' && FINGERPRINTED.test(comment));
}

function clauses(spec: PolicySpec): string {
  const policy = spec.rendered ?? spec;
  const roles = ` to ${policy.roles.map(quoteRole).join(', ')}`;
  const using = policy.using === null ? '' : ` using (${policy.using})`;
  const check = policy.withCheck === null ? '' : ` with check (${policy.withCheck})`;
  return `${roles}${using}${check}`;
}

export function createPolicySql(table: TableRef, policy: PolicySpec): string {
  const kind = policy.permissive ? 'permissive' : 'restrictive';
  return `create policy ${quoteIdent(policy.name)} on ${qualifiedTable(table)} as ${kind} for ${policy.command}${clauses(policy)}`;
}

/** Only roles and expressions can be altered; command and permissive/restrictive need drop + create. */
export function alterPolicySql(table: TableRef, policy: PolicySpec): string {
  return `alter policy ${quoteIdent(policy.name)} on ${qualifiedTable(table)}${clauses(policy)}`;
}

export function dropPolicySql(table: TableRef, name: string): string {
  return `drop policy ${quoteIdent(name)} on ${qualifiedTable(table)}`;
}

export function commentPolicySql(table: TableRef, name: string, comment: string | null): string {
  const text = comment === null ? 'null' : quoteLiteral(comment);
  return `comment on policy ${quoteIdent(name)} on ${qualifiedTable(table)} is ${text}`;
}

export function rowLevelSecuritySql(table: TableRef, enabled: boolean): string {
  return `alter table ${qualifiedTable(table)} ${enabled ? 'enable' : 'disable'} row level security`;
}

export function forceRowLevelSecuritySql(table: TableRef, forced: boolean): string {
  return `alter table ${qualifiedTable(table)} ${forced ? 'force' : 'no force'} row level security`;
}
