import { tablesInSchemaSql } from '../../src/core/plan/tables-in-sql';

describe('tablesInSchemaSql', () => {
  it('finds altered and dropped tables in MikroORM statements, with or without a schema', () => {
    const touched = tablesInSchemaSql(
      [
        'alter table "note" alter column "account_id" type bigint using ("account_id"::bigint);',
        'alter table "tenant data"."order" add column "x" int;',
        'drop table if exists "old" cascade;',
        'drop table "we""ird"."t";',
        'create table "new" ("id" serial primary key);',
        '',
      ],
      'public',
    );
    expect(touched.altered).toEqual([
      { schema: 'public', name: 'note' },
      { schema: 'tenant data', name: 'order' },
    ]);
    expect(touched.dropped).toEqual([
      { schema: 'public', name: 'old' },
      { schema: 'we"ird', name: 't' },
    ]);
  });

  it('lists each table once', () => {
    const touched = tablesInSchemaSql(['alter table "a" add column "x" int;', 'alter table "a" add column "y" int;'], 'app');
    expect(touched.altered).toEqual([{ schema: 'app', name: 'a' }]);
  });
});
