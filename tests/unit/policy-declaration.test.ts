import { Command, ConditionArg, Permissive, Restrictive, column, sql } from '../../src';

const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });

describe('policy declaration', () => {
  it('builds the expression from customExpr with one reference per condition arg', () => {
    const policy = Permissive({
      conditionArgs: [accountId],
      cmd: [Command.select, Command.update],
      customExpr: (id) => sql`${column('owner_id')} = ${id}`,
      customPolicyName: 'owner',
    });
    expect(policy.kind).toBe('permissive');
    expect(policy.commands).toEqual(['select', 'update']);
    expect(policy.using.parts).toEqual([
      { kind: 'column', name: 'owner_id' },
      { kind: 'text', text: ' = ' },
      { kind: 'condition', arg: accountId },
    ]);
    expect(policy.roles).toEqual(['public']);
    expect(Object.isFrozen(policy)).toBe(true);
  });

  it('defaults the expression to column = variable for every condition arg', () => {
    const tenant = ConditionArg({ comparatorName: 'tenant_id', type: 'uuid' });
    const policy = Restrictive({ conditionArgs: [accountId, tenant], cmd: Command.all });
    expect(policy.kind).toBe('restrictive');
    expect(policy.using.parts.map((p) => p.kind)).toEqual(['column', 'text', 'condition', 'text', 'column', 'text', 'condition']);
  });

  it('rejects a raw string or number interpolated into sql', () => {
    const evil: unknown = "1; drop table users; --";
    expect(() => sql`${column('id')} = ${evil as never}`).toThrow(/received the string .* Only column\(\.\.\.\)/);
    expect(() => sql`${column('id')} = ${42 as never}`).toThrow(/sql\.literal\(value\)/);
  });

  it('accepts constants only through sql.literal and trusted text only through sql.raw', () => {
    const expr = sql`${column('status')} = ${sql.literal("it's")} and ${sql.raw('true')}`;
    expect(expr.parts).toContainEqual({ kind: 'literal', value: "it's" });
    expect(expr.parts).toContainEqual({ kind: 'text', text: 'true' });
    expect(() => sql.literal(Number.NaN)).toThrow(/finite number/);
    expect(() => sql.literal('a\0b')).toThrow(/NUL/);
  });

  it('rejects a policy without a command, with an unknown command, or with a duplicate command', () => {
    expect(() => Permissive({ conditionArgs: [accountId], cmd: [] })).toThrow(/`cmd` is required/);
    expect(() => Permissive({ conditionArgs: [accountId], cmd: 'truncate' as never })).toThrow(/unknown command "truncate"/);
    expect(() => Permissive({ conditionArgs: [accountId], cmd: [Command.select, Command.select] })).toThrow(/same command twice/);
  });

  it('rejects a policy with no condition at all', () => {
    expect(() => Permissive({ cmd: Command.select })).toThrow(/needs a condition/);
  });

  it('rejects withCheck on select-only and delete-only policies', () => {
    expect(() =>
      Permissive({ conditionArgs: [accountId], cmd: [Command.select, Command.delete], withCheck: (id) => sql`${column('a')} = ${id}` }),
    ).toThrow(/withCheck applies to insert, update and all/);
  });

  it('rejects a customExpr that does not return a sql expression', () => {
    expect(() => Permissive({ conditionArgs: [accountId], cmd: Command.select, customExpr: (() => 'owner_id = 1') as never })).toThrow(
      /must return a sql`...` expression/,
    );
  });

  it('normalises roles and keeps PUBLIC as a keyword', () => {
    const policy = Permissive({ conditionArgs: [accountId], cmd: Command.select, to: ['PUBLIC', 'app_user'] });
    expect(policy.roles).toEqual(['public', 'app_user']);
    expect(() => Permissive({ conditionArgs: [accountId], cmd: Command.select, to: [] })).toThrow(/`to` must name/);
  });
});

describe('ConditionArg', () => {
  it.each([
    ['integer', 'integer', 'int4'],
    ['int4', 'integer', 'int4'],
    ['number', 'integer', 'int4'],
    ['bigint', 'bigint', 'int8'],
    ['uuid', 'uuid', 'uuid'],
    ['string', 'text', 'text'],
    ['text', 'text', 'text'],
    ['boolean', 'boolean', 'boolean'],
    ['timestamptz', 'timestamptz', 'timestamptz'],
    ['Date', 'timestamptz', 'timestamptz'],
    ['date', 'date', 'date'],
    ['numeric', 'numeric', 'numeric'],
    ['citext', 'citext', 'text'],
  ])('maps type %s to the cast %s', (type, sqlName, kind) => {
    expect(ConditionArg({ comparatorName: 'v', type }).type).toEqual({ sqlName, kind });
  });

  it('accepts MikroORM type classes by their name', () => {
    class IntegerType {}
    class UuidType {}
    expect(ConditionArg({ comparatorName: 'v', type: IntegerType }).type.sqlName).toBe('integer');
    expect(ConditionArg({ comparatorName: 'v', type: UuidType }).type.sqlName).toBe('uuid');
  });

  it.each(['Account-Id', 'account.id', '1abc', "x'; drop", 'a'.repeat(64), ''])('rejects the variable name %j', (name) => {
    expect(() => ConditionArg({ comparatorName: name, type: 'integer' })).toThrow(/must be a lower-case identifier/);
  });

  it.each(['integer; drop table x', 'int)', "text'"])('rejects the type %j', (type) => {
    expect(() => ConditionArg({ comparatorName: 'v', type })).toThrow(/is not a type name/);
  });
});
