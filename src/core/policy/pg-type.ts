import { RlsDeclarationError } from '../errors/rls-declaration-error';
/**
 * How a context value of a given PostgreSQL type is validated and encoded. Everything else about the
 * type (the cast in the policy) uses the PostgreSQL type name itself.
 */
export type ValueKind =
  | 'int2'
  | 'int4'
  | 'int8'
  | 'numeric'
  | 'float'
  | 'text'
  | 'uuid'
  | 'boolean'
  | 'timestamptz'
  | 'timestamp'
  | 'date';

/**
 * A condition arg's type, resolved: the cast written into the policy and how context values are checked.
 *
 * @example
 * const createdAfter = ConditionArg({ comparatorName: 'created_after', type: 'timestamp with time zone' });
 * const type: PgType = createdAfter.type; // { sqlName: 'timestamptz', kind: 'timestamptz' }
 */
export interface PgType {
  /** The type as written in the policy's cast, e.g. `integer` or `timestamp with time zone`. */
  readonly sqlName: string;
  /** How a context value for it is validated and written. */
  readonly kind: ValueKind;
}

const t = (sqlName: string, kind: ValueKind): PgType => Object.freeze({ sqlName, kind });

// PostgreSQL spellings and MikroORM type names (`type: 'number'`, `types.integer`'s class name, ...)
// mapped to one canonical cast each, so `integer` and `int4` declare the same policy.
const ALIASES: Record<string, PgType> = {
  smallint: t('smallint', 'int2'),
  int2: t('smallint', 'int2'),
  smallinttype: t('smallint', 'int2'),
  tinyinttype: t('smallint', 'int2'),
  integer: t('integer', 'int4'),
  int: t('integer', 'int4'),
  int4: t('integer', 'int4'),
  number: t('integer', 'int4'),
  integertype: t('integer', 'int4'),
  mediuminttype: t('integer', 'int4'),
  bigint: t('bigint', 'int8'),
  int8: t('bigint', 'int8'),
  biginttype: t('bigint', 'int8'),
  numeric: t('numeric', 'numeric'),
  decimal: t('numeric', 'numeric'),
  decimaltype: t('numeric', 'numeric'),
  real: t('real', 'float'),
  float4: t('real', 'float'),
  floattype: t('real', 'float'),
  'double precision': t('double precision', 'float'),
  double: t('double precision', 'float'),
  float8: t('double precision', 'float'),
  doubletype: t('double precision', 'float'),
  text: t('text', 'text'),
  string: t('text', 'text'),
  varchar: t('text', 'text'),
  'character varying': t('text', 'text'),
  stringtype: t('text', 'text'),
  texttype: t('text', 'text'),
  uuid: t('uuid', 'uuid'),
  uuidtype: t('uuid', 'uuid'),
  boolean: t('boolean', 'boolean'),
  bool: t('boolean', 'boolean'),
  booleantype: t('boolean', 'boolean'),
  timestamptz: t('timestamptz', 'timestamptz'),
  'timestamp with time zone': t('timestamptz', 'timestamptz'),
  datetime: t('timestamptz', 'timestamptz'),
  date: t('date', 'date'),
  datetype: t('date', 'date'),
  datetimetype: t('timestamptz', 'timestamptz'),
  timestamp: t('timestamp', 'timestamp'),
  'timestamp without time zone': t('timestamp', 'timestamp'),
};

// Any other type must look like a (possibly schema-qualified) type name: it is written into DDL.
const OTHER_TYPE = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;

/**
 * Resolves a ConditionArg `type`: a PostgreSQL type name, a MikroORM type name such as `'number'` or
 * `'uuid'`, or a MikroORM type class such as `types.integer`. Unknown but well-formed names (a domain,
 * an enum, `citext`) are allowed and treated as text.
 */
export function resolvePgType(type: unknown, where: string): PgType {
  const name =
    typeof type === 'string'
      ? type
      : typeof type === 'function' && typeof (type as { name?: unknown }).name === 'string'
        ? (type as { name: string }).name
        : undefined;
  if (name === undefined) {
    throw new RlsDeclarationError(`${where}: \`type\` must be a PostgreSQL type name such as 'integer', 'uuid' or 'text'.`);
  }
  const key = name.trim().toLowerCase().replace(/\s+/g, ' ');
  if (key === 'date' && name === 'Date') return ALIASES.datetime; // MikroORM's `type: 'Date'` is a timestamp
  const known = ALIASES[key];
  if (known) return known;
  if (OTHER_TYPE.test(key)) return t(key, 'text');
  throw new RlsDeclarationError(
    `${where}: ${JSON.stringify(name)} is not a type name this package can write into a policy. ` +
      "Use a PostgreSQL type such as 'integer', 'bigint', 'uuid', 'text', 'boolean' or 'timestamptz'.",
  );
}
