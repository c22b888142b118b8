import type { LiveTableState } from '../catalog/live-state';
import type { PolicySpec, TableRlsSpec } from '../ddl/policy-spec';
import type { TableRef } from '../ddl/quote';
import { tableSet, tableKey } from '../ddl/table-keys';
import { RlsConfigurationError } from '../errors/rls-configuration-error';
import { fromVersion1 } from './rls-snapshot-v1';

/**
 * The RLS state a migration leaves behind, stored next to MikroORM's schema snapshot (as
 * `.snapshot-<db>.rls.json`): every declared table, partitions included, with its FORCE flag and its
 * policies as this package rendered them (the text its migration files hold; RLS is enabled on each).
 * The next migration starts from it. A declaration whose text is unchanged needs no database; a changed
 * one is compared with the recorded one by PostgreSQL's canonical text (both probed), so a mere change of
 * formatting is no migration.
 */
export interface RlsSnapshot {
  readonly state: readonly LiveTableState[];
  /** Which tables of `state` are partitions of entity tables (read from the catalog when it was written). */
  readonly partitions: readonly TableRef[];
}

const policyOf = (p: PolicySpec): PolicySpec => {
  const rendered = p.rendered ?? p;
  return { name: p.name, permissive: p.permissive, command: p.command, roles: rendered.roles, using: rendered.using, withCheck: rendered.withCheck };
};

/** The snapshot of `declared` (partitions covered; policies as rendered, or with their `rendered` text). */
export function snapshotOf(declared: readonly TableRlsSpec[], partitions: readonly TableRef[] = []): RlsSnapshot {
  return {
    state: declared.map((spec) => ({ table: spec.table, enabled: true, forced: spec.force, policies: spec.policies.map((p) => ({ ...policyOf(p), managed: true })) })),
    partitions,
  };
}

/**
 * The file's text: one line per policy, so that a migration's change to it reads as the lines of the
 * policies it changes. Fields without a value (`using` of an insert policy) are left out.
 *
 * @example
 * // {
 * //   "version": 2,
 * //   "tables": [
 * //     { "schema": "public", "table": "note", "force": true, "policies": [
 * //       { "name": "own_select", "command": "select", "permissive": true, "roles": ["public"], "using": "\"account_id\" = (select ...)" }
 * //     ] }
 * //   ]
 * // }
 */
export function serializeSnapshot(snapshot: RlsSnapshot): string {
  const partitions = tableSet(snapshot.partitions);
  const tables = snapshot.state.map((t) => {
    const head = `{ "schema": ${JSON.stringify(t.table.schema)}, "table": ${JSON.stringify(t.table.name)}${partitions.has(tableKey(t.table)) ? ', "partition": true' : ''}, "force": ${t.forced}, "policies": [`;
    if (t.policies.length === 0) return `    ${head}] }`;
    const policies = t.policies.map((p) => `      ${policyLine(p)}`).join(',\n');
    return `    ${head}\n${policies}\n    ] }`;
  });
  return `{\n  "version": 2,\n  "tables": [${tables.length > 0 ? `\n${tables.join(',\n')}\n  ` : ''}]\n}\n`;
}

function policyLine(p: PolicySpec): string {
  const fields: [string, unknown][] = [
    ['name', p.name],
    ['command', p.command],
    ['permissive', p.permissive],
    ['roles', p.roles],
    ['using', p.using],
    ['withCheck', p.withCheck],
  ];
  return `{ ${fields
    .filter(([, value]) => value !== null)
    .map(([name, value]) => `"${name}": ${Array.isArray(value) ? `[${value.map((v) => JSON.stringify(v)).join(', ')}]` : JSON.stringify(value)}`)
    .join(', ')} }`;
}

const COMMANDS = new Set(['select', 'insert', 'update', 'delete', 'all']);
const isText = (v: unknown): v is string => typeof v === 'string';
const isTextOrAbsent = (v: unknown) => v === undefined || isText(v);

interface StoredPolicy {
  name: string;
  command: PolicySpec['command'];
  permissive: boolean;
  roles: string[];
  using?: string;
  withCheck?: string;
}
interface StoredTable {
  schema: string;
  table: string;
  partition?: boolean;
  force: boolean;
  policies: StoredPolicy[];
}

const isPolicy = (p: Partial<StoredPolicy>) =>
  isText(p.name) && COMMANDS.has(p.command!) && typeof p.permissive === 'boolean' && Array.isArray(p.roles) && p.roles.every(isText) && isTextOrAbsent(p.using) && isTextOrAbsent(p.withCheck);
const isTable = (t: Partial<StoredTable>) =>
  isText(t.schema) && isText(t.table) && typeof t.force === 'boolean' && (t.partition === undefined || typeof t.partition === 'boolean') && Array.isArray(t.policies) && t.policies.every(isPolicy);

function fromVersion2(tables: StoredTable[]): RlsSnapshot {
  const state = tables.map((t) => ({
    table: { schema: t.schema, name: t.table },
    enabled: true,
    forced: t.force,
    policies: t.policies.map((p) => ({ name: p.name, permissive: p.permissive, command: p.command, roles: p.roles, using: p.using ?? null, withCheck: p.withCheck ?? null, managed: true })),
  }));
  return { state, partitions: tables.filter((t) => t.partition === true).map((t) => ({ schema: t.schema, name: t.table })) };
}

/**
 * Reads a snapshot file: the current format (version 2), or version 1, which versions up to 0.1 wrote
 * (PostgreSQL's canonical text with the rendered text beside it; read as the rendered text). The next
 * migration writes it back as version 2.
 */
export function parseSnapshot(json: string, path: string): RlsSnapshot {
  const refuse = () =>
    new RlsConfigurationError(`${path} is not an RLS snapshot this version understands; delete it to compare with the database instead.`);
  let data: { version?: unknown; tables?: unknown };
  try {
    data = JSON.parse(json) as typeof data;
  } catch {
    // Not JSON, for example a file left with merge-conflict markers.
    throw refuse();
  }
  if (data?.version === 2 && Array.isArray(data.tables) && data.tables.every(isTable)) return fromVersion2(data.tables as StoredTable[]);
  const v1 = data?.version === 1 ? fromVersion1(data) : undefined;
  if (!v1) throw refuse();
  return v1;
}
