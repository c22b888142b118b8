import { createRequire } from 'node:module';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// The node-postgres members src/adapters/mikro-orm-6/wire/connection-state.ts reads, on a real connection
// of the pg that knex (and so MikroORM) loads: a pg release that renames one fails here.
const knexRequire = createRequire(require.resolve('knex/package.json', { paths: [require.resolve('@mikro-orm/knex')] }));
const pg = knexRequire('pg') as typeof import('pg');

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

type Internals = { readyForQuery: boolean; _ending: boolean; _ended: boolean; _queryable: boolean; connection: NodeJS.EventEmitter };

it('exposes readyForQuery, _ending, _ended, _queryable and the ReadyForQuery event with its status', async () => {
  const client = new pg.Client({ connectionString: db.superUrl });
  await client.connect();
  const internals = client as unknown as Internals;
  expect({ ready: internals.readyForQuery, ending: internals._ending, ended: internals._ended, queryable: internals._queryable }).toEqual({
    ready: true,
    ending: false,
    ended: false,
    queryable: true,
  });
  const statuses: string[] = [];
  internals.connection.on('readyForQuery', (message: { status?: string }) => statuses.push(String(message.status)));
  await client.query('begin');
  await client.query('select 1/0').catch(() => undefined); // the failed statement puts the transaction in state E
  await client.query('rollback');
  expect(statuses).toEqual(['T', 'E', 'I']);
  await client.end();
  expect({ ending: internals._ending, ended: internals._ended }).toEqual({ ending: true, ended: true });
});
