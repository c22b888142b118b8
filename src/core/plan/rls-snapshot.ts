import type { LiveTableState } from '../catalog/live-state';
import type { TableRlsSpec } from '../ddl/policy-spec';
import type { TableRef } from '../ddl/quote';
import { RlsConfigurationError } from '../errors/rls-configuration-error';

/**
 * The RLS state a migration leaves behind, stored next to MikroORM's schema snapshot. `state` is what
 * PostgreSQL will store (canonical text); `rendered` is what this package wrote for each policy, so an
 * unchanged declaration is recognised without asking the database again.
 */
export interface RlsSnapshot {
  readonly version: 1;
  readonly state: readonly LiveTableState[];
  readonly rendered: Readonly<Record<string, string>>;
  /**
   * Which tables of `state` are partitions (read from the catalog when the migration was created), so a
   * partition that is gone can be told from an entity table. Absent in snapshots written by versions that did not cover partitions.
   */
  readonly partitions?: readonly TableRef[];
}

const key = (schema: string, table: string, policy: string) => JSON.stringify([schema, table, policy]);

/** A fingerprint of a rendered policy: everything its CREATE POLICY statement depends on. */
export function renderedKey(spec: TableRlsSpec, index: number): string {
  const p = spec.policies[index];
  return key(spec.table.schema, spec.table.name, p.name);
}

export function renderedValue(spec: TableRlsSpec, index: number): string {
  const p = spec.policies[index];
  return JSON.stringify([p.command, p.permissive, p.roles, p.using, p.withCheck]);
}

export function snapshotOf(rendered: readonly TableRlsSpec[], canonical: readonly TableRlsSpec[], partitions: readonly TableRef[] = []): RlsSnapshot {
  const fingerprints: Record<string, string> = {};
  rendered.forEach((spec) => spec.policies.forEach((_, i) => (fingerprints[renderedKey(spec, i)] = renderedValue(spec, i))));
  return {
    version: 1,
    state: canonical.map((spec) => ({
      table: spec.table,
      enabled: true,
      forced: spec.force,
      policies: spec.policies.map((p) => ({ ...p, managed: true })),
    })),
    rendered: fingerprints,
    // Only when there are any, so the snapshots of projects without partitions stay as they were.
    ...(partitions.length > 0 ? { partitions } : {}),
  };
}

export function parseSnapshot(json: string, path: string): RlsSnapshot {
  const refuse = () =>
    new RlsConfigurationError(`${path} is not an RLS snapshot this version understands; delete it to compare with the database instead.`);
  let data: RlsSnapshot;
  try {
    data = JSON.parse(json) as RlsSnapshot;
  } catch {
    // Not JSON, for example a file left with merge-conflict markers.
    throw refuse();
  }
  if (data?.version !== 1 || !Array.isArray(data.state) || typeof data.rendered !== 'object' || data.rendered === null) throw refuse();
  return data;
}
