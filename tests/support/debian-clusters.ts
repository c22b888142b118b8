import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';

// Debian's PostgreSQL cluster tools (postgresql-common), as the hot standby of the tests uses them:
// a cluster is `<major>/<name>`, its configuration in /etc/postgresql/<major>/<name>, its data in
// /var/lib/postgresql/<major>/<name>, its log in /var/log/postgresql; pg_dropcluster deletes all three.

export const run = promisify(execFile);

/** The output of a failed command, for an error message. */
export const failureOf = (error: unknown): string => String((error as { stderr?: string }).stderr || (error as Error).message).trim();

export interface DebianCluster {
  major: number;
  name: string;
  dataDir: string;
  configDir: string;
  logFile: string;
}

export const debianCluster = (major: number, name: string): DebianCluster => ({
  major,
  name,
  dataDir: `/var/lib/postgresql/${major}/${name}`,
  configDir: `/etc/postgresql/${major}/${name}`,
  logFile: `/var/log/postgresql/postgresql-${major}-${name}.log`,
});

export const CLUSTER_TOOLS = {
  createCluster: '/usr/bin/pg_createcluster',
  ctlCluster: '/usr/bin/pg_ctlcluster',
  dropCluster: '/usr/bin/pg_dropcluster',
  lsClusters: '/usr/bin/pg_lsclusters',
};

/** The programs of one major: a standby must run the primary's major, whose pg_basebackup takes its copy too. */
export const serverPrograms = (major: number) => ({
  basebackup: `/usr/lib/postgresql/${major}/bin/pg_basebackup`,
  postgres: `/usr/lib/postgresql/${major}/bin/postgres`,
  psql: `/usr/lib/postgresql/${major}/bin/psql`,
});

/** Which of the cluster tools and `major`'s server programs are missing (not executable here). */
export function missingPrograms(major: number): string[] {
  return [...Object.values(CLUSTER_TOOLS), ...Object.values(serverPrograms(major))].filter((file) => {
    try {
      accessSync(file, constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
}

/** uid and gid of the `postgres` system user, which owns Debian's clusters and runs their servers; undefined if there is none. */
export function postgresUser(): { uid: number; gid: number } | undefined {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    // `id` exits non-zero when there is no such user: the caller says what to install.
    return undefined;
  }
}

/** Stops and deletes the cluster if the tools know it, then whatever of its folders is left (a start that failed half-way). */
export async function dropCluster(cluster: DebianCluster): Promise<void> {
  const { stdout } = await run(CLUSTER_TOOLS.lsClusters, ['-h']);
  const known = stdout.split('\n').some((line) => line.trim().split(/\s+/).slice(0, 2).join('/') === `${cluster.major}/${cluster.name}`);
  if (known) await run(CLUSTER_TOOLS.dropCluster, ['--stop', String(cluster.major), cluster.name]);
  for (const dir of [cluster.dataDir, cluster.configDir]) rmSync(dir, { recursive: true, force: true });
}

/** The same, synchronously: for a process 'exit' handler, where nothing asynchronous runs any more. */
export function dropClusterNow(cluster: DebianCluster): void {
  try {
    execFileSync(CLUSTER_TOOLS.dropCluster, ['--stop', String(cluster.major), cluster.name], { stdio: 'ignore' });
  } catch {
    // Not known to the tools (the start failed before pg_createcluster): only its folders are left.
  }
  for (const dir of [cluster.dataDir, cluster.configDir]) rmSync(dir, { recursive: true, force: true });
}

/** Whether a process with this id is alive (signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether `name` is `<prefix><pid>` of a process that is gone (a run that died before its teardown), or
 * of this process before it made anything: another run's, still alive, is not.
 */
export function isLeftover(name: string, prefix: string): boolean {
  const pid = name.startsWith(prefix) ? Number(name.slice(prefix.length)) : NaN;
  return Number.isInteger(pid) && (pid === process.pid || !alive(pid));
}

/** Drops the clusters of `major` that {@link isLeftover} says are leftovers, registered or only half-made. */
export async function dropLeftovers(major: number, prefix: string): Promise<void> {
  const names = new Set<string>();
  for (const dir of [`/etc/postgresql/${major}`, `/var/lib/postgresql/${major}`]) {
    if (existsSync(dir)) for (const name of readdirSync(dir)) names.add(name);
  }
  for (const name of names) if (isLeftover(name, prefix)) await dropCluster(debianCluster(major, name));
}
