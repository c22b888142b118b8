import { scopeStatement, withoutScopeResult, withoutTrailingResults, type RlsScope } from '../../src/core/scope/rls-scope';
import { sameScope, scopeIdentity } from '../../src/core/scope/scope-identity';
import { withoutScopePrefix } from '../../src/adapters/mikro-orm-6/wire/error-redaction';

// The scope's statement, and how the results and error messages of a message that carried it in front
// of (or behind) the caller's SQL are given back as the caller would have seen them.

const context = (values: string[], statement = 'select set_config(?, ?, true)'): RlsScope => ({ kind: 'context', statement, values, context: {} });

describe('scopeStatement', () => {
  it('switches to the bypass role with the role bound, transaction-local', () => {
    expect(scopeStatement({ kind: 'bypass', role: 'rls_bypass' })).toEqual({ sql: "select pg_catalog.set_config('role', ?, true)", params: ['rls_bypass'] });
  });

  it('is the compiled context statement with its values, or nothing when the context sets nothing', () => {
    expect(scopeStatement(context(['rls.account_id', '42']))).toEqual({ sql: 'select set_config(?, ?, true)', params: ['rls.account_id', '42'] });
    expect(scopeStatement(context([], ''))).toBeUndefined();
  });
});

describe('withoutScopeResult', () => {
  const empty = 'empty result';
  it('drops our leading results and unwraps a single remaining one', () => {
    expect(withoutScopeResult(['ours', 'theirs'], 1, empty)).toBe('theirs');
    expect(withoutScopeResult(['begin', 'ours', 'theirs'], 2, empty)).toBe('theirs');
  });

  it('keeps several remaining results as a list', () => {
    expect(withoutScopeResult(['ours', 'a', 'b'], 1, empty)).toEqual(['a', 'b']);
  });

  it('answers `empty` when the caller sent no statement (or the driver returned one result)', () => {
    expect(withoutScopeResult(['ours'], 1, empty)).toBe(empty);
    expect(withoutScopeResult('single', 1, empty)).toBe(empty);
  });
});

describe('withoutTrailingResults', () => {
  it('drops the last `count` results, never more than there are', () => {
    expect(withoutTrailingResults(['a', 'b', 'reset'], 1)).toEqual(['a', 'b']);
    expect(withoutTrailingResults(['a'], 3)).toEqual([]);
    expect(withoutTrailingResults(['a', 'b'], 0)).toEqual(['a', 'b']);
  });

  it('leaves a single (not multi-statement) result as it is', () => {
    expect(withoutTrailingResults('single', 1)).toBe('single');
  });
});

describe('scopeIdentity and sameScope', () => {
  it('is empty for no scope and for a context that sets nothing', () => {
    expect(scopeIdentity(undefined)).toBe('');
    expect(scopeIdentity(context([], ''))).toBe('');
    expect(sameScope(undefined, context([], ''))).toBe(true);
  });

  it('is equal for scopes that set the same, different otherwise, and never shows a value', () => {
    const a = context(['rls.account_id', 'secret-42']);
    expect(scopeIdentity(a)).toMatch(/^[0-9a-f]{32}$/);
    expect(scopeIdentity(a)).not.toContain('secret');
    expect(sameScope(a, context(['rls.account_id', 'secret-42']))).toBe(true);
    expect(sameScope(a, context(['rls.account_id', 'secret-43']))).toBe(false);
    expect(sameScope({ kind: 'bypass', role: 'r' }, { kind: 'bypass', role: 'r' })).toBe(true);
    expect(sameScope({ kind: 'bypass', role: 'r' }, { kind: 'bypass', role: 's' })).toBe(false);
    expect(sameScope(a, undefined)).toBe(false);
  });
});

describe('withoutScopePrefix', () => {
  it("removes our statements in front of the caller's in an error message", () => {
    expect(withoutScopePrefix("select set_config('rls.account_id', ?, true); insert into \"note\" values (1) - boom")).toBe('insert into "note" values (1) - boom');
    expect(withoutScopePrefix("BEGIN TRANSACTION ISOLATION LEVEL READ COMMITTED; select pg_catalog.set_config('role', ?, true);\nupdate \"note\" set x = 1")).toBe(
      'update "note" set x = 1',
    );
  });

  it("leaves a message that does not start with ours as it is", () => {
    expect(withoutScopePrefix('insert into "note" values (1); select set_config(1)')).toBe('insert into "note" values (1); select set_config(1)');
  });
});
