import { knex } from '@mikro-orm/knex';
import { RlsConfigurationError, withRls } from '../../src';
import { tenantEntities } from '../fixtures/tenant-model';

// MikroORM lets an application hand it a knex instance as `driverOptions`; its pool is then built
// outside MikroORM's options, where withRls() cannot install its pool guard (no reset before reuse
// after a failed scoped message, no refusal of a connection left inside a transaction). Refused at
// configuration, with what to do instead. Found by the third adversarial review.

it('withRls refuses a knex instance given as driverOptions, for the primary and for a replica', async () => {
  const own = knex({ client: 'pg', connection: 'postgres://127.0.0.1/none', pool: { min: 0, max: 1 } });
  try {
    expect(() => withRls({ entities: tenantEntities, driverOptions: own as never })).toThrow(RlsConfigurationError);
    expect(() => withRls({ entities: tenantEntities, driverOptions: own as never })).toThrow(/knex instance.*pool guard.*clientUrl/s);
    expect(() => withRls({ entities: tenantEntities, replicas: [{ name: 'r', driverOptions: own as never }] })).toThrow(/replica "r".*knex instance/s);
  } finally {
    await own.destroy();
  }
});
