import type { AuditFinding } from '../audit/audit-finding';

/** The commands the explorer shows, one column each; a FOR ALL policy appears under every one. */
export const EXPLORED_COMMANDS = ['select', 'insert', 'update', 'delete'] as const;
export type ExploredCommand = (typeof EXPLORED_COMMANDS)[number];

/**
 * What PostgreSQL does with a command on a table, for a role the policies name:
 * - `allowed`: some permissive policy lets rows through;
 * - `restricted`: permissive policies, narrowed by restrictive ones (AND-ed);
 * - `refused`: row level security is on and no permissive policy applies, so no row passes;
 * - `unprotected`: row level security is off, so every row passes (for a role with the privilege).
 */
export type CommandState = 'allowed' | 'restricted' | 'refused' | 'unprotected';
export const COMMAND_STATES: readonly CommandState[] = ['allowed', 'restricted', 'refused', 'unprotected'];

/** A policy as it applies to one command. */
export interface ApplyingPolicy {
  readonly name: string;
  readonly kind: 'permissive' | 'restrictive';
  /** Role names, or `public`. */
  readonly roles: readonly string[];
  readonly using: string | null;
  readonly withCheck: string | null;
  /** It is a FOR ALL policy (which applies to every command, SELECT included). */
  readonly forAll: boolean;
}

/** The policies that apply to one command, and what they add up to. */
export interface CommandAccess {
  readonly command: ExploredCommand;
  readonly state: CommandState;
  readonly policies: readonly ApplyingPolicy[];
}

/** One table's flags and, per command (in {@link EXPLORED_COMMANDS} order), its policies: declared or live. */
export interface TableAccess {
  /** ENABLE ROW LEVEL SECURITY. */
  readonly enabled: boolean;
  /** FORCE ROW LEVEL SECURITY. */
  readonly forced: boolean;
  readonly commands: readonly CommandAccess[];
}

/** Where the live state differs from the declared one. */
export interface PolicyDifference {
  readonly kind: 'table-missing' | 'only-declared' | 'only-live' | 'differs' | 'enable-differs' | 'force-differs';
  /** The policy it is about, when it is about one. */
  readonly policy?: string;
  readonly message: string;
}

/** Everything the explorer says about one table with declared policies. */
export interface TablePolicies {
  readonly schema: string;
  readonly name: string;
  /** The entity (class name) whose table it is; null when no entity maps it. */
  readonly entity: string | null;
  /**
   * For a partition of an entity table (read from the catalog): that table, as `schema.name`. A query
   * that names a partition gets only the partition's own policies, so it must have its table's.
   */
  readonly partitionOf?: string;
  readonly declared: TableAccess;
  /** With `live`: what the database has (null: the table does not exist); absent without `live`. */
  readonly live?: TableAccess | null;
  /** Warnings about this table, worded as the audit words them. */
  readonly warnings: readonly AuditFinding[];
  /** With `live`: where the database differs from the declaration (empty when it does not, or without `live`). */
  readonly differences: readonly PolicyDifference[];
}

/**
 * What `describePolicies(orm)` returns: plain JSON-safe data, per table with declared policies, and the
 * warnings about other tables (such as tables without row level security that reference RLS tables).
 *
 * @example
 * const map: PolicyMap = await describePolicies(orm, { live: true });
 * for (const t of map.tables) console.log(`${t.schema}.${t.name}`, t.declared.commands.map((c) => `${c.command}: ${c.state}`).join(', '));
 */
export interface PolicyMap {
  /** Whether the live state was read (and compared). */
  readonly live: boolean;
  readonly tables: readonly TablePolicies[];
  /** Warnings about tables that declare no policies. */
  readonly otherWarnings: readonly AuditFinding[];
}

/** The side a reader sees first: the live state when it was read and the table exists, else the declaration. */
export function shownAccess(table: TablePolicies): TableAccess {
  return table.live ?? table.declared;
}

/** Every warning of the map, tables' and others', in the order they are listed. */
export function allWarnings(map: PolicyMap): AuditFinding[] {
  return [...map.tables.flatMap((t) => t.warnings), ...map.otherWarnings];
}
