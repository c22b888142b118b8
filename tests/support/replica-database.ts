import { PGBOUNCER_REPLICA_ADDR_ENV, throughPgBouncer } from './pgbouncer';
import { runSql } from './sql-client';
import { REPLICA_URL_ENV } from './streaming-replica';
import { superuserUrl } from './superuser-url';
import { urlFor, type TestDatabase } from './test-database';
import { untilReplayed } from './wal-replay';

/** A test database as the hot standby of the run sees it: the same database, replayed from the primary's WAL. */
export interface ReplicaDatabase {
  /** Superuser URL to the database on the standby (direct). */
  superUrl: string;
  /**
   * URL to the database on the standby as the unprivileged application role: through the PgBouncer in
   * front of the standby when the run has one (RLS_TEST_PGBOUNCER=1), like the primary's `appUrl`.
   */
  appUrl: string;
  /** Runs SQL as superuser on the standby (read-only: a standby refuses writes). */
  query<T = any>(sql: string, params?: unknown[]): Promise<T[]>;
  /**
   * Waits until the standby has replayed everything committed on the primary so far: call it after
   * creating or changing what a read on the standby must see (the database itself, schema, seed rows).
   */
  untilReplayed(): Promise<void>;
}

/**
 * The standby's view of `db`. Throws when the run has no standby: tests/replica runs only with
 * RLS_TEST_REPLICA=1, whose global setup starts one (the Jest configs leave the folder out otherwise).
 */
export function replicaOf(db: TestDatabase): ReplicaDatabase {
  const standbyUrl = process.env[REPLICA_URL_ENV];
  if (!standbyUrl) {
    throw new Error(
      `${REPLICA_URL_ENV} is not set: this test needs the hot standby that the global setup starts with RLS_TEST_REPLICA=1 (as root, with Debian's PostgreSQL tools; see the README's Tests section). Run it with RLS_TEST_REPLICA=1.`,
    );
  }
  const superUrl = urlFor(standbyUrl, db.name);
  return {
    superUrl,
    appUrl: throughPgBouncer(urlFor(standbyUrl, db.name, db.roles.app), PGBOUNCER_REPLICA_ADDR_ENV),
    query: (sql, params) => runSql(superUrl, sql, params),
    untilReplayed: () => untilReplayed(superuserUrl(), standbyUrl),
  };
}
