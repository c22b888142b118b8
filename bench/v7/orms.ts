import { MikroORM } from '@mikro-orm/postgresql';
import { withRls, type RlsEntityManager } from '../../src';
import type { RoundTripCounter } from '../../tests/support/round-trip-counter';
import { Item, PlainItem } from '../entities';
import { POOL_SIZE } from '../setup';
import type { MikroOrm7PartInput } from './part';
import type { Orms7 } from './variants';

/** Plain MikroORM 7 and MikroORM 7 with withRls, on the same pool options and role (round trips counted on each client). */
export async function openOrms7(db: MikroOrm7PartInput['db'], counter: RoundTripCounter): Promise<Orms7> {
  // MikroORM 7 builds a pg Pool (no knex, no `pool.afterCreate`): round trips are counted on each client it connects.
  const options = { entities: [Item, PlainItem], clientUrl: db.appUrl, pool: { min: POOL_SIZE, max: POOL_SIZE }, driverOptions: { onPoolCreated: counter.onPoolCreated } };
  const plain = await MikroORM.init(options);
  try {
    const rls = (await MikroORM.init(withRls(options))) as MikroORM & { em: RlsEntityManager };
    return { plain, rls };
  } catch (error) {
    await plain.close(true);
    throw error;
  }
}
