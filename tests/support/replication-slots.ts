import { Client } from 'pg';
import { isLeftover } from './debian-clusters';

// The hot standby streams through a physical replication slot of the primary, so that the primary keeps
// the WAL the standby has not received yet: without one, a busy primary (other runs' migrations on a
// shared server) can recycle a segment between the base backup and the standby's first connection, and
// the standby never catches up ("requested WAL segment ... has already been removed"). A slot also keeps
// that WAL after its standby is gone, so each one is dropped with its standby, or by the next run.

/** How long a slot may stay active after its standby stopped (its walsender ends within moments). */
const RELEASE_TIMEOUT_MS = 10_000;

/** Drops the slot `name` on the primary, if it exists, once no walsender holds it. */
export async function dropSlot(primaryUrl: string, name: string): Promise<void> {
  const client = new Client({ connectionString: primaryUrl });
  await client.connect();
  try {
    const until = Date.now() + RELEASE_TIMEOUT_MS;
    for (;;) {
      const { rows } = await client.query<{ active: boolean }>('select active from pg_replication_slots where slot_name = $1', [name]);
      if (rows.length === 0) return;
      if (!rows[0].active) {
        await client.query('select pg_drop_replication_slot($1)', [name]);
        return;
      }
      if (Date.now() > until) throw new Error(`The replication slot ${name} on the test server is still active ${RELEASE_TIMEOUT_MS / 1000} s after its standby stopped: drop it with select pg_drop_replication_slot('${name}').`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await client.end();
  }
}

/** Drops the slots named `<prefix><pid>` that earlier runs left behind (see {@link isLeftover}). */
export async function dropLeftoverSlots(primaryUrl: string, prefix: string): Promise<void> {
  const client = new Client({ connectionString: primaryUrl });
  await client.connect();
  let names: string[];
  try {
    const { rows } = await client.query<{ slot_name: string }>(`select slot_name from pg_replication_slots where slot_type = 'physical' and starts_with(slot_name, $1)`, [prefix]);
    names = rows.map((row) => row.slot_name).filter((name) => isLeftover(name, prefix));
  } finally {
    await client.end();
  }
  for (const name of names) await dropSlot(primaryUrl, name);
}
