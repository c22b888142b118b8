import { EntitySchema } from '@mikro-orm/core';
import { Command, ConditionArg, Permissive, Restrictive, RlsViolationError, column, sql } from '../../src';
import { boot, type Booted } from '../fixtures/boot';

// PostgreSQL names the policy in the message when a restrictive policy refuses a row ("new row violates
// row-level security policy "p" for table "t""): that refusal is an RlsViolationError too.

class Memo {
  id!: number;
  accountId!: number;
  locked!: boolean;
}

const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
const MemoSchema = new EntitySchema<Memo>({
  class: Memo,
  tableName: 'memos',
  properties: {
    id: { type: 'number', primary: true, autoincrement: false },
    accountId: { type: 'number' },
    locked: { type: 'boolean' },
  },
  rls: {
    policies: [
      Permissive({ conditionArgs: [accountId], cmd: Command.all, customPolicyName: 'tenant' }),
      Restrictive({ cmd: [Command.insert, Command.update], customExpr: () => sql`not ${column('locked')}`, customPolicyName: 'unlocked' }),
    ],
  },
});

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: [MemoSchema], seedSql: `insert into memos (id, account_id, locked) values (1, 1, false)` });
});
afterAll(() => t?.close());

it('an insert refused by a restrictive policy is an RlsViolationError carrying the table and the command', async () => {
  const em = t.app.em.forkWithRls({ account_id: 1 });
  em.create(Memo, { id: 2, accountId: 1, locked: true });
  const error = await em.flush().catch((e: unknown) => e);
  expect((error as Error).message).toMatch(/violates row-level security policy "unlocked_insert" for table "memos"/);
  expect(error).toBeInstanceOf(RlsViolationError);
  expect(error).toMatchObject({ table: 'memos', command: 'insert', code: '42501' });
});

it('an update refused by a restrictive policy names the update', async () => {
  const error = await t.app.em.forkWithRls({ account_id: 1 }).nativeUpdate(Memo, { id: 1 }, { locked: true }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RlsViolationError);
  expect(error).toMatchObject({ table: 'memos', command: 'update' });
});
