/** Cluster-wide roles the tests use; created by the global setup, shared by every test database. */
export const TEST_ROLES = {
  /** Owns the tables; runs DDL and createPolicies. */
  owner: 'rls_test_owner',
  /** The application: NOSUPERUSER, NOBYPASSRLS, owns nothing. Isolation is always proven as this role. */
  app: 'rls_test_app',
  /** NOLOGIN BYPASSRLS, granted to the application role, for bypassRls(). */
  bypass: 'rls_test_bypass',
} as const;

export type TestRoles = { owner: string; app: string; bypass: string };

/** Passwords equal role names; they only ever exist on throw-away or local test servers. */
export const passwordOf = (role: string): string => role;
