import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from './test-database';

/**
 * For a test file whose tests each need a fresh database and one connection to it as the owner role
 * (optionally inside a transaction, rolled back after the test): registers the hooks that make and drop
 * them, and returns what the current test has.
 */
export function ownerClientPerTest(options: { inTransaction?: boolean } = {}): () => { db: TestDatabase; client: Client } {
  let current: { db: TestDatabase; client: Client } | undefined;
  beforeEach(async () => {
    const db = await createTestDatabase();
    const client = new Client({ connectionString: db.ownerUrl });
    await client.connect();
    if (options.inTransaction) await client.query('begin');
    current = { db, client };
  });
  afterEach(async () => {
    if (options.inTransaction) await current?.client.query('rollback');
    await current?.client.end();
    await current?.db.drop();
    current = undefined;
  });
  return () => current!;
}
