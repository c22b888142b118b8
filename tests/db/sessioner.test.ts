import { RlsContextError, RlsMissingContextError, RlsSessioner } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, Tag, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL });
});
beforeEach(() => t.db.query(RESET_SQL));
afterAll(() => t?.close());


it('hands out a fork scoped to the context built from its arguments (function getter)', async () => {
  const sessioner = new RlsSessioner(t.app, (accountId: number) => ({ account_id: accountId }));
  expect(ids(await (await sessioner.fork(2)).find(Project, {}))).toEqual([3, 4]);
});

it('accepts a getter object with getContext, sync or async, like the ContextGetter of the seed', async () => {
  class FromKwargs {
    async getContext(kwargs: { account?: number }) {
      return { account_id: kwargs.account ?? 1 };
    }
  }
  const sessioner = new RlsSessioner(t.app, new FromKwargs());
  expect(await sessioner.run([{ account: 2 }], (em) => em.count(Project))).toBe(2);
  expect(await sessioner.run([{}], async (em) => ids(await em.find(Project, {})))).toEqual([1, 2]);
});

it('commits the work when it resolves, including pending changes', async () => {
  const sessioner = new RlsSessioner(t.app, (accountId: number) => ({ account_id: accountId }));
  await sessioner.run([1], (em) => {
    em.create(Tag, { label: 'committed', accountId: 1 });
  });
  expect(await t.db.query(`select account_id from tags where label = 'committed'`)).toEqual([{ account_id: 1 }]);
});

it('rolls back everything when the work throws', async () => {
  const sessioner = new RlsSessioner(t.app, (accountId: number) => ({ account_id: accountId }));
  await expect(
    sessioner.run([1], async (em) => {
      await em.nativeUpdate(Project, {}, { title: 'lost' });
      throw new Error('boom');
    }),
  ).rejects.toThrow('boom');
  expect(await t.db.query(`select count(*)::int as n from projects where title = 'lost'`)).toEqual([{ n: 0 }]);
});

it('refuses before any SQL when the getter returns nothing or an invalid context', async () => {
  const sessioner = new RlsSessioner(t.app, (token?: string) => (token ? { account_id: token } : undefined));
  t.queries.length = 0;
  await expect(sessioner.run([undefined], (em) => em.count(Project))).rejects.toThrow(RlsMissingContextError);
  await expect(sessioner.run(['x'], (em) => em.count(Project))).rejects.toThrow(RlsContextError);
  expect(t.queries).toEqual([]);
});
