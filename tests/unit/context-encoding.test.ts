import { z } from 'zod';
import { RlsContextError } from '../../src';
import { ContextCodec, deriveContextSchema, encodeValue } from '../../src/core/context';
import type { ValueKind } from '../../src/core/policy';

const kinds = new Map<string, ValueKind>([
  ['account_id', 'int4'],
  ['tenant', 'uuid'],
  ['big', 'int8'],
  ['admin', 'boolean'],
  ['since', 'timestamptz'],
  ['name', 'text'],
]);

describe('context validation and encoding', () => {
  const codec = new ContextCodec(deriveContextSchema(kinds), kinds, 'rls');
  const valid = {
    account_id: 42,
    tenant: '3f1c2a4e-8b7d-4c6e-9a1b-2d3e4f5a6b7c',
    big: 9007199254740993n,
    admin: false,
    since: new Date('2026-01-02T03:04:05.000Z'),
    name: "o'hara \\ ü",
  };

  it('compiles one set_config statement with bound values and transaction-local scope', () => {
    expect(codec.statement).toBe(
      "select pg_catalog.set_config('rls.account_id', ?, true), pg_catalog.set_config('rls.tenant', ?, true), pg_catalog.set_config('rls.big', ?, true), " +
        "pg_catalog.set_config('rls.admin', ?, true), pg_catalog.set_config('rls.since', ?, true), pg_catalog.set_config('rls.name', ?, true)",
    );
  });

  it('encodes every supported value type so the policy cast reads it back exactly', () => {
    expect(codec.encode(valid).values).toEqual([
      '42',
      '3f1c2a4e-8b7d-4c6e-9a1b-2d3e4f5a6b7c',
      '9007199254740993',
      'false',
      '2026-01-02T03:04:05.000Z',
      "o'hara \\ ü",
    ]);
  });

  it('accepts bigint values given as decimal strings', () => {
    expect(codec.encode({ ...valid, big: '-9223372036854775808' }).values[2]).toBe('-9223372036854775808');
  });

  it('names every bad field and sends nothing', () => {
    let error: unknown;
    try {
      codec.encode({ ...valid, account_id: '42', tenant: 'not-a-uuid', extra: 1 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RlsContextError);
    const problems = (error as RlsContextError).problems.join('\n');
    expect(problems).toMatch(/^account_id: /m);
    expect(problems).toMatch(/^tenant: /m);
    expect(problems).toMatch(/extra/);
  });

  it.each([
    ['a missing field', { ...valid, account_id: undefined }],
    ['an out-of-range integer', { ...valid, account_id: 2 ** 31 }],
    ['a fractional integer', { ...valid, account_id: 1.5 }],
    ['an out-of-range bigint', { ...valid, big: 2n ** 63n }],
    ['an invalid date', { ...valid, since: new Date('nope') }],
    ['a NUL byte in text', { ...valid, name: 'a\0b' }],
    ['an empty string', { ...valid, name: '' }],
    ['a wrong type', { ...valid, admin: 'yes' }],
    ['not an object', 'account_id=1'],
  ])('rejects %s', (_label, input) => {
    expect(() => codec.encode(input)).toThrow(RlsContextError);
  });

  it('cannot be used to set any other variable, such as the role', () => {
    expect(() => codec.encode({ ...valid, role: 'postgres' })).toThrow(/role: not a field of the context schema/);
  });

  it('works with a user schema, encoding optional fields left out as empty (read as NULL)', () => {
    const schema = z.object({ account_id: z.number().int(), team: z.string().optional() });
    const userCodec = new ContextCodec(schema, new Map([['account_id', 'int4']]), 'app');
    expect(userCodec.fields).toEqual(['account_id', 'team']);
    expect(userCodec.encode({ account_id: 7 }).values).toEqual(['7', '']);
  });

  it('still checks what the cast needs when a user schema is too lax', () => {
    const lax = z.object({ account_id: z.any() });
    const laxCodec = new ContextCodec(lax, new Map([['account_id', 'int4']]), 'rls');
    expect(() => laxCodec.encode({ account_id: '1 or true' })).toThrow(/account_id: must be an integer/);
  });

  it('rejects context fields that cannot be variable names', () => {
    expect(() => new ContextCodec(z.object({ 'Account-Id': z.number() }), new Map(), 'rls')).toThrow(/cannot become a session variable/);
  });
});

describe('encodeValue', () => {
  it('encodes dates for a date column without the time', () => {
    expect(encodeValue(new Date('2026-05-06T23:00:00Z'), 'date')).toEqual({ text: '2026-05-06' });
  });

  it('encodes null as empty so the policy reads NULL', () => {
    expect(encodeValue(null, 'int4')).toEqual({ text: '' });
  });
});

describe('unknown context fields: one rule for derived and user schemas', () => {
  const kinds = new Map<string, ValueKind>([['account_id', 'int4']]);
  // A plain z.object strips unknown keys by default; the derived schema is strict. Both must refuse.
  const schemas = {
    derived: deriveContextSchema(kinds),
    'user z.object': z.object({ account_id: z.number().int() }),
    'user z.looseObject': z.looseObject({ account_id: z.number().int() }),
  };

  it.each(Object.entries(schemas))('%s: a misspelt field is refused by name, before the schema runs', (_name, schema) => {
    const codec = new ContextCodec(schema, kinds, 'rls');
    let error: unknown;
    try {
      codec.encode({ account_id: 1, acount_id: 2 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RlsContextError);
    expect((error as RlsContextError).problems).toEqual([
      'acount_id: not a field of the context schema (known fields: account_id); remove it or add it to the schema',
    ]);
  });

  it.each(Object.entries(schemas))('%s: the known fields still pass', (_name, schema) => {
    expect(new ContextCodec(schema, kinds, 'rls').encode({ account_id: 7 }).values).toEqual(['7']);
  });
});
