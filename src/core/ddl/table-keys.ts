import type { TableRef } from './quote';

/**
 * A table as a Map or Set key: planning looks tables up by schema and name among thousands, which a scan
 * per lookup would make quadratic. The separator cannot occur in a PostgreSQL identifier.
 */
export const tableKey = (table: TableRef): string => `${table.schema}\u0000${table.name}`;

/** The tables, as a set of keys (see {@link tableKey}). */
export function tableSet(tables: Iterable<TableRef>): Set<string> {
  const keys = new Set<string>();
  for (const table of tables) keys.add(tableKey(table));
  return keys;
}

/** Each item under the key of its table; the first item of a table wins, as a `find` would. */
export function byTable<T>(items: Iterable<T>, tableOf: (item: T) => TableRef): Map<string, T> {
  const map = new Map<string, T>();
  for (const item of items) {
    const key = tableKey(tableOf(item));
    if (!map.has(key)) map.set(key, item);
  }
  return map;
}

/** Items by a name (a policy's), the first of a name winning, as a `find` would. */
export function byName<T extends { readonly name: string }>(items: Iterable<T>): Map<string, T> {
  const map = new Map<string, T>();
  for (const item of items) if (!map.has(item.name)) map.set(item.name, item);
  return map;
}

/** Items in lists under a key of each, in first-seen order (one pass: a scan per key would be quadratic). */
export function groupBy<T>(items: Iterable<T>, keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}
