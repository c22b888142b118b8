import type { EntityMetadata } from '@mikro-orm/core';
import { fitIdentifier, MAX_IDENTIFIER_BYTES } from '../ddl/policy-name';
import type { PolicySpec } from '../ddl/policy-spec';
import type { Command } from '../policy/command';
import { RlsDeclarationError } from '../errors/rls-declaration-error';

/**
 * MikroORM 7's own RLS metadata (entity options `policies` and `rowLevelSecurity`, and `rls`-flagged
 * filters), as this package reads it. MikroORM 6 has none of these fields, so they are read from the
 * metadata object structurally: on 6 they are simply absent.
 */
interface NativePolicyDef {
  readonly name?: string;
  readonly command?: string;
  readonly type?: string;
  readonly roles?: readonly string[];
  /** SQL text (discovery already called a callback), or a `raw()` fragment. */
  readonly using?: unknown;
  readonly check?: unknown;
}

interface NativeRlsMetadata {
  readonly policies?: readonly NativePolicyDef[];
  readonly rowLevelSecurity?: boolean | 'force';
  readonly filters?: Readonly<Record<string, { readonly name?: string; readonly rls?: unknown }>>;
}

/** What an entity declares through MikroORM 7's native RLS options. */
export interface NativeDeclaration {
  readonly policies: readonly PolicySpec[];
  /** `rowLevelSecurity: 'force'`; `true` or absent (with policies) is RLS without FORCE, as natively. */
  readonly force: boolean;
}

const COMMANDS = new Set<string>(['select', 'insert', 'update', 'delete', 'all']);

const nativeOf = (meta: EntityMetadata) => meta as unknown as NativeRlsMetadata;

/** A `raw()` fragment is `{ sql, params }`; one with parameters would need MikroORM's quoting, which the core does not have. */
function expressionText(meta: EntityMetadata, policy: string, field: 'using' | 'check', value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  const raw = value as { sql?: unknown; params?: unknown };
  if (typeof raw.sql === 'string' && (!Array.isArray(raw.params) || raw.params.length === 0)) return raw.sql;
  throw new RlsDeclarationError(
    `Entity ${meta.className}: the ${field} of policy "${policy}" is neither SQL text nor a raw() fragment without parameters. ` +
      'Write it as a string (or a callback returning one), with values written into the SQL.',
  );
}

/**
 * Refuses `rls`-flagged filters: MikroORM 7 turns each into a policy of its own making (which this package
 * would not manage) and, when the filter's parameters are set, into a native session context that opens
 * a transaction of its own around every query (begin, set_config, query, commit), outside this package's
 * scope and its validation.
 */
export function refuseRlsFilters(meta: EntityMetadata): void {
  const flagged = Object.entries(nativeOf(meta).filters ?? {}).filter(([, filter]) => filter?.rls);
  if (flagged.length === 0) return;
  throw new RlsDeclarationError(
    `Entity ${meta.className} has rls-flagged filter(s) ${flagged.map(([name]) => `"${name}"`).join(', ')}. With mikro-orm-rls, ` +
      "policies come from declarations (rls: { policies }, or the entity's `policies` option) and the context from " +
      'forkWithRls(ctx): a filter with `rls` would create a policy this package does not manage and a native session context ' +
      'outside its scope. Remove `rls` from the filter (it stays an application-level filter) and declare the policy instead.',
  );
}

/**
 * The entity's native declarations as rendered policies, or undefined when it has none. Names are the
 * native ones (`<table>_<command>_policy`, with `_2`, `_3` ... on collisions) when they fit PostgreSQL's
 * 63 bytes; a longer default name gets a hash suffix instead of MikroORM's silent truncation, and a longer
 * explicit name is refused.
 */
export function nativeDeclaration(meta: EntityMetadata): NativeDeclaration | undefined {
  const { policies = [], rowLevelSecurity } = nativeOf(meta);
  if (policies.length === 0 && !rowLevelSecurity) return undefined;
  if (rowLevelSecurity === false) {
    throw new RlsDeclarationError(
      `Entity ${meta.className} declares policies with rowLevelSecurity: false. mikro-orm-rls enables row level security on every ` +
        'table with declared policies (dormant policies protect nothing): remove the policies, or remove rowLevelSecurity: false.',
    );
  }
  const used = new Set<string>();
  const specs = policies.map((policy, index): PolicySpec => {
    const command = (policy.command ?? 'all') as Command;
    const label = policy.name ?? `#${index + 1}`;
    if (!COMMANDS.has(command)) {
      throw new RlsDeclarationError(`Entity ${meta.className}: policy "${label}" has command "${String(policy.command)}"; use select, insert, update, delete or all.`);
    }
    if (policy.type !== undefined && policy.type !== 'permissive' && policy.type !== 'restrictive') {
      throw new RlsDeclarationError(`Entity ${meta.className}: policy "${label}" has type "${String(policy.type)}"; use permissive or restrictive.`);
    }
    const name = policy.name ?? defaultName(`${meta.collection ?? meta.tableName}_${command}_policy`, used);
    if (policy.name !== undefined && Buffer.byteLength(policy.name) > MAX_IDENTIFIER_BYTES) {
      throw new RlsDeclarationError(
        `Entity ${meta.className}: policy name "${policy.name}" is ${Buffer.byteLength(policy.name)} bytes long; PostgreSQL keeps only ` +
          `${MAX_IDENTIFIER_BYTES} and would truncate it silently. Give it a name of at most ${MAX_IDENTIFIER_BYTES} bytes.`,
      );
    }
    if (used.has(name) && policy.name !== undefined) {
      throw new RlsDeclarationError(`Entity ${meta.className} declares two policies named "${name}". Give them distinct names.`);
    }
    used.add(name);
    const roles = policy.roles && policy.roles.length > 0 ? policy.roles.map((r) => (r.toLowerCase() === 'public' ? 'public' : r)) : ['public'];
    return {
      name,
      permissive: policy.type !== 'restrictive',
      command,
      roles,
      using: expressionText(meta, name, 'using', policy.using),
      withCheck: expressionText(meta, name, 'check', policy.check),
    };
  });
  return { policies: specs, force: rowLevelSecurity === 'force' };
}

/** MikroORM's default name with its collision index, made to fit without truncation (see fitIdentifier). */
function defaultName(base: string, used: ReadonlySet<string>): string {
  let name = fitIdentifier(base);
  for (let i = 2; used.has(name); i++) name = fitIdentifier(`${base}_${i}`);
  return name;
}
