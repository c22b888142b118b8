import type { EntityMetadata } from '@mikro-orm/core';
import { nativeDeclaration, refuseRlsFilters } from '../../src/core/entity/native-policies';
import { fitIdentifier } from '../../src/core/ddl';
import { RlsDeclarationError } from '../../src/core/errors';

// MikroORM 7's own RLS options (`policies`, `rowLevelSecurity`, rls-flagged filters) read as this
// package's declarations. Metadata objects are built by hand: the mapping reads them structurally.

const meta = (extra: Record<string, unknown>) => ({ className: 'Note', tableName: 'note', collection: 'note', ...extra }) as unknown as EntityMetadata;

it('maps type, command, roles, using and check, with native default names and collision indexes', () => {
  const declared = nativeDeclaration(
    meta({
      rowLevelSecurity: 'force',
      policies: [
        { using: 'a = 1' },
        { using: 'b = 1' },
        { name: 'mine', command: 'update', type: 'restrictive', roles: ['app', 'PUBLIC'], using: 'c = 1', check: { sql: 'c = 2', params: [] } },
      ],
    }),
  );
  expect(declared).toEqual({
    force: true,
    policies: [
      { name: 'note_all_policy', permissive: true, command: 'all', roles: ['public'], using: 'a = 1', withCheck: null },
      { name: 'note_all_policy_2', permissive: true, command: 'all', roles: ['public'], using: 'b = 1', withCheck: null },
      { name: 'mine', permissive: false, command: 'update', roles: ['app', 'public'], using: 'c = 1', withCheck: 'c = 2' },
    ],
  });
});

it('keeps the native meaning of rowLevelSecurity: policies alone or true enable RLS without FORCE, true alone denies every row', () => {
  expect(nativeDeclaration(meta({ policies: [{ using: 'true' }] }))?.force).toBe(false);
  expect(nativeDeclaration(meta({ rowLevelSecurity: true }))).toEqual({ force: false, policies: [] });
  expect(nativeDeclaration(meta({}))).toBeUndefined();
  expect(nativeDeclaration(meta({ policies: [] }))).toBeUndefined();
});

it('gives a long default name a hash suffix instead of truncating it', () => {
  const collection = 'a_table_name_that_is_long_enough_to_push_the_policy_name_past_63';
  const [policy] = nativeDeclaration(meta({ collection, policies: [{ using: 'true' }] }))!.policies;
  expect(Buffer.byteLength(policy.name)).toBeLessThanOrEqual(63);
  expect(policy.name).toMatch(/^a_table_name_that_is_long_enough_to_push_the_policy_na_[0-9a-f]{8}$/);
  expect(policy.name).toBe(fitIdentifier(`${collection}_all_policy`));
});

it('refuses what it cannot mean exactly, saying which entity and why', () => {
  const refuse = (extra: Record<string, unknown>, message: RegExp) => {
    expect(() => nativeDeclaration(meta(extra))).toThrow(RlsDeclarationError);
    expect(() => nativeDeclaration(meta(extra))).toThrow(message);
  };
  refuse({ rowLevelSecurity: false, policies: [{ using: 'true' }] }, /Note declares policies with rowLevelSecurity: false/);
  refuse({ policies: [{ name: 'x'.repeat(64), using: 'true' }] }, /is 64 bytes long; PostgreSQL keeps only 63/);
  refuse({ policies: [{ name: 'p', using: 'true' }, { name: 'p', using: 'false' }] }, /two policies named "p"/);
  refuse({ policies: [{ command: 'merge', using: 'true' }] }, /command "merge"/);
  refuse({ policies: [{ using: { sql: 'a = ?', params: [1] } }] }, /raw\(\) fragment without parameters/);
});

it('refuses rls-flagged filters, naming them', () => {
  const withFilters = meta({ filters: { tenant: { name: 'tenant', rls: true, cond: {} }, active: { name: 'active', cond: {} } } });
  expect(() => refuseRlsFilters(withFilters)).toThrow(/Entity Note has rls-flagged filter\(s\) "tenant"\..*Remove `rls` from the filter/);
  expect(() => refuseRlsFilters(meta({ filters: { active: { name: 'active', cond: {} } } }))).not.toThrow();
});
