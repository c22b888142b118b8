import { splitSqlStatements as splitSchemaSql } from '../../src/core/plan/split-statements';
import { tablesInSchemaSql } from '../../src/core/plan/tables-in-sql';

// MikroORM's schema SQL as one string (schema:update), split into the statements the planner reads.

describe('splitSchemaSql', () => {
  it('splits at a semicolon that ends a line, trims, and drops empty statements', () => {
    const sql = 'set names \'utf8\';\n\nalter table "note" add column "x" int;\n  create index "i" on "note" ("x");\n\n';
    expect(splitSchemaSql(sql)).toEqual(['set names \'utf8\'', 'alter table "note" add column "x" int', 'create index "i" on "note" ("x")']);
  });

  it('keeps a semicolon that does not end a line inside its statement, and a last statement without one', () => {
    expect(splitSchemaSql('comment on table "a" is \'x; y\';\ndrop table "b"')).toEqual(['comment on table "a" is \'x; y\'', 'drop table "b"']);
  });

  it('does not split inside a string literal, a quoted identifier, a dollar-quoted body or a comment', () => {
    const sql = [
      `comment on column "note"."body" is 'first line;\nsecond; line';`,
      `alter table "odd;\nname" add column "x" int;`,
      `create function "f"() returns int as $body$ select 1;\n select 2; $body$ language sql;`,
      `do $$ begin perform 1;\n end $$;`,
      `-- a comment;\nselect 1;`,
      `/* block;\n comment */ select 2;`,
      `select 'it''s;\n fine';`,
    ].join('\n');
    expect(splitSchemaSql(sql)).toEqual([
      `comment on column "note"."body" is 'first line;\nsecond; line'`,
      `alter table "odd;\nname" add column "x" int`,
      `create function "f"() returns int as $body$ select 1;\n select 2; $body$ language sql`,
      `do $$ begin perform 1;\n end $$`,
      `-- a comment;\nselect 1`,
      `/* block;\n comment */ select 2`,
      `select 'it''s;\n fine'`,
    ]);
  });

  it('returns nothing for empty or blank SQL', () => {
    expect(splitSchemaSql('')).toEqual([]);
    expect(splitSchemaSql('\n;\n  \n')).toEqual([]);
  });

  it('feeds tablesInSchemaSql statements it can read', () => {
    const statements = splitSchemaSql('alter table "tenant data"."order" add column "x" int;\ndrop table if exists "old" cascade;\n');
    expect(tablesInSchemaSql(statements, 'public')).toEqual({
      altered: [{ schema: 'tenant data', name: 'order' }],
      dropped: [{ schema: 'public', name: 'old' }],
    });
  });
});

describe('tablesInSchemaSql, statement heads', () => {
  it('reads keywords in any case and leading whitespace', () => {
    expect(tablesInSchemaSql(['  ALTER TABLE "a" add column "x" int', 'Drop Table IF EXISTS "s"."b"'], 'public')).toEqual({
      altered: [{ schema: 'public', name: 'a' }],
      dropped: [{ schema: 's', name: 'b' }],
    });
  });

  it('ignores unquoted (hand-written) statements and statements on other objects', () => {
    const touched = tablesInSchemaSql(['alter table note add column x int', 'drop index "note_x"', 'alter sequence "s" restart', 'create table "n" ()'], 'public');
    expect(touched).toEqual({ altered: [], dropped: [] });
  });

  it('reads a quoted name holding dots, spaces and escaped quotes as one identifier', () => {
    expect(tablesInSchemaSql(['alter table "a.b"."c ""d"" e" add column "x" int'], 'public').altered).toEqual([{ schema: 'a.b', name: 'c "d" e' }]);
  });
});
