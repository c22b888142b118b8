import { createHash } from 'node:crypto';
import type { PolicySpec } from '../ddl/policy-spec';
import { quoteLiteral, type TableRef } from '../ddl/quote';
import { createPolicySql, MANAGED_POLICY_COMMENT } from '../ddl/statements';
import { tableKey } from '../ddl/table-keys';
import { POLCMD_COMMANDS, POLICY_COMMENT } from './live-state';
import type { Queryable } from './queryable';

/*
 * A proof, cheap to check, that a live policy is still exactly what `createPolicies` made of the same
 * declaration, so that it needs no probe and no decompile. Its comment carries two fingerprints:
 *   d = md5(settings || '\n' || md5(the CREATE POLICY text as rendered)): what was declared, and how
 *       PostgreSQL read it (the search_path and the settings that change what a literal means);
 *   q = md5 of what PostgreSQL stored (the node trees polqual and polwithcheck as text) and of the names
 *       of what they reference, computed by the server right after the policy was created or found equal
 *       by a probe, never guessed by the client.
 * A policy is unchanged when both still hold and its name, command, kind and roles match. A copied
 * comment does not help a hand edit: another expression stores other trees (q), another policy or table
 * renders another statement (d), a renamed column or table another name (q). Only policies whose names
 * cannot resolve elsewhere are trusted (see TRUSTED). Anything else is probed as before.
 */

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

// What the policy depends on, by name: the node trees hold object ids and column numbers, so a column or
// table renamed under the policy (or swapped for a new one of the old name) leaves them as they were, while
// the declaration would now resolve to something else. pg_depend records every object the expressions
// reference but PostgreSQL's own (pinned) ones.
const DEPENDENCIES = `(select pg_catalog.string_agg(pg_catalog.pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid), E'\\n' order by d.refclassid, d.refobjid, d.refobjsubid)
   from pg_catalog.pg_depend d where d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass and d.objid = p.oid)`;

// One column computed by PostgreSQL for both the write and the check, so both hash the same text.
const TREES_MD5 = `pg_catalog.md5(coalesce(p.polqual::text, '-') || E'\\n' || coalesce(p.polwithcheck::text, '-') || E'\\n' || coalesce(${DEPENDENCIES}, '-'))`;

// Every setting that changes how PostgreSQL reads the text of a declaration: where names resolve, and what
// a literal means (a timestamptz or date literal, `= null`, backslashes in strings, money and numbers).
// The same text read under other settings can store other trees: part of d, read by the server.
const ENVIRONMENT = `pg_catalog.concat_ws(E'\\n', ${['search_path', 'TimeZone', 'DateStyle', 'IntervalStyle', 'transform_null_equals', 'standard_conforming_strings', 'backslash_quote', 'lc_monetary', 'lc_numeric', 'array_nulls', 'timezone_abbreviations', 'xmloption']
  .map((name) => `pg_catalog.current_setting('${name}')`)
  .join(', ')})`;

// When a fingerprint may be trusted at all. Names the expressions resolve in schemas of the search_path
// (another table, a function or type of the application's) could resolve elsewhere now that a new object
// of the same name exists earlier in the path, which neither the trees nor the names above show: such a
// policy is always probed. A policy that references nothing but its own table's columns (the condition
// args' shape) resolves the rest in pg_catalog, which must then come first in the path; and even then an
// operator or function of the application's named like one the trees use can win over pg_catalog's by
// matching the argument types exactly (`=(varchar, text)` against `=(text, text)` and a cast), whatever
// the path's order: when one exists in a schema of the path, the policy is probed.
// SHADOWED is every operator and function that has such a namesake, computed once per query (usually
// none): the trees are searched for them only when there are any, which keeps the check to a fraction of
// the query's time at thousands of policies (the search is most of it when it runs).
// An object a superuser created in pg_catalog itself (an object id from 16384 on: not made by initdb)
// counts too: it can win over the built-in one the same way.
const SHADOWED = `shadowing_schemas as (
    select s.oid from pg_catalog.pg_namespace s
    where s.nspname = any (pg_catalog.current_schemas(true)) and s.nspname <> 'pg_catalog'),
  shadowed as materialized (
    select used.oid, true as is_operator from pg_catalog.pg_operator used
    where used.oprname in (select o.oprname from pg_catalog.pg_operator o
                           where o.oprnamespace in (select oid from shadowing_schemas)
                              or (o.oprnamespace = 'pg_catalog'::pg_catalog.regnamespace and o.oid >= 16384))
    union all
    select used.oid, false from pg_catalog.pg_proc used
    where used.proname in (select f.proname from pg_catalog.pg_proc f
                           where f.pronamespace in (select oid from shadowing_schemas)
                              or (f.pronamespace = 'pg_catalog'::pg_catalog.regnamespace and f.oid >= 16384)))`;
const TRUSTED = `(pg_catalog.current_schemas(true))[1] = 'pg_catalog'
   and not exists (select 1 from pg_catalog.pg_depend d
                   where d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass and d.objid = p.oid
                     and not (d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass and d.refobjid = p.polrelid))
   and (not exists (select 1 from shadowed) or not exists (
     select 1 from pg_catalog.regexp_matches(coalesce(p.polqual::text, '') || ' ' || coalesce(p.polwithcheck::text, ''), E':(opno|funcid|aggfnoid|winfnoid) (\\\\d+)', 'g') as m(found)
     join shadowed on shadowed.oid = m.found[2]::pg_catalog.oid and shadowed.is_operator = (m.found[1] = 'opno')))`;

// Which declarations may be proven at all, by their text: condition args exactly as renderVariable writes
// them, compared with a column, joined by `and` (Permissive({ conditionArgs }) without customExpr, or a
// customExpr that says the same). Their trees hold a fixed set of nodes whose every name lookup leaves a
// trace the checks above read: an operator id, a function id, a column (pg_depend). Any other text is
// probed: a function-style cast (`text(x)`, stored as a coercion without a function id, which a function
// created later would take over), a row comparison (operator ids in a list), a date or time literal
// (read under settings such as timezone_abbreviations), 'now' (folded when the policy was created).
const CONDITION_TYPE = '(?:smallint|integer|bigint|numeric|real|double precision|text|uuid|boolean|timestamptz|date|timestamp)';
const CONDITION_CLAUSE = `"(?:[^"]|"")+" = \\(select nullif\\(current_setting\\('(?:[^'\\\\]|'')+', true\\), ''\\)::${CONDITION_TYPE}\\)`;
const CONDITION_ARGS_ONLY = new RegExp(`^${CONDITION_CLAUSE}(?: and ${CONDITION_CLAUSE})*$`);

/** Whether a declared policy's expressions are condition args only (see CONDITION_ARGS_ONLY): the only ones a fingerprint may prove. */
export function fingerprintEligible(policy: PolicySpec): boolean {
  const { using, withCheck } = policy.rendered ?? policy;
  return (using !== null || withCheck !== null) && [using, withCheck].every((text) => text === null || CONDITION_ARGS_ONLY.test(text));
}

/** The declaration's part of a fingerprint, before the server adds its settings (see ENVIRONMENT). */
export const declarationHash = (table: TableRef, policy: PolicySpec): string => md5(createPolicySql(table, policy));

export const fingerprintKey = (table: TableRef, name: string): string => `${tableKey(table)}\u0000${name}`;

/** A live policy's fingerprint facts, read without decompiling anything. */
export interface FingerprintRow {
  readonly schema: string;
  readonly table: string;
  readonly name: string;
  readonly permissive: boolean;
  readonly cmd: string;
  readonly roles: string[];
  readonly comment: string | null;
  readonly trees: string;
  /** The settings that change how a declaration's text is read (see ENVIRONMENT). */
  readonly environment: string;
  /** Whether the policy's names can only resolve as they did (see TRUSTED); if not, it is always probed. */
  readonly trusted: boolean;
}

/** Name, command, kind, roles, comment and md5 of the node trees of the given tables' policies, in one query. */
export async function readFingerprints(db: Queryable, tables: readonly TableRef[]): Promise<FingerprintRow[]> {
  if (tables.length === 0) return [];
  return db.query<FingerprintRow>(
    `with ${SHADOWED}
     select n.nspname as schema, c.relname as table, p.polname as name, p.polpermissive as permissive, p.polcmd::text as cmd,
            case when 0 = any(p.polroles) then array['public']::text[]
                 else array(select r.rolname::text from pg_roles r where r.oid = any(p.polroles) order by 1) end as roles,
            d.description as comment, ${TREES_MD5} as trees,
            (select ${ENVIRONMENT}) as environment, ${TRUSTED} as trusted
     from pg_catalog.pg_policy p join pg_catalog.pg_class c on c.oid = p.polrelid join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     left join ${POLICY_COMMENT} on true
     where (n.nspname, c.relname) in (select * from unnest($1::text[], $2::text[]))`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
}

const sameRoles = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().join('\u0000') === [...b].sort().join('\u0000');

/** The comment a policy carries when both fingerprints are as given. */
const fingerprintComment = (d: string, q: string) => `${MANAGED_POLICY_COMMENT} (fingerprint d=${d} q=${q})`;

/** The declared policies (as rendered) whose live counterpart the fingerprint proves unchanged, by {@link fingerprintKey}. */
export function provenUnchanged(declared: readonly { table: TableRef; policy: PolicySpec }[], rows: readonly FingerprintRow[]): Set<string> {
  const live = new Map(rows.map((row) => [fingerprintKey({ schema: row.schema, name: row.table }, row.name), row]));
  const proven = new Set<string>();
  for (const { table, policy } of declared) {
    const key = fingerprintKey(table, policy.name);
    const row = live.get(key);
    if (!row || !row.trusted || !fingerprintEligible(policy) || POLCMD_COMMANDS[row.cmd] !== policy.command || row.permissive !== policy.permissive) continue;
    if (!sameRoles(row.roles, (policy.rendered ?? policy).roles)) continue;
    if (row.comment === fingerprintComment(md5(`${row.environment}\n${declarationHash(table, policy)}`), row.trees)) proven.add(key);
  }
  return proven;
}

/**
 * One DO block that writes the fingerprinted comment on each given policy, PostgreSQL computing q from
 * the trees it stored and d from its settings: run it after the policies are as declared, in the same
 * transaction. `undefined` when there is nothing to write.
 */
export function writeFingerprintsSql(declared: readonly { table: TableRef; policy: PolicySpec }[]): string | undefined {
  if (declared.length === 0) return undefined;
  const values = declared.map(({ table, policy }) => `(${[table.schema, table.name, policy.name, declarationHash(table, policy)].map(quoteLiteral).join(', ')})`);
  // The settings are read once for all rows (a subquery without references to them runs once).
  const body = `declare r record;
begin
  for r in
    select v.schema, v.tbl, v.name, pg_catalog.md5((select ${ENVIRONMENT}) || E'\\n' || v.declared) as d, ${TREES_MD5} as q
    from (values ${values.join(', ')}) as v(schema, tbl, name, declared)
    join pg_catalog.pg_namespace n on n.nspname = v.schema
    join pg_catalog.pg_class c on c.relnamespace = n.oid and c.relname = v.tbl
    join pg_catalog.pg_policy p on p.polrelid = c.oid and p.polname = v.name
  loop
    execute pg_catalog.format('comment on policy %I on %I.%I is %L', r.name, r.schema, r.tbl, ${quoteLiteral(`${MANAGED_POLICY_COMMENT} (fingerprint d=`)} || r.d || ' q=' || r.q || ')');
  end loop;
end`;
  // Names and hashes only inside the block; a name holding the quote's tag is refused rather than broken.
  const tag = '$mikro_orm_rls_fingerprint$';
  if (body.includes(tag)) throw new Error(`Internal error: a policy or table name contains ${tag}.`);
  return `do ${tag}${body}${tag}`;
}
