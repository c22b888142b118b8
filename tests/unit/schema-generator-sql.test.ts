import { diffRls } from '../../src/core/diff/diff-rls';
import { createSchemaSql } from '../../src/core/plan/schema-generator-sql';
import { splitSqlStatements } from '../../src/core/plan/split-statements';
import { fourPolicies } from '../fixtures/four-policies';

const mikroOrmSql = (tables: number) =>
  Array.from({ length: tables }, (_, i) => `create table "public"."t${i}" ("id" int not null, "account_id" int not null);\n\n`).join('');
const specs = (tables: number) => Array.from({ length: tables }, (_, i) => fourPolicies(`t${i}`));

it('a few tables: MikroORM SQL, then every policy statement as one group, as before', () => {
  const operations = diffRls(specs(2), []);
  const sql = createSchemaSql(mikroOrmSql(2), operations, 'public');
  expect(sql).toBe(`${mikroOrmSql(2)}\n${operations.flatMap((op) => op.up).map((s) => `${s};`).join('\n')}\n`);
});

it('3,000 tables: the same statements in bounded groups, each table\'s flags with its CREATE TABLE', () => {
  const operations = diffRls(specs(3000), []);
  const sql = createSchemaSql(mikroOrmSql(3000), operations, 'public');
  const groups = sql.split('\n\n').filter((g) => g.trim() !== '');
  expect(groups.length).toBeGreaterThan(1);
  const expected = [...splitSqlStatements(mikroOrmSql(3000)), ...operations.flatMap((op) => op.up)];
  expect(splitSqlStatements(sql).sort()).toEqual(expected.sort());
  expect(groups[0]).toMatch(/^create table "public"\."t0" [^\n]*;\nalter table "public"\."t0" enable row level security;\nalter table "public"\."t0" force row level security;/);
});
