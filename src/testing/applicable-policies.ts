import type { EntityManager } from '@mikro-orm/core';
import type { TableRef } from '../core/ddl/quote';

/**
 * A policy as pg_policies shows it: what PostgreSQL applies, whatever the declarations say.
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

interface PolicyRow {
  policyname: string;
  permissive: string;
  cmd: string;
  roles: string[];
  qual: string | null;
  with_check: string | null;
}

/** The commands a statement is checked against: its own and ALL. */
export type CheckedCommand = 'select' | 'insert' | 'update' | 'delete';

/**
 * The policies on `table` that apply to the current role for `commands` (a policy `for all` applies to
 * every command), read from pg_policies, which every role may read. Run outside the check's transaction,
 * which a refusal has aborted.
 */
export async function applicablePolicies(em: EntityManager, table: TableRef, commands: readonly CheckedCommand[]): Promise<AppliedPolicy[]> {
  const rows: PolicyRow[] = await em.getConnection().execute(
    `select policyname, permissive, lower(cmd) as cmd, roles::text[] as roles, qual, with_check
     from pg_catalog.pg_policies
     where schemaname = ? and tablename = ? and lower(cmd) = any(?::text[])
       and exists (select 1 from unnest(roles) as r(role) where r.role = 'public' or pg_catalog.pg_has_role(r.role, 'member'))
     order by policyname`,
    [table.schema, table.name, `{${[...commands, 'all'].join(',')}}`],
  );
  return rows.map((r) => ({ name: r.policyname, permissive: r.permissive === 'PERMISSIVE', command: r.cmd, roles: r.roles, using: r.qual, withCheck: r.with_check }));
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

/** What usually explains a surprise, from the policies that apply (the list of common mistakes). */
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
