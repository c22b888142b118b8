import type { ApplyingPolicy, TableAccess, TablePolicies } from './policy-map';

// The words every renderer uses for the same things, so the text, Markdown and HTML pages read alike.

/** `public.item`. */
export const tableName = (table: Pick<TablePolicies, 'schema' | 'name'>): string => `${table.schema}.${table.name}`;

/** `permissive, FOR ALL, to public` */
export function policyHeadline(policy: ApplyingPolicy): string {
  return `${policy.kind}${policy.forAll ? ', FOR ALL' : ''}, to ${policy.roles.join(', ')}`;
}

/** `using (...) with check (...)`, or empty. */
export function policyExpressions(policy: ApplyingPolicy): string {
  return [policy.using === null ? '' : `using (${policy.using})`, policy.withCheck === null ? '' : `with check (${policy.withCheck})`].filter(Boolean).join(' ');
}

/** `RLS enabled, forced` */
export function flagsOf(access: TableAccess): string {
  return `RLS ${access.enabled ? 'enabled' : 'not enabled'}, ${access.forced ? 'forced' : 'not forced'}`;
}

/** Which side a page shows, and what a reader can do about the warnings. */
export function sourceLine(live: boolean): string {
  return live
    ? 'From the declarations and the database (the live side is shown; differences are marked).'
    : 'From the declarations (run with --live to compare with the database).';
}
