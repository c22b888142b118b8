import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CLUSTER_TOOLS, debianCluster, dropCluster, dropClusterNow, dropLeftovers, failureOf, missingPrograms, postgresUser, run, serverPrograms } from './debian-clusters';
import { freeLoopbackPort } from './free-port';
import { dropLeftoverSlots, dropSlot } from './replication-slots';
import { runSql } from './sql-client';
import { untilReplayed } from './wal-replay';

/**
 * RLS_TEST_REPLICA=1 starts a streaming replica (a hot standby) of the test server and runs the
 * replica tests (tests/replica) against it; without it the Jest configs leave tests/replica out.
 */
export const replicaRequested = (): boolean => process.env.RLS_TEST_REPLICA === '1';

/** The standby's superuser URL (its `postgres` database); set by the global setup, inherited by every worker. */
export const REPLICA_URL_ENV = 'RLS_TEST_REPLICA_URL';

export interface StreamingReplica {
  /** The standby's superuser URL, to its `postgres` database. */
  url: string;
  /** The Debian cluster, `<major>/<name>`, for log lines. */
  cluster: string;
  /** Stops the standby and deletes its cluster (configuration, data and log). */
  stop(): Promise<void>;
}

declare global {
  // Global setup and teardown run in the same (parent) process: this is how teardown finds the standby.
  var __RLS_TEST_REPLICA__: StreamingReplica | undefined;
}

/** Standbys are named after the Jest process that made them, so that a later run can tell a leftover. */
const CLUSTER_PREFIX = 'rls_test_replica_';

/**
 * Settings a hot standby refuses to start with if they are lower than the primary's (PostgreSQL
 * checks them against the values the primary writes into the WAL).
 */
const AT_LEAST_THE_PRIMARYS = ['max_connections', 'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction'];

class ReplicaUnavailableError extends Error {
  constructor(reason: string) {
    super(`RLS_TEST_REPLICA=1 starts a hot standby of the test server, and cannot here: ${reason} (Or unset RLS_TEST_REPLICA, which leaves tests/replica out of the run.)`);
  }
}

/** The primary's major version, and the values the standby's settings must reach. */
async function primarySettings(primaryUrl: string): Promise<{ major: number; walLevel: string; settings: Record<string, string> }> {
  const rows = await runSql<{ name: string; setting: string }>(
    primaryUrl,
    `select name, setting from pg_settings where name = any($1) or name in ('server_version_num', 'wal_level')`,
    [AT_LEAST_THE_PRIMARYS],
  );
  const setting = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  const settings = Object.fromEntries(AT_LEAST_THE_PRIMARYS.map((name) => [name, setting[name]]));
  return { major: Math.floor(Number(setting.server_version_num) / 10000), walLevel: setting.wal_level, settings };
}

/** What stops a standby from being made here, if anything. */
function unavailability(major: number, walLevel: string): string | undefined {
  if (process.getuid?.() !== 0) return "Debian's cluster tools write /etc/postgresql and /var/lib/postgresql, so the suite must run as root.";
  if (walLevel === 'minimal') return 'the test server has wal_level = minimal, which streams nothing: set it to replica (the default) and restart it.';
  const missing = missingPrograms(major);
  if (missing.length > 0) {
    return `it needs Debian's PostgreSQL ${major} server and cluster tools (the test server runs PostgreSQL ${major}), and ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing: apt-get install postgresql-${major}.`;
  }
  if (!postgresUser()) return "there is no `postgres` system user to own the cluster (Debian's postgresql packages create it).";
  return undefined;
}

/**
 * The standby's own configuration, written into the base backup, where pg_createcluster finds it and
 * moves it to /etc/postgresql (adding the port, paths and cluster name).
 *
 * Who may connect: the suite's own logins from 127.0.0.1, checked the way the superuser URL says the
 * primary checks them (a URL without a password gets in without one, so `trust`), and the `postgres`
 * system user on the Unix socket, for pg_ctlcluster's start-up check. The standby holds a copy of every
 * database of the primary, so it accepts nothing else.
 */
function standbyConfiguration(primaryUrl: string, atLeastThePrimarys: Record<string, string>): Record<string, string> {
  const settings = {
    ...atLeastThePrimarys,
    listen_addresses: '127.0.0.1',
    hot_standby: 'on',
    // Without it, a VACUUM on the primary (another run's, on the shared catalogs) could cancel a test's
    // query on the standby ("conflict with recovery").
    hot_standby_feedback: 'on',
  };
  const method = new URL(primaryUrl).password ? 'scram-sha-256' : 'trust';
  const header = '# mikro-orm-rls tests: a throw-away hot standby of the test server (tests/support/streaming-replica.ts)';
  return {
    // A value in quotes is valid for every kind of setting.
    'postgresql.conf': [header, ...Object.entries(settings).map(([key, value]) => `${key} = '${value.replace(/'/g, "''")}'`), ''].join('\n'),
    'pg_hba.conf': [header, 'local all postgres peer', `host all all 127.0.0.1/32 ${method}`, ''].join('\n'),
    'pg_ident.conf': '',
  };
}

/** The last lines of the standby's log, for an error message. */
function logTail(logFile: string): string {
  return existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n') : `(no log at ${logFile})`;
}

/**
 * Starts a hot standby of the server of `primaryUrl` with Debian's tools: `pg_basebackup -R` (a base
 * backup plus `standby.signal` and the `primary_conninfo` to stream from, through a replication slot
 * of its own) into a new folder, made a cluster of the primary's major on a free loopback port by
 * pg_createcluster, started by pg_ctlcluster, and waited for until it is in recovery and has replayed
 * what the primary had written. The slot goes with the standby (or with the next run). Needs root,
 * Debian's PostgreSQL packages of the primary's major, `wal_level = replica` and a replication
 * connection allowed from here (pg_hba: `host replication ...`; .ci/run adds one for the machine's
 * server). Cleans up after itself if any step fails.
 */
export async function startStreamingReplica(primaryUrl: string): Promise<StreamingReplica> {
  const primary = await primarySettings(primaryUrl);
  const reason = unavailability(primary.major, primary.walLevel);
  if (reason) throw new ReplicaUnavailableError(reason);
  const owner = postgresUser()!;
  await dropLeftovers(primary.major, CLUSTER_PREFIX);
  await dropLeftoverSlots(primaryUrl, CLUSTER_PREFIX);

  const cluster = debianCluster(primary.major, `${CLUSTER_PREFIX}${process.pid}`);
  const version = String(cluster.major);
  const label = `${version}/${cluster.name}`;
  // The standby's replication slot on the primary (tests/support/replication-slots.ts) has its name.
  const slot = cluster.name;
  // If Jest exits without running the teardown, do not leave a server running nor a slot holding WAL.
  const dropOnExit = () => {
    dropClusterNow(cluster);
    try {
      execFileSync(serverPrograms(cluster.major).psql, ['-d', primaryUrl, '-Atc', `select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = '${slot}' and not active`], { stdio: 'ignore' });
    } catch {
      // Safe to leave: the next run's dropLeftoverSlots drops it (an exit handler cannot wait for the walsender to let go).
    }
  };
  process.once('exit', dropOnExit);
  const stop = async () => {
    process.removeListener('exit', dropOnExit);
    await dropCluster(cluster);
    await dropSlot(primaryUrl, slot);
  };
  try {
    for (const dir of [dirname(cluster.dataDir), cluster.dataDir]) {
      if (existsSync(dir)) continue;
      mkdirSync(dir, { mode: 0o700 });
      chownSync(dir, owner.uid, owner.gid);
    }
    try {
      // -C -S: a new slot keeps the primary's WAL from the backup's start until the standby has it (-R
      // writes primary_slot_name); -X stream: the WAL written during the backup comes with it; -c fast: do
      // not wait for the primary's next checkpoint; --no-sync: a throw-away copy need not reach the disk.
      const args = ['-d', primaryUrl, '-D', cluster.dataDir, '-R', '-C', '-S', slot, '-X', 'stream', '-c', 'fast', '--no-sync'];
      await run(serverPrograms(cluster.major).basebackup, args, {
        ...owner,
        cwd: '/',
        env: { ...process.env, LC_MESSAGES: 'C' },
      });
    } catch (error) {
      const failure = failureOf(error);
      const hint = /pg_hba\.conf.*replication/.test(failure)
        ? " Allow replication connections from 127.0.0.1 on the test server: a first pg_hba.conf line `host replication all 127.0.0.1/32 trust` (or the method its other 127.0.0.1 lines use), then select pg_reload_conf(); .ci/run does it for the machine's server."
        : '';
      throw new ReplicaUnavailableError(`pg_basebackup of the test server failed: ${failure}.${hint}`);
    }
    // Replaces whatever configuration files the backup brought (a primary that keeps them in its data folder).
    for (const [file, text] of Object.entries(standbyConfiguration(primaryUrl, primary.settings))) {
      writeFileSync(join(cluster.dataDir, file), text);
      chownSync(join(cluster.dataDir, file), owner.uid, owner.gid);
    }
    const port = await freeLoopbackPort();
    await run(CLUSTER_TOOLS.createCluster, [version, cluster.name, '-p', String(port), '--start-conf=manual']);
    try {
      await run(CLUSTER_TOOLS.ctlCluster, ['--skip-systemctl-redirect', version, cluster.name, 'start']);
    } catch (error) {
      throw new Error(`The hot standby ${label} did not start: ${failureOf(error)}\nIts log:\n${logTail(cluster.logFile)}`);
    }
    const standby = new URL(primaryUrl);
    standby.host = `127.0.0.1:${port}`;
    standby.pathname = '/postgres';
    const url = standby.toString();
    await untilReplayed(primaryUrl, url).catch((error: Error) => {
      throw new Error(`${error.message}\nThe log of ${label}:\n${logTail(cluster.logFile)}`);
    });
    return { url, cluster: label, stop };
  } catch (error) {
    await stop().catch((stopError: Error) => {
      throw new Error(`${(error as Error).message}\nThen deleting the half-made cluster ${label} failed too: ${failureOf(stopError)}`);
    });
    throw error;
  }
}
