// Compile-time only: the MikroORM 6 adapter's index provides everything the package's published
// declarations (../public-api/rls-public-api.ts) promise, with types at least as good; `npm run typecheck`
// fails here when the adapter drifts from them. Nothing of it exists at run time.
import type * as PublicApi from '../public-api/rls-public-api';
import type * as Adapter from './index';

type Provides<Actual extends Declared, Declared> = [Actual, Declared];

export type MikroOrm6AdapterConformance = [
  Provides<typeof Adapter, typeof PublicApi>,
  Provides<Adapter.RlsEntityManager, PublicApi.RlsEntityManager>,
  Provides<Adapter.RlsEntityManager<{ tenant_id: number }>, PublicApi.RlsEntityManager<{ tenant_id: number }>>,
  Provides<Adapter.RlsViolationError, PublicApi.RlsViolationError>,
  Provides<Adapter.RlsForkOptions, PublicApi.RlsForkOptions>,
  Provides<PublicApi.RlsForkOptions, Adapter.RlsForkOptions>,
  Provides<Adapter.RlsBypassOptions, PublicApi.RlsBypassOptions>,
  Provides<PublicApi.RlsBypassOptions, Adapter.RlsBypassOptions>,
  Provides<Adapter.RlsSessioner<[number], { tenant_id: number }>, PublicApi.RlsSessioner<[number], { tenant_id: number }>>,
];
