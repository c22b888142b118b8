import { Collection, EntitySchema } from '@mikro-orm/core';
import { auditRls, Command, ConditionArg, Permissive } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { RESET_SQL, tenantEntities } from '../fixtures/tenant-model';

// A table without RLS whose rows point into an RLS table (a pivot, a join or log table) tells every
// tenant which hidden rows exist and how they are linked: the audit flags it, unless it was opted out.

jest.setTimeout(60_000);

const booted: Booted[] = [];
afterAll(async () => {
  for (const b of booted) await b.close();
});

const codes = async (t: Booted) => (await auditRls(t.app as never)).map((f) => `${f.code}${f.table ? ` ${f.table}` : ''}`).sort();

it('flags a table without RLS that references RLS tables by foreign key, naming them', async () => {
  const t = await boot({ entities: tenantEntities, seedSql: RESET_SQL });
  booted.push(t);
  await t.db.query(`
    set role ${t.db.roles.owner};
    create table project_watchers (project_id int references projects, tag_id int references tags, watcher text);
    insert into project_watchers values (3, 2, 'someone of tenant 2')`);
  const leaked = await t.app.em.forkWithRls({ account_id: 1 }).execute(`select project_id from project_watchers`);
  expect(leaked).toEqual([{ project_id: 3 }]);
  const findings = await auditRls(t.app as never);
  expect(findings).toEqual([
    expect.objectContaining({
      code: 'table-references-rls-table',
      table: 'public.project_watchers',
      message: expect.stringContaining('references public.projects, public.tags (with row level security)'),
    }),
  ]);
  await t.db.query(`alter table project_watchers enable row level security`);
  expect(await codes(t)).toEqual([]);
});

it('does not flag the pivot table of a relation opted out with rls.pivotTables', async () => {
  const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
  class Doc {
    id!: number;
    accountId!: number;
    related = new Collection<Doc>(this);
  }
  const DocSchema = new EntitySchema<Doc>({
    class: Doc,
    tableName: 'docs',
    properties: {
      id: { type: 'integer', primary: true },
      accountId: { type: 'integer' },
      related: { kind: 'm:n', entity: () => Doc, owner: true, pivotTable: 'doc_related' },
    },
    rls: { policies: [Permissive({ conditionArgs: [accountId], cmd: Command.all, customPolicyName: 'tenant' })], pivotTables: { related: false } },
  });
  const t = await boot({ entities: [DocSchema] });
  booted.push(t);
  expect((await t.db.query(`select relrowsecurity from pg_class where relname = 'doc_related'`))[0]).toEqual({ relrowsecurity: false });
  expect(await codes(t)).toEqual([]);
});
