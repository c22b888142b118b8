import { createHash } from 'node:crypto';

/** PostgreSQL silently truncates identifiers beyond NAMEDATALEN - 1 bytes. */
export const MAX_IDENTIFIER_BYTES = 63;
const HASH_CHARS = 8;

function truncateUtf8(text: string, maxBytes: number): string {
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const size = Buffer.byteLength(ch);
    if (bytes + size > maxBytes) break;
    out += ch;
    bytes += size;
  }
  return out;
}

/**
 * Makes a name PostgreSQL will keep as is: names that fit are returned unchanged; longer ones keep a
 * readable head plus a short hash of the whole name, so two long names never collide after truncation.
 */
export function fitIdentifier(name: string): string {
  if (Buffer.byteLength(name) <= MAX_IDENTIFIER_BYTES) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, HASH_CHARS);
  return `${truncateUtf8(name, MAX_IDENTIFIER_BYTES - HASH_CHARS - 1)}_${hash}`;
}
