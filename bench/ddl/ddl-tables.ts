import { EntitySchema } from '@mikro-orm/core';
import { runSql } from '../../tests/support/sql-client';
import { Command, ConditionArg, Permissive } from '../../src';

// The schema the DDL section applies policies to: N tables of the same shape, each with four policies
// (one per command) over two condition args, as issue 14 measured them.

export const DDL_SCHEMA = 'ddl_bench';

const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
const userId = ConditionArg({ comparatorName: 'user_id', type: 'integer' });
const own = Permissive({ conditionArgs: [accountId, userId], cmd: [Command.select, Command.insert, Command.update, Command.delete], customPolicyName: 'own' });

const tableName = (i: number) => `t${String(i).padStart(5, '0')}`;

/** The entities of `count` tables, each declaring the four policies. */
export function ddlEntities(count: number): EntitySchema[] {
  return Array.from(
    { length: count },
    (_, i) =>
      new EntitySchema<{ id: number; accountId: number; userId: number }>({
        name: `DdlTable${i}`,
        schema: DDL_SCHEMA,
        tableName: tableName(i),
        properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' }, userId: { type: 'integer' } },
        rls: { policies: [own] },
      }) as unknown as EntitySchema,
  );
}

// Tables per message when the bench itself creates or drops them: each message is one implicit
// transaction, which must stay well inside the server's lock table (a dropped table takes its policies' locks too).
const TABLES_PER_MESSAGE = 200;

/**
 * Drops the bench's tables (with their policies) and creates `count` fresh ones without RLS, as the
 * owner, so that every measured run starts from the same catalog.
 */
export async function recreateTables(ownerUrl: string, count: number, dropped: number): Promise<void> {
  await runSql(ownerUrl, `create schema if not exists ${DDL_SCHEMA}`);
  for (let from = 0; from < dropped; from += TABLES_PER_MESSAGE) {
    const names = Array.from({ length: Math.min(TABLES_PER_MESSAGE, dropped - from) }, (_, i) => `${DDL_SCHEMA}.${tableName(from + i)}`);
    await runSql(ownerUrl, `drop table if exists ${names.join(', ')}`);
  }
  for (let from = 0; from < count; from += TABLES_PER_MESSAGE) {
    const statements = Array.from(
      { length: Math.min(TABLES_PER_MESSAGE, count - from) },
      (_, i) => `create table ${DDL_SCHEMA}.${tableName(from + i)} (id integer primary key, account_id integer not null, user_id integer not null)`,
    );
    await runSql(ownerUrl, statements.join(';\n'));
  }
}
