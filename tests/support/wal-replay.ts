import { Client } from 'pg';
import { runSql } from './sql-client';
import { describeServer } from './superuser-url';

/**
 * How long a standby may take to catch up. It replays everything the primary writes, so on a server
 * shared with other work (a developer's machine, another run's migrations) it can fall seconds behind.
 */
const REPLAY_TIMEOUT_MS = 60_000;

/**
 * Waits until the hot standby at `standbyUrl` has replayed all the WAL the primary at `primaryUrl` had
 * written when called: what was committed before (a database, roles, tables, policies, rows) is then
 * visible on the standby. Throws if `standbyUrl` is not in recovery, so that a misrouted URL cannot
 * pass for a replica.
 */
export async function untilReplayed(primaryUrl: string, standbyUrl: string): Promise<void> {
  const [{ lsn }] = await runSql<{ lsn: string }>(primaryUrl, 'select pg_current_wal_lsn()::text as lsn');
  const standby = new Client({ connectionString: standbyUrl });
  await standby.connect();
  try {
    const until = Date.now() + REPLAY_TIMEOUT_MS;
    for (;;) {
      const {
        rows: [state],
      } = await standby.query<{ recovering: boolean; replayed: string | null; done: boolean }>(
        'select pg_is_in_recovery() as recovering, pg_last_wal_replay_lsn()::text as replayed, coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false) as done',
        [lsn],
      );
      if (!state.recovering) throw new Error(`${describeServer(standbyUrl)} is not in recovery: it is not a hot standby (a primary, or a promoted replica).`);
      if (state.done) return;
      if (Date.now() > until) {
        throw new Error(
          `The hot standby at ${describeServer(standbyUrl)} has replayed the WAL up to ${state.replayed ?? 'nothing'}, and the primary had written up to ${lsn} ` +
            `${REPLAY_TIMEOUT_MS / 1000} s ago: is it still streaming (pg_stat_replication on the primary, the standby's log)?`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await standby.end();
  }
}
