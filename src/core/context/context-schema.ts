import { z } from 'zod';
import type { ValueKind } from '../policy/pg-type';

/**
 * What a context schema must offer: zod 3 and zod 4 objects both fit, as does any library with the same
 * two members. `shape` lists the fields, which become the session variables.
 *
 * @example
 * const context: ContextSchema<{ account_id: number }> = z.object({ account_id: z.number().int().positive() });
 * const orm = await MikroORM.init(withRls(config, { context }));
 */
export interface ContextSchema<Output = Record<string, unknown>> {
  readonly shape: Record<string, unknown>;
  safeParse(input: unknown):
    | { success: true; data: Output }
    | { success: false; error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> } };
}

const INT_RANGE: Partial<Record<ValueKind, [bigint, bigint]>> = {
  int2: [-32768n, 32767n],
  int4: [-2147483648n, 2147483647n],
  int8: [-9223372036854775808n, 9223372036854775807n],
};

function inRange(kind: ValueKind, value: bigint): boolean {
  const range = INT_RANGE[kind];
  return !range || (value >= range[0] && value <= range[1]);
}

function integerField(kind: ValueKind) {
  const range = INT_RANGE[kind]!;
  const asNumber = z
    .number()
    .int()
    .refine((n) => Number.isSafeInteger(n) && inRange(kind, BigInt(n)), `must be an integer between ${range[0]} and ${range[1]}`);
  if (kind !== 'int8') return asNumber;
  // bigint columns often arrive as strings or bigints (MikroORM maps them to string by default).
  const asBigint = z.bigint().refine((n) => inRange(kind, n), `must be between ${range[0]} and ${range[1]}`);
  const asString = z
    .string()
    .regex(/^-?\d{1,19}$/, 'must be a decimal integer')
    .refine((s) => inRange(kind, BigInt(s)), `must be between ${range[0]} and ${range[1]}`);
  return z.union([asNumber, asBigint, asString]);
}

const noNul = (s: string) => !s.includes('\0');

function fieldFor(kind: ValueKind) {
  switch (kind) {
    case 'int2':
    case 'int4':
    case 'int8':
      return integerField(kind);
    case 'numeric':
    case 'float':
      return z.number().refine(Number.isFinite, 'must be a finite number');
    case 'uuid':
      return z.uuid();
    case 'boolean':
      return z.boolean();
    case 'timestamptz':
    case 'timestamp':
    case 'date':
      return z.date().refine((d) => !Number.isNaN(d.getTime()), 'must be a valid date');
    case 'text':
      return z.string().min(1, 'must not be empty').refine(noNul, 'must not contain NUL characters');
  }
}

/**
 * The schema used when `withRls` is given none: one required field per condition arg, typed by its
 * PostgreSQL type; unknown fields are rejected so a misspelt key cannot silently leave a variable unset.
 */
export function deriveContextSchema(variables: ReadonlyMap<string, ValueKind>): ContextSchema {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, kind] of variables) shape[name] = fieldFor(kind);
  return z.strictObject(shape) as unknown as ContextSchema;
}
