import { EntitySchema } from '@mikro-orm/core';
import { Command, Permissive, RlsInvisibleRowError, RlsViolationError, column, sql } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { accountId, Project, RESET_SQL, Tag, tenantEntities } from '../fixtures/tenant-model';

// Writes that reach a row the scope cannot see: PostgreSQL raises nothing (the policies hide the row),
// so MikroORM would either crash on the missing result (upsert with onConflictAction: 'ignore') or
// report success for a write that changed nothing (a flushed update or delete).

class Handle {
  id!: number;
  name!: string;
  accountId!: number;
}

// A key unique across tenants, the trap the README warns about: its conflicts reach hidden rows.
const HandleSchema = new EntitySchema<Handle>({
  class: Handle,
  tableName: 'handles',
  properties: {
    id: { type: 'number', primary: true },
    name: { type: 'string', unique: true },
    accountId: { type: 'number' },
  },
  rls: { policies: [Permissive({ conditionArgs: [accountId], cmd: Command.all, customExpr: (id) => sql`${column('account_id')} = ${id}`, customPolicyName: 'tenant' })] },
});

const RESET_HANDLES = `
  truncate handles restart identity;
  insert into handles (name, account_id) values ('alice', 1), ('bob', 2);
  select setval(pg_get_serial_sequence('handles', 'id'), 100);`;

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: [...tenantEntities, HandleSchema], rls: { refuseInvisibleWrites: true } });
});
beforeEach(() => t.db.query(RESET_SQL + RESET_HANDLES));
afterAll(() => t?.close());

const tenant = (id: number) => t.app.em.forkWithRls({ account_id: id });
const titles = async () => (await t.db.query<{ id: number; title: string }>('select id, title from projects order by id')).map((r) => `${r.id}:${r.title}`);

describe("upsert with onConflictAction: 'ignore'", () => {
  it("on another tenant's unique key is an RlsInvisibleRowError saying the row exists but is not visible", async () => {
    const error = await tenant(2).upsert(Handle, { name: 'alice', accountId: 2 }, { onConflictFields: ['name'], onConflictAction: 'ignore' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RlsInvisibleRowError);
    expect(error).toBeInstanceOf(RlsViolationError);
    expect(error).toMatchObject({ entity: 'Handle', table: 'handles', command: 'insert' });
    expect((error as Error).message).toMatch(/Handle .*conflicts with a row that exists but is not visible to this fork's scope/);
    expect((await t.db.query('select name, account_id from handles order by id'))).toEqual([{ name: 'alice', account_id: 1 }, { name: 'bob', account_id: 2 }]);
  });

  it('is refused before MikroORM hydrates anything, so change tracking keeps working afterwards', async () => {
    const em = tenant(2);
    await expect(em.upsert(Handle, { name: 'alice', accountId: 2 }, { onConflictFields: ['name'], onConflictAction: 'ignore' })).rejects.toThrow(RlsInvisibleRowError);
    // MikroORM's TypeError came from inside its shared hydrator and left it "running": from then on,
    // assignments to references were taken for hydration and never flushed, ORM-wide.
    em.assign(em.getReference(Project, 3), { title: 'tracked' });
    await em.flush();
    expect(await titles()).toContain('3:tracked');
  });

  it('on a key of its own tenant returns the existing row, as in MikroORM', async () => {
    const handle = await tenant(1).upsert(Handle, { name: 'alice', accountId: 1 }, { onConflictFields: ['name'], onConflictAction: 'ignore' });
    expect(handle).toMatchObject({ id: 1, name: 'alice', accountId: 1 });
  });

  it('with no conflict inserts and returns the new row', async () => {
    const handle = await tenant(2).upsert(Handle, { name: 'carol', accountId: 2 }, { onConflictFields: ['name'], onConflictAction: 'ignore' });
    expect(handle).toMatchObject({ id: 101, name: 'carol' });
  });

  it("in upsertMany, on another tenant's unique key among visible ones, is an RlsInvisibleRowError", async () => {
    const error = await tenant(2)
      .upsertMany(Handle, [{ name: 'bob', accountId: 2 }, { name: 'alice', accountId: 2 }, { name: 'dave', accountId: 2 }], { onConflictFields: ['name'], onConflictAction: 'ignore' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RlsInvisibleRowError);
    expect((error as Error).message).toMatch(/1 of 3 .*not visible to this fork's scope/);
  });

  it('in upsertMany, on keys of its own tenant, returns the existing and the new rows', async () => {
    const handles = await tenant(2).upsertMany(Handle, [{ name: 'bob', accountId: 2 }, { name: 'erin', accountId: 2 }], { onConflictFields: ['name'], onConflictAction: 'ignore' });
    expect(handles.map((h) => h.name)).toEqual(['bob', 'erin']);
    expect(handles[0].id).toBe(2);
    expect(handles[1].id).toBeGreaterThan(100);
  });
});

describe('with refuseInvisibleWrites, a flush', () => {
  it("that updates another tenant's entity, referenced into this fork, is an RlsInvisibleRowError and changes nothing", async () => {
    const em = tenant(2);
    em.assign(em.getReference(Project, 1), { title: 'stolen' });
    const error = await em.flush().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RlsInvisibleRowError);
    expect(error).toMatchObject({ entity: 'Project', table: 'projects', command: 'update' });
    expect((error as Error).message).toMatch(/update of Project 1 .*changed no row.*not visible to this fork's scope/);
    expect(await titles()).toEqual(['1:p1', '2:p2', '3:p3', '4:p4']);
  });

  it('that updates an entity loaded by another tenant and merged into this fork is an RlsInvisibleRowError', async () => {
    const loaded = await tenant(1).findOneOrFail(Project, 2);
    const em = tenant(2);
    const merged = em.merge(loaded);
    merged.title = 'stolen';
    await expect(em.flush()).rejects.toThrow(RlsInvisibleRowError);
    expect(await titles()).toEqual(['1:p1', '2:p2', '3:p3', '4:p4']);
  });

  it('that updates several entities in one batch, one of them hidden, is an RlsInvisibleRowError and changes none of them', async () => {
    const em = tenant(2);
    for (const id of [1, 3, 4]) em.assign(em.getReference(Project, id), { title: `x${id}` });
    const error = await em.flush().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RlsInvisibleRowError);
    expect((error as Error).message).toMatch(/update of Project .*changed 2 of 3 rows/);
    expect(await titles()).toEqual(['1:p1', '2:p2', '3:p3', '4:p4']);
  });

  it("that deletes another tenant's entity is an RlsInvisibleRowError and deletes nothing", async () => {
    const em = tenant(2);
    em.remove(em.getReference(Tag, 1));
    const error = await em.flush().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'RlsInvisibleRowError', entity: 'Tag', table: 'tags', command: 'delete' });
    expect(await t.db.query('select id from tags order by id')).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('inside em.transactional is an RlsInvisibleRowError that rolls the transaction back', async () => {
    const work = tenant(2).transactional(async (tx) => {
      tx.assign(tx.getReference(Project, 3), { title: 'own' });
      await tx.flush();
      tx.assign(tx.getReference(Project, 2), { title: 'stolen' });
    });
    await expect(work).rejects.toThrow(/update of Project 2 changed no row/);
    expect(await titles()).toEqual(['1:p1', '2:p2', '3:p3', '4:p4']);
  });

  it('that updates and deletes its own entities succeeds', async () => {
    const em = tenant(2);
    for (const id of [3, 4]) em.assign(em.getReference(Project, id), { title: `x${id}` });
    em.remove(em.getReference(Tag, 2));
    await em.flush();
    expect(await titles()).toEqual(['1:p1', '2:p2', '3:x3', '4:x4']);
    expect(await t.db.query('select id from tags order by id')).toEqual([{ id: 1 }]);
  });

  it('leaves em.nativeUpdate and em.nativeDelete that match nothing alone: they return 0', async () => {
    const em = tenant(2);
    expect(await em.nativeUpdate(Project, { id: 1 }, { title: 'stolen' })).toBe(0);
    expect(await em.nativeDelete(Tag, { id: 1 })).toBe(0);
    expect(await em.transactional((tx) => tx.nativeUpdate(Project, { title: 'none' }, { title: 'x' }))).toBe(0);
  });
});
