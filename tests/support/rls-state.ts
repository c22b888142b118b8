import type { TestDatabase } from './test-database';

export interface PolicyRow {
  schemaname: string;
  tablename: string;
  policyname: string;
  permissive: 'PERMISSIVE' | 'RESTRICTIVE';
  roles: string[];
  cmd: string;
  qual: string | null;
  with_check: string | null;
}

export interface RlsFlags {
  relname: string;
  enabled: boolean;
  forced: boolean;
}

export interface RlsState {
  policies: PolicyRow[];
  flags: RlsFlags[];
}

/** Every policy on tables named `tables` (in any schema), as pg_policies shows it, in a stable order. */
export const policyRows = (db: TestDatabase, tables: readonly string[]): Promise<PolicyRow[]> =>
  db.query(
    `select schemaname, tablename, policyname, permissive, roles::text[] as roles, cmd, qual, with_check
     from pg_policies where tablename = any($1) order by 1, 2, 3`,
    [tables],
  );

/** ENABLE and FORCE ROW LEVEL SECURITY of the ordinary tables named `tables`. */
export const rlsFlags = (db: TestDatabase, tables: readonly string[]): Promise<RlsFlags[]> =>
  db.query(
    `select c.relname, c.relrowsecurity as enabled, c.relforcerowsecurity as forced
     from pg_class c where c.relname = any($1) and c.relkind = 'r' order by 1`,
    [tables],
  );

/** Policies and RLS flags of `tables`: what a migration changes and its way down must restore exactly. */
export const rlsState = async (db: TestDatabase, tables: readonly string[]): Promise<RlsState> => ({
  policies: await policyRows(db, tables),
  flags: await rlsFlags(db, tables),
});
