/**
 * Splits `groups`, kept in order, into consecutive chunks whose locks (as `locksOf` estimates them) add
 * up to at most `budget`, each chunk as large as that allows. A group is never split: one that alone
 * exceeds the budget gets a chunk of its own.
 *
 * @example
 * chunkByLocks([5, 5, 5, 9, 2], (n) => n, 10); // [[5, 5], [5], [9], [2]]
 */
export function chunkByLocks<G>(groups: readonly G[], locksOf: (group: G) => number, budget: number): G[][] {
  const chunks: G[][] = [];
  let current: G[] = [];
  let locks = 0;
  for (const group of groups) {
    const needed = locksOf(group);
    if (current.length > 0 && locks + needed > budget) {
      chunks.push(current);
      current = [];
      locks = 0;
    }
    current.push(group);
    locks += needed;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
