import { Client } from 'pg';
import { superuserUrl } from './superuser-url';

// A test of thousands of tables holds up to a quarter of the server's lock table per transaction (the
// lock budget), and the lock table is shared by every database of the server: two such files in the two
// Jest workers at once, beside the other tests, filled it ("out of shared memory" in unrelated tests).
// Each scale file calls this first, so they take turns across workers: a session advisory lock of the
// server, held from its first hook to its last.

/** A key of our own in the advisory lock space (tests that count advisory locks use other keys). */
const SCALE_TESTS_LOCK = 7_140_014;

/** Registers the hooks that wait for, and then hold, the server's one scale-test slot for this file. */
export function oneScaleTestAtATime(): void {
  let holder: Client | undefined;
  beforeAll(async () => {
    holder = new Client({ connectionString: superuserUrl(), application_name: 'mikro-orm-rls scale-test slot' });
    await holder.connect();
    await holder.query('select pg_advisory_lock($1)', [SCALE_TESTS_LOCK]);
  }, 30 * 60_000);
  afterAll(async () => {
    // Closing the session releases its advisory lock.
    await holder?.end();
  });
}
