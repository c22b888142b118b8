import type { EntityManager } from '@mikro-orm/postgresql';
import { DATASET } from './dataset';
import type { ItemRow, Target } from './variants';

export interface Workload {
  readonly id: number;
  readonly label: string;
  /** The tenant a request acts for; `pick` draws from a seeded generator. */
  tenant(pick: (n: number) => number): number;
  body(em: EntityManager, target: Target, pick: (n: number) => number, ids: ReadonlyMap<number, readonly number[]>): Promise<unknown>;
}

const ordinaryTenant = (pick: (n: number) => number) => pick(DATASET.ordinaryTenants) + 1;
const latest20 = (em: EntityManager, t: Target) => em.find(t.entity, t.filter, { limit: 20, orderBy: { id: 'desc' } }) as Promise<ItemRow[]>;

export const WORKLOADS: readonly Workload[] = [
  {
    id: 1,
    label: 'point read by primary key',
    tenant: ordinaryTenant,
    body: (em, t, pick, ids) => {
      const own = ids.get(t.tenantId)!;
      return em.findOne(t.entity, { id: own[pick(own.length)], ...t.filter });
    },
  },
  {
    id: 2,
    label: 'list 20 rows of the tenant',
    tenant: ordinaryTenant,
    body: latest20,
  },
  {
    id: 3,
    label: 'request: list 20, update one, flush',
    tenant: ordinaryTenant,
    body: async (em, t, pick) => {
      const rows = await latest20(em, t);
      rows[pick(rows.length)].qty += 1;
      await em.flush();
    },
  },
  {
    id: 4,
    label: 'insert 100 rows and flush',
    tenant: ordinaryTenant,
    body: async (em, t) => {
      for (let i = 0; i < 100; i += 1) em.create(t.entity, { tenantId: t.tenantId, title: `new ${i}`, qty: i });
      await em.flush();
    },
  },
  {
    id: 5,
    label: 'scan: count half of the table (one tenant owns it)',
    tenant: () => DATASET.bigTenant,
    body: (em, t) => em.count(t.entity, { qty: { $gte: 0 }, ...t.filter }),
  },
];
