import type { EntityManager } from '@mikro-orm/core';
import type { TableRef } from '../core/ddl/quote';
import { loadInstalledAdapter } from '../adapters/installed-adapter';

/**
 * A policy as the catalog holds it: what PostgreSQL applies, whatever the declarations say.
 *
 * @example
 * const names = (error: RlsPolicyAssertionError) => error.policies.map((p: AppliedPolicy) => `${p.name} (${p.permissive ? 'permissive' : 'restrictive'} ${p.command})`);
 */
export interface AppliedPolicy {
  readonly name: string;
  readonly permissive: boolean;
  /** `select`, `insert`, `update`, `delete` or `all`. */
  readonly command: string;
  readonly roles: readonly string[];
  readonly using: string | null;
  readonly withCheck: string | null;
}

/** The commands a statement is checked against: its own and ALL. */
export type CheckedCommand = 'select' | 'insert' | 'update' | 'delete';

/** Which of `roles` the current role is (a member of); `public` is everyone. */
async function rolesOfCurrentUser(em: EntityManager, roles: readonly string[]): Promise<Set<string>> {
  if (roles.length === 0) return new Set();
  const rows: { role: string }[] = await em.getConnection().execute(
    `select r.role from unnest(?::text[]) as r(role) where case when r.role = 'public' then true else pg_catalog.pg_has_role(r.role, 'member') end`,
    [`{${roles.map((r) => `"${r.replace(/["\\]/g, '\\$&')}"`).join(',')}}`],
  );
  return new Set(rows.map((r) => r.role));
}

/**
 * The policies on `table` that apply to the current role for `commands` (a policy `for all` applies to
 * every command): the live side of the policy explorer's data (describePolicies), narrowed to the roles
 * the current role is. Run outside the check's transaction, which a refusal has aborted.
 */
export async function applicablePolicies(em: EntityManager, table: TableRef, commands: readonly CheckedCommand[]): Promise<AppliedPolicy[]> {
  const map = await loadInstalledAdapter().describePolicies(em, { live: true });
  const described = map.tables.find((t) => t.schema === table.schema && t.name === table.name);
  const byName = new Map<string, AppliedPolicy>();
  for (const access of described?.live?.commands ?? []) {
    if (!commands.includes(access.command)) continue;
    for (const p of access.policies) {
      const command = p.forAll ? 'all' : access.command;
      byName.set(p.name, { name: p.name, permissive: p.kind === 'permissive', command, roles: p.roles, using: p.using, withCheck: p.withCheck });
    }
  }
  // A table the explorer does not describe (its entity declares no policies: they come from hand-written
  // migrations, say): its policies straight from pg_policies.
  if (!described) for (const p of await catalogPolicies(em, table, commands)) byName.set(p.name, p);
  const mine = await rolesOfCurrentUser(em, [...new Set([...byName.values()].flatMap((p) => p.roles))]);
  return [...byName.values()].filter((p) => p.roles.some((r) => mine.has(r))).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The policies pg_policies lists on `table` for `commands` or ALL. */
async function catalogPolicies(em: EntityManager, table: TableRef, commands: readonly CheckedCommand[]): Promise<AppliedPolicy[]> {
  const rows: { name: string; permissive: string; cmd: string; roles: string[]; using: string | null; with_check: string | null }[] = await em.getConnection().execute(
    `select policyname as name, permissive, lower(cmd) as cmd, roles::text[] as roles, qual as using, with_check
       from pg_catalog.pg_policies where schemaname = ? and tablename = ? and (lower(cmd) = 'all' or lower(cmd) = any(?::text[])) order by policyname`,
    [table.schema, table.name, `{${commands.join(',')}}`],
  );
  return rows.map((r) => ({ name: r.name, permissive: r.permissive === 'PERMISSIVE', command: r.cmd, roles: r.roles, using: r.using, withCheck: r.with_check }));
}

/** One line per policy, as a person reads them: name, kind, command, roles, expressions. */
export function describeApplied(policies: readonly AppliedPolicy[]): string {
  if (policies.length === 0) return '  (none: PostgreSQL refuses every row of this command)';
  return policies
    .map((p) => {
      const using = p.using === null ? '' : ` using (${p.using})`;
      const check = p.withCheck === null ? '' : ` with check (${p.withCheck})`;
      return `  ${p.name}: ${p.permissive ? 'permissive' : 'restrictive'} for ${p.command} to ${p.roles.join(', ')}${using}${check}`;
    })
    .join('\n');
}

/** What usually explains a surprise, from the policies that apply (the issue's list of common mistakes). */
export function likelyCauses(check: 'widened' | 'refused', policies: readonly AppliedPolicy[], command: CheckedCommand): string[] {
  const causes: string[] = [];
  const permissive = policies.filter((p) => p.permissive);
  if (check === 'widened') {
    const forAll = command === 'select' ? permissive.filter((p) => p.command === 'all') : [];
    if (permissive.length > 1) {
      causes.push(
        `Permissive policies are OR-ed: a row passes if any one of ${permissive.map((p) => p.name).join(', ')} lets it through. ` +
          'Make the narrowing one Restrictive (AND-ed), or merge the conditions into one policy.',
      );
    }
    if (forAll.length > 0) {
      causes.push(`A FOR ALL policy applies to SELECT too: ${forAll.map((p) => p.name).join(', ')}. Declare it for the write commands only if it should not widen what is visible.`);
    }
  } else if ((command === 'insert' || command === 'update') && !policies.some((p) => p.permissive && (p.command === 'select' || p.command === 'all'))) {
    causes.push(
      `No permissive SELECT (or ALL) policy applies: MikroORM writes with RETURNING, which PostgreSQL refuses unless the ${command === 'insert' ? 'new' : 'updated'} row is visible ` +
        'under a SELECT policy ("new row violates row-level security policy"). Add a SELECT policy for the rows this context writes.',
    );
  }
  return causes;
}
