import { MikroORM } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { RlsContextError, withRls, type RlsEntityManager } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, Tag, tenantEntities } from '../fixtures/tenant-model';

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL });
});
beforeEach(() => t.db.query(RESET_SQL));
afterAll(() => t?.close());

describe('without a context', () => {
  it('a plain fork sees no row of an RLS table', async () => {
    const em = t.app.em.fork();
    expect(await em.find(Project, {})).toEqual([]);
    expect(await em.count(Tag)).toBe(0);
    expect(await em.execute('select * from tasks')).toEqual([]);
  });

  it('a plain fork cannot insert, update or delete', async () => {
    const em = t.app.em.fork();
    em.create(Tag, { label: 'sneaky', accountId: 1 });
    await expect(em.flush()).rejects.toThrow(/row-level security/);
    expect(await t.app.em.fork().nativeUpdate(Project, {}, { title: 'x' })).toBe(0);
    expect(await t.app.em.fork().nativeDelete(Project, {})).toBe(0);
    expect(await t.db.query(`select count(*)::int as n from projects where title <> 'x'`)).toEqual([{ n: 4 }]);
    expect(await t.db.query(`select count(*)::int as n from tags`)).toEqual([{ n: 2 }]);
  });

  it('a context that leaves a variable out (optional in a user schema) reads it as NULL and sees nothing', async () => {
    const orm = await MikroORM.init(
      withRls({ clientUrl: t.db.appUrl, entities: tenantEntities }, { context: z.object({ account_id: z.number().int().optional() }) }),
    );
    try {
      const em = (orm.em as unknown as RlsEntityManager).forkWithRls({});
      expect(await em.find(Project, {})).toEqual([]);
      em.create(Tag, { label: 'no-tenant', accountId: 1 });
      await expect(em.flush()).rejects.toThrow(/row-level security/);
    } finally {
      await orm.close(true);
    }
  });
});

describe('an invalid context', () => {
  it.each([
    ['a missing field', {}],
    ['a wrong type', { account_id: '1' }],
    ['an unknown field', { account_id: 1, role: 'rls_test_bypass' }],
    ['null', null],
  ])('with %s throws a RlsContextError and sends no SQL', (_label, context) => {
    t.queries.length = 0;
    expect(() => t.app.em.forkWithRls(context as never)).toThrow(RlsContextError);
    expect(t.queries).toEqual([]);
  });

  it('names each bad field in the error', () => {
    expect(() => t.app.em.forkWithRls({ account_id: 'abc', extra: true } as never)).toThrow(/account_id: .*; extra: not a field of the context schema/);
  });
});
