import type { DatabaseSchema } from '@mikro-orm/sql';

/**
 * Removes MikroORM 7's own RLS state (policies, `rlsEnabled`, `rlsForced`) from a schema, so its comparator
 * never sees policies: this package's plan is the only one that writes policy DDL. With the state on
 * either side, native would drop and recreate policies after regex-normalised comparison, never ALTER, and
 * drop hand-written policies and disable RLS. `schemaGenerator.ignorePolicies` alone would still let
 * native create declared policies of its own and recreate live ones around column type changes.
 */
export function withoutNativeRls<S extends DatabaseSchema | undefined>(schema: S): S {
  for (const table of schema?.getTables() ?? []) {
    table.setPolicies([]);
    table.rlsEnabled = false;
    table.rlsForced = false;
  }
  return schema;
}
