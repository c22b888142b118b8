import type { LiveTableState } from '../catalog/live-state';
import type { PolicySpec } from '../ddl/policy-spec';
import type { TableRef } from '../ddl/quote';
import type { RlsSnapshot } from './rls-snapshot';

/** A policy as version 1 stored it: PostgreSQL's canonical text, and the text this package rendered. */
interface Version1Policy extends PolicySpec {
  readonly rendered?: Pick<PolicySpec, 'roles' | 'using' | 'withCheck'>;
}

interface Version1 {
  readonly version: 1;
  readonly state: readonly (Omit<LiveTableState, 'policies'> & { policies: readonly Version1Policy[] })[];
  /** Fingerprints of the rendered policies (`[command, permissive, roles, using, withCheck]`), unused now. */
  readonly rendered: Readonly<Record<string, string>>;
  readonly partitions?: readonly TableRef[];
}

const isVersion1 = (data: Partial<Version1>): data is Version1 =>
  Array.isArray(data.state) && typeof data.rendered === 'object' && data.rendered !== null && (data.partitions === undefined || Array.isArray(data.partitions));

/**
 * A snapshot of version 1 (written by versions up to 0.1), as the current format holds it: each policy's
 * rendered text, which version 1 kept beside the canonical one. A policy without it (never written by
 * those versions) keeps its canonical text, which is valid SQL for the same policy.
 */
export function fromVersion1(data: object): RlsSnapshot | undefined {
  if (!isVersion1(data)) return undefined;
  const state = data.state.map((t) => ({
    table: t.table,
    enabled: t.enabled,
    forced: t.forced,
    policies: t.policies.map((p) => {
      const text = p.rendered ?? p;
      return { name: p.name, permissive: p.permissive, command: p.command, roles: text.roles, using: text.using, withCheck: text.withCheck, managed: true };
    }),
  }));
  return { state, partitions: data.partitions ?? [] };
}
