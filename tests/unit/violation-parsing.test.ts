import { DriverException, ForeignKeyConstraintViolationException } from '@mikro-orm/core';
import { PostgreSqlPlatform } from '@mikro-orm/postgresql';
import { RlsError, RlsViolationError } from '../../src';
import { commandOf, convertRlsViolations } from '../../src/adapters/mikro-orm-6/entity-manager/rls-violation-error';

// Which driver errors become RlsViolationError, and the table and command read from their message (the
// message formats are PostgreSQL's; knex writes the statement in front of it).

function converted(message: string, code = '42501') {
  const platform = new PostgreSqlPlatform();
  convertRlsViolations(platform);
  return platform.getExceptionConverter().convertException(Object.assign(new Error(message), { code }));
}

it.each([
  ['insert into "note" ("id") values (1) - new row violates row-level security policy for table "note"', 'note', 'insert'],
  ['update "note" set "pinned" = true - new row violates row-level security policy (USING expression) for table "note"', 'note', 'update'],
  // A restrictive policy's refusal names the policy.
  ['insert into "note" values (1) - new row violates row-level security policy "own_insert" for table "note"', 'note', 'insert'],
  // PostgreSQL writes names as they are, a quote inside not doubled.
  ['INSERT INTO "we""ird t" values (1) - new row violates row-level security policy "r "q" ins" for table "we"ird t"', 'we"ird t', 'insert'],
  ['update "we""ird t" set a = 1 - new row violates row-level security policy for table "we"ird t"', 'we"ird t', 'update'],
  ["select set_config('rls.account_id', ?, true); insert into \"note\" values (1) - new row violates row-level security policy for table \"note\"", 'note', 'insert'],
  ['with moved as (select 1) insert into "note" select 1 - new row violates row-level security policy for table "note"', 'note', 'insert'],
  ['with moved as (select max(id) from "note") insert into "note" select 1 - new row violates row-level security policy for table "note"', 'note', 'insert'],
])('%s is an RlsViolationError on %s for %s', (message, table, command) => {
  const error = converted(message);
  expect(error).toBeInstanceOf(RlsViolationError);
  expect(error).toBeInstanceOf(RlsError);
  expect(error).toMatchObject({ table, command, code: '42501', rlsCode: 'RLS_VIOLATION' });
});

it('a 42501 that is not a row-level security refusal (a missing privilege) goes through MikroORM as before', () => {
  const error = converted('insert into "note" values (1) - permission denied for table note');
  expect(error).not.toBeInstanceOf(RlsViolationError);
  expect(error).toBeInstanceOf(DriverException);
});

it('another SQLSTATE with the same words is not a violation', () => {
  const error = converted('insert into "note" values (1) - new row violates row-level security policy for table "note"', '23503');
  expect(error).toBeInstanceOf(ForeignKeyConstraintViolationException);
});

it('converting twice wraps the converter once, and an already converted error is kept as it is', () => {
  const platform = new PostgreSqlPlatform();
  convertRlsViolations(platform);
  const once = platform.getExceptionConverter().convertException;
  convertRlsViolations(platform);
  expect(platform.getExceptionConverter().convertException).toBe(once);
  const error = converted('delete from "note" - new row violates row-level security policy for table "note"');
  expect(platform.getExceptionConverter().convertException(error as never)).toBe(error);
});

describe('commandOf', () => {
  it.each([
    ['insert into "note" values (1)', 'insert'],
    ['  UPDATE "note" set a = 1', 'update'],
    ['with a as (select 1), b as (select 2) delete from "note"', 'delete'],
    ['with recursive r(n) as (select 1 union all select n + 1 from r where (n < 3)) insert into "note" select n from r', 'insert'],
    ['with a as materialized (select \')\' as p, "x)" from t) update "note" set a = 1', 'update'],
    ['with a as not materialized (select 1) merge into "note" using a on true when matched then do nothing', 'merge'],
    ['with a as (select 1', 'unknown'],
    ['', 'unknown'],
  ])('%s is a %s', (statement, command) => {
    expect(commandOf(statement)).toBe(command);
  });
});
