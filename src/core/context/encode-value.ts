import type { ValueKind } from '../policy/pg-type';

const INTEGER = /^-?\d+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Turns one validated context value into the text `set_config` stores, such that the policy's cast
 * (`::integer`, `::uuid`, ...) reads back exactly that value. Returns an error message instead when the
 * value cannot mean the same thing in PostgreSQL; null and undefined become '' (read as NULL).
 */
export function encodeValue(value: unknown, kind: ValueKind): { text: string } | { error: string } {
  if (value === null || value === undefined) return { text: '' };
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) return { error: 'is an invalid Date' };
    if (kind === 'date') return { text: value.toISOString().slice(0, 10) };
    return { text: value.toISOString() };
  }
  let text: string;
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) return { error: `must be a finite number, got ${value}` };
      text = String(value);
      break;
    case 'bigint':
      text = value.toString();
      break;
    case 'boolean':
      text = value ? 'true' : 'false';
      break;
    case 'string':
      text = value;
      break;
    default:
      return { error: `has unsupported type ${typeof value}` };
  }
  if (text.includes('\0')) return { error: 'must not contain NUL characters' };
  if ((kind === 'int2' || kind === 'int4' || kind === 'int8') && !INTEGER.test(text)) {
    return { error: `must be an integer, got ${JSON.stringify(text)}` };
  }
  if (kind === 'uuid' && !UUID.test(text)) return { error: `must be a UUID, got ${JSON.stringify(text)}` };
  if (kind === 'boolean' && text !== 'true' && text !== 'false') return { error: 'must be a boolean' };
  return { text };
}
