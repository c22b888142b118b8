import { DriverException } from '@mikro-orm/core';
import { RlsViolationError } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, Tag, tenantEntities } from '../fixtures/tenant-model';

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL });
});
beforeEach(() => t.db.query(RESET_SQL));
afterAll(() => t?.close());

it('a write refused by a policy is an RlsViolationError carrying the table and the command', async () => {
  const em = t.app.em.forkWithRls({ account_id: 1 });
  em.create(Tag, { label: 'foreign', accountId: 2 });
  const error = await em.flush().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RlsViolationError);
  expect(error).toBeInstanceOf(DriverException);
  expect(error).toMatchObject({ table: 'tags', command: 'insert', code: '42501' });
});

it('an update that moves a row out of reach names the update', async () => {
  const error = await t.app.em.forkWithRls({ account_id: 1 }).nativeUpdate(Project, { id: 1 }, { account: 2 }).catch((e: unknown) => e);
  expect(error).toMatchObject({ name: 'RlsViolationError', table: 'projects', command: 'update' });
});

it('other database errors keep their own MikroORM types', async () => {
  const em = t.app.em.forkWithRls({ account_id: 1 });
  const error = await em.execute('select * from no_such_table').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DriverException);
  expect(error).not.toBeInstanceOf(RlsViolationError);
  expect((error as Error).name).toBe('TableNotFoundException');
});
