import { diffRls } from '../../src/core/diff/diff-rls';
import { estimatedLocks, TRANSACTION_LOCK_BUDGET } from '../../src/core/plan/bounded-transactions';
import { createSchemaSql, dropSchemaSql } from '../../src/core/plan/schema-generator-sql';
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

// MikroORM's drop SQL: every statement on a line of its own, one group (one transaction).
const mikroOrmDropSql = (tables: number) =>
  `set names 'utf8';\n${Array.from({ length: tables }, (_, i) => `drop table if exists "public"."t${i}" cascade;\n`).join('')}\n`;

it('dropping up to 100 tables of four policies: MikroORM\'s SQL as it is, one transaction', () => {
  expect(dropSchemaSql(mikroOrmDropSql(100), specs(100), 'public')).toBe(mikroOrmDropSql(100));
});

it('dropping 3,000 tables of four policies: the same statements, in order, in groups within the lock budget', () => {
  const sql = dropSchemaSql(mikroOrmDropSql(3000), specs(3000), 'public');
  const groups = sql.split('\n\n').filter((g) => g.trim() !== '');
  expect(groups.length).toBeGreaterThan(1);
  expect(splitSqlStatements(sql)).toEqual(splitSqlStatements(mikroOrmDropSql(3000)));
  // Each drop weighs its estimate plus two per declared policy dropped with it.
  const weight = (statement: string) => estimatedLocks(statement) + (statement.startsWith('drop table') ? 8 : 0);
  for (const group of groups) expect(splitSqlStatements(group).reduce((sum, s) => sum + weight(s), 0)).toBeLessThanOrEqual(TRANSACTION_LOCK_BUDGET);
  expect(groups[0]).toMatch(/^set names 'utf8';\ndrop table if exists "public"\."t0" cascade;\n/);
});

it('dropping tables without policies weighs their drops alone', () => {
  const undeclared = dropSchemaSql(mikroOrmDropSql(3000), [], 'public');
  const declared = dropSchemaSql(mikroOrmDropSql(3000), specs(3000), 'public');
  expect(undeclared.split('\n\n').length).toBeLessThan(declared.split('\n\n').length);
});
