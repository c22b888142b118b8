import { ConstraintViolationException, DriverException } from '@mikro-orm/core';
import * as api from '../../src';
import { RlsError } from '../../src';

// One family: every error class the package exports is an RlsError with a stable code and its own name.

const errorClasses = Object.entries(api).filter(
  ([name, value]) => typeof value === 'function' && /Error$/.test(name) && name !== 'RlsError' && value.prototype instanceof Error,
) as [string, new (...args: never[]) => Error][];

/** One instance of each class, built as the package builds it. */
function instanceOf(name: string): Error {
  const cause = Object.assign(new Error('new row violates row-level security policy for table "items"'), { code: '42501' });
  switch (name) {
    case 'RlsContextError':
      return new api.RlsContextError(['account_id: expected a number']);
    case 'RlsMissingContextError':
      return new api.RlsMissingContextError();
    case 'RlsAdapterAssumptionError':
      return new api.RlsAdapterAssumptionError('an assumption', 'it broke');
    case 'RlsViolationError':
      return new api.RlsViolationError(cause, 'items', 'insert');
    case 'RlsInvisibleRowError':
      return new api.RlsInvisibleRowError('hidden', 'Item', 'items', 'update');
    case 'RlsScopeEscapeError':
      return new api.RlsScopeEscapeError('begin');
    case 'RlsTransactionStartError':
      return new api.RlsTransactionStartError(cause);
    default:
      return new (api as unknown as Record<string, new (message: string) => Error>)[name]!('a message');
  }
}

const CODES: Record<string, string> = {
  RlsDeclarationError: 'RLS_DECLARATION',
  RlsConfigurationError: 'RLS_CONFIGURATION',
  RlsAdapterAssumptionError: 'RLS_ADAPTER_ASSUMPTION',
  RlsContextError: 'RLS_CONTEXT_INVALID',
  RlsMissingContextError: 'RLS_CONTEXT_MISSING',
  RlsScopeEscapeError: 'RLS_SCOPE_ESCAPE',
  RlsTransactionStartError: 'RLS_TRANSACTION_START',
  RlsViolationError: 'RLS_VIOLATION',
  RlsInvisibleRowError: 'RLS_INVISIBLE_ROW',
};

it('exports every error class of the family, and no other', () => {
  expect(errorClasses.map(([name]) => name).sort()).toEqual(Object.keys(CODES).sort());
});

it.each(Object.keys(CODES))('%s is an RlsError with its stable code and its class name', (name) => {
  const error = instanceOf(name);
  expect(error).toBeInstanceOf(RlsError);
  expect(error).toBeInstanceOf((api as unknown as Record<string, new () => Error>)[name]!);
  expect(error.name).toBe(name);
  expect((error as RlsError).rlsCode).toBe(CODES[name]);
  expect(error.message).not.toBe('');
});

it('keeps errors of a statement MikroORM exceptions, with the SQLSTATE as code', () => {
  const violation = instanceOf('RlsViolationError');
  expect(violation).toBeInstanceOf(ConstraintViolationException);
  expect((violation as DriverException).code).toBe('42501');
  expect(instanceOf('RlsScopeEscapeError')).toBeInstanceOf(DriverException);
  expect(instanceOf('RlsTransactionStartError')).toBeInstanceOf(DriverException);
});

it('gives errors that do not come from a statement their stable code as code too', () => {
  expect((instanceOf('RlsContextError') as RlsError).code).toBe('RLS_CONTEXT_INVALID');
  expect(instanceOf('RlsAdapterAssumptionError')).toBeInstanceOf(api.RlsConfigurationError);
});

it('does not count other errors as RlsErrors', () => {
  expect(new Error('x')).not.toBeInstanceOf(RlsError);
  expect(new DriverException(new Error('x'))).not.toBeInstanceOf(RlsError);
  expect(null).not.toBeInstanceOf(RlsError);
  expect(new api.RlsContextError(['x'])).not.toBeInstanceOf(api.RlsConfigurationError);
});

it('refuses a bad declaration with an RlsDeclarationError', () => {
  expect(() => api.column('')).toThrow(api.RlsDeclarationError);
  expect(() => api.ConditionArg({ comparatorName: 'Not An Identifier', type: 'integer' })).toThrow(api.RlsDeclarationError);
});
