import { createHash } from 'node:crypto';
import { scopeStatement, type RlsScope } from './rls-scope';

// Scopes are compared for every `getContext()` call and every cached query, and a fork per request is
// the common case: remember each scope's identity once.
const IDENTITIES = new WeakMap<RlsScope, string>();

/**
 * What a scope makes PostgreSQL see, as a short opaque string: '' for no scope (or a context with
 * nothing to set), else a SHA-256 of the one statement that applies it and its values. Two scopes with
 * the same identity run their statements with the same settings. Used in result cache keys, which
 * cache adapters may log or store outside the process, so it never contains a context value itself.
 */
export function scopeIdentity(scope: RlsScope | undefined): string {
  if (!scope) return '';
  let identity = IDENTITIES.get(scope);
  if (identity === undefined) {
    const statement = scopeStatement(scope);
    identity = statement ? createHash('sha256').update(JSON.stringify([statement.sql, statement.params])).digest('hex').slice(0, 32) : '';
    IDENTITIES.set(scope, identity);
  }
  return identity;
}

/** Whether two scopes make PostgreSQL see the same settings. */
export function sameScope(a: RlsScope | undefined, b: RlsScope | undefined): boolean {
  return a === b || scopeIdentity(a) === scopeIdentity(b);
}
