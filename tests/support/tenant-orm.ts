import type { MikroORM as CoreMikroORM, Options } from '@mikro-orm/core';
import { MikroORM, type PostgreSqlDriver } from '@mikro-orm/postgresql';
import { withRls, type RlsEntityManager, type RlsOptions } from '../../src';
import { tenantEntities } from '../fixtures/tenant-model';
import { TEST_ROLES } from './test-roles';

export type TenantOrm = CoreMikroORM<PostgreSqlDriver, RlsEntityManager>;

/**
 * A new ORM of the tenant model (nothing cached yet) connected as `url`, with a pool of one unless
 * `extra` says otherwise: for tests of what a login, a pool option or a connection option does.
 */
export async function tenantOrmAt(url: string, extra: Partial<Options<PostgreSqlDriver>> = {}, rls: RlsOptions = {}): Promise<TenantOrm> {
  return (await MikroORM.init(
    withRls(
      { entities: tenantEntities, clientUrl: url, allowGlobalContext: true, ensureDatabase: false, pool: { min: 0, max: 1 }, ...extra },
      { bypassRole: TEST_ROLES.bypass, ...rls },
    ),
  )) as never;
}
