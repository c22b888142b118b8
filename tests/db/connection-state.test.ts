import { createRequire } from 'node:module';
import { settledTransactionStatus, trackConnection, transactionStatus, type PooledConnection } from '../../src/adapters/mikro-orm-6/wire/connection-state';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// The transaction status is read from ReadyForQuery messages with the `pg` that @mikro-orm/postgresql
// itself depends on (8.20.0 pins no Client#getTransactionStatus), so the package works with what users
// get when they install MikroORM, not only with the repository's own dev dependencies.
const mikroOrmPg = createRequire(require.resolve('@mikro-orm/postgresql'))('pg') as typeof import('pg');

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

async function connected() {
  const client = new mikroOrmPg.Client({ connectionString: db.superUrl });
  await client.connect();
  trackConnection(client as unknown as PooledConnection);
  return client;
}

it('follows idle, in-transaction and failed-transaction states on the pg MikroORM ships', async () => {
  const client = await connected();
  const connection = client as unknown as PooledConnection;
  try {
    expect(transactionStatus(connection)).toBe('I');
    await client.query('begin');
    expect(transactionStatus(connection)).toBe('T');
    await client.query('select 1/0').catch(() => undefined);
    expect(await settledTransactionStatus(connection)).toBe('E');
    await client.query('rollback');
    expect(transactionStatus(connection)).toBe('I');
  } finally {
    await client.end();
  }
});

it('settles at once for a connection that has already ended, instead of waiting forever', async () => {
  const client = await connected();
  const connection = client as unknown as PooledConnection;
  await client.end();
  expect(transactionStatus(connection)).toBeUndefined();
  expect(await settledTransactionStatus(connection)).toBeUndefined();
});

it('settles when the backend is killed while a statement runs', async () => {
  const client = await connected();
  client.on('error', () => undefined); // the kill is expected: the error is what the test provokes
  const connection = client as unknown as PooledConnection;
  const pid = (await client.query('select pg_backend_pid() as pid')).rows[0].pid as number;
  const sleeping = client.query('select pg_sleep(30)').catch((e: unknown) => e);
  await db.query('select pg_terminate_backend($1)', [pid]);
  expect(String(await sleeping)).toMatch(/terminat/i);
  expect(await settledTransactionStatus(connection)).toBeUndefined();
});

it('settles for a connection first followed after its backend died in the middle of a statement', async () => {
  const client = new mikroOrmPg.Client({ connectionString: db.superUrl });
  await client.connect();
  client.on('error', () => undefined); // the kill is expected: the error is what the test provokes
  const ended = new Promise((resolve) => client.once('end', resolve));
  const pid = (await client.query('select pg_backend_pid() as pid')).rows[0].pid as number;
  const sleeping = client.query('select pg_sleep(30)').catch((e: unknown) => e);
  await db.query('select pg_terminate_backend($1)', [pid]);
  expect(String(await sleeping)).toMatch(/terminat/i);
  // The statement fails on the server's FATAL message; the socket closes after it.
  await ended;
  // Its end and error events are over: only the client's own state can tell it will never answer.
  const connection = client as unknown as PooledConnection;
  trackConnection(connection);
  expect(transactionStatus(connection)).toBeUndefined();
  expect(await settledTransactionStatus(connection)).toBeUndefined();
});
