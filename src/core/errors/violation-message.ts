// How PostgreSQL words a row-level security refusal, and which command a statement runs: plain text
// parsing, the same for every MikroORM major.

// PostgreSQL's messages: `... policy for table "t"`, `... policy (USING expression) for table "t"`, and, for
// a restrictive policy, `... policy "p" for table "t"`. Names are written as they are (a quote inside is
// not doubled); the table's ends the message's line.
export const VIOLATION = /violates row-level security policy (?:".*" )?(?:\([^)]*\) )?for table "(.*)"/;
/**
 * The first word of a statement, after its WITH clause: each CTE's parenthesised body (nested
 * parentheses and quoted text inside included) and column list are skipped.
 */
export function commandOf(statement: string): string {
  const word = /\w+/y;
  const next = (at: number) => {
    while (at < statement.length && /\s/.test(statement[at])) at++;
    word.lastIndex = at;
    const found = word.exec(statement);
    return { at, word: found?.[0].toLowerCase() };
  };
  let { at, word: first } = next(0);
  if (first !== 'with') return first ?? 'unknown';
  let depth = 0;
  for (at += 4; at < statement.length; at++) {
    const c = statement[at];
    if (c === "'" || c === '"') {
      const close = statement.indexOf(c, at + 1);
      if (close < 0) break;
      at = close;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) {
      const after = next(at + 1);
      // `name (columns) as (...)`, `as materialized (...)` and `, next as (...)` go on; anything else is the command.
      if (after.word && !['as', 'not', 'materialized'].includes(after.word)) return after.word;
    }
  }
  return 'unknown';
}
