import { MikroORM } from '@mikro-orm/postgresql';
import { RoundTripCounter } from '../support/round-trip-counter';
import { superuserUrl } from '../support/superuser-url';

// The wire counter the round-trip tests and the benchmark rely on counts on the installed major:
// through knex's `pool.afterCreate` on MikroORM 6, through `driverOptions.onPoolCreated` on MikroORM 7
// (which builds a pg Pool and ignores `afterCreate`). Both are passed; each major uses its own.

let orm: MikroORM;
const counter = new RoundTripCounter();

beforeAll(async () => {
  orm = await MikroORM.init({
    entities: [],
    discovery: { warnWhenNoEntities: false },
    clientUrl: superuserUrl(),
    pool: { min: 0, max: 1, afterCreate: counter.afterCreate },
    driverOptions: { onPoolCreated: counter.onPoolCreated },
  });
  await orm.em.fork().execute('select 1'); // the connection's start-up is not a round trip of the work
});
afterAll(() => orm?.close(true));

it('counts one round trip for one statement outside a transaction', async () => {
  expect(await counter.during(() => orm.em.fork().execute('select 1'))).toBe(1);
});

it('counts BEGIN, the statement and COMMIT of a transaction as three', async () => {
  expect(await counter.during(() => orm.em.fork().transactional((em) => em.execute('select 1')))).toBe(3);
});
