import { statementTarget, tablesInSchemaSql } from '../../src/core/plan/tables-in-sql';

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

  it('counts a foreign key added to a table as altering it, and other statements as touching nothing', () => {
    const touched = tablesInSchemaSql(
      ['alter table "t" add constraint "t_u_id_foreign" foreign key ("u_id") references "s"."u" ("id");', 'create index "t_x_index" on "t" ("x");', 'comment on table "t" is \'x\';'],
      'public',
    );
    expect(touched).toEqual({ altered: [{ schema: 'public', name: 't' }], dropped: [] });
  });

  it('lists each table once', () => {
    const touched = tablesInSchemaSql(['alter table "a" add column "x" int;', 'alter table "a" add column "y" int;'], 'app');
    expect(touched.altered).toEqual([{ schema: 'app', name: 'a' }]);
  });
});

describe('statementTarget', () => {
  // Statements as MikroORM 6 and 7 write them (schema:create --dump of entities with a schema, an enum,
  // an index, a unique property, a relation and comments).
  it.each([
    ['create table "s"."u" ("id" serial primary key, "status" "s"."status" not null);', { schema: 's', name: 'u' }, 'create-table'],
    ['create table if not exists "t" ("id" int);', { schema: 'app', name: 't' }, 'create-table'],
    ['create unlogged table "t" ("id" int)', { schema: 'app', name: 't' }, 'create-table'],
    ['alter table "s"."u" add constraint "u_name_unique" unique ("name");', { schema: 's', name: 'u' }, 'alter-table'],
    ['alter table if exists only "t" add column "x" int', { schema: 'app', name: 't' }, 'alter-table'],
    ['alter table "t" add constraint "t_u_id_foreign" foreign key ("u_id") references "s"."u" ("id") on update cascade;', { schema: 'app', name: 't' }, 'foreign-key'],
    ['drop table if exists "t" cascade;', { schema: 'app', name: 't' }, 'drop-table'],
    ['create index "u_name_index" on "s"."u" ("name");', { schema: 's', name: 'u' }, 'index'],
    ['create unique index concurrently if not exists "i" on only "t" ("x")', { schema: 'app', name: 't' }, 'index'],
    [`comment on table "t" is 'tbl';`, { schema: 'app', name: 't' }, 'comment'],
    [`comment on column "t"."note" is 'a; b';`, { schema: 'app', name: 't' }, 'comment'],
    [`comment on column "s"."u"."name" is 'n';`, { schema: 's', name: 'u' }, 'comment'],
    ['create table "we""ird"."a""b" ("id" int)', { schema: 'we"ird', name: 'a"b' }, 'create-table'],
  ])('%s is about %j (%s)', (statement, table, kind) => {
    expect(statementTarget(statement, 'app')).toEqual({ table, kind });
  });

  it.each(['create schema if not exists "s";', `create type "s"."status" as enum ('a', 'b');`, "set names 'utf8';", 'create table t (id int)', ''])(
    '%j is about no table',
    (statement) => {
      expect(statementTarget(statement, 'app')).toBeUndefined();
    },
  );
});
