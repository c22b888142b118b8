import { defineEntity } from '@mikro-orm/core';
import { Command, ConditionArg, Permissive, column, sql } from '../src';

// The demo's model: accounts (tenants), their users and their items. Every table is scoped to the
// request's `account_id`; the database itself refuses anything else.

const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });

const sameAccount = (col: string) =>
  Permissive({
    conditionArgs: [accountId],
    cmd: Command.all,
    customExpr: (id) => sql`${column(col)} = ${id}`,
    customPolicyName: 'same_account',
  });

export const Account = defineEntity({
  name: 'Account',
  tableName: 'accounts',
  properties: (p) => ({
    id: p.integer().primary(),
    name: p.string(),
  }),
  rls: { policies: [sameAccount('id')] },
});

export const User = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: (p) => ({
    id: p.integer().primary(),
    username: p.string().unique(),
    account: p.manyToOne(Account),
  }),
  rls: { policies: [sameAccount('account_id')] },
});

export const Item = defineEntity({
  name: 'Item',
  tableName: 'items',
  properties: (p) => ({
    id: p.integer().primary(),
    title: p.string(),
    owner: p.manyToOne(User),
    account: p.manyToOne(Account).index(),
  }),
  rls: { policies: [sameAccount('account_id')] },
});

export const entities = [Account, User, Item];
