// The adapters' start-up checks read the source text of MikroORM and the packages under it (`fn.toString()`,
// a file of a package). That text is not always as published: tsx rewrites @mikro-orm/core when CJS
// code requires it (`new em.constructor(em.config,em.driver,...)`, found by a new-user trial), and a
// bundler or minifier reformats it. Both sides are compared in one spelling, so layout never matters
// and a changed token still does. esbuild (tsx's require() hook) also writes strings in double quotes and
// drops a semicolon before a closing brace: quotes are compared as one, and a pattern's `;` also matches
// just before a `}`.

const WORD = /[\w$]/;

const isWord = (char: string | undefined) => char !== undefined && WORD.test(char);

/** `text` with whitespace only where two words meet (one space there, where it separates tokens). */
export function compactSource(text: string): string {
  return text.replace(/'/g, '"').replace(/\s+/g, (gap: string, at: number, whole: string) => (isWord(whole[at - 1]) && isWord(whole[at + gap.length]) ? ' ' : ''));
}

/**
 * `pattern` as written against the published layout, for compacted text: a space between two words stays
 * one space, any other space may be absent. The pattern's own `\s*` and the like keep working.
 */
export function compactPattern(pattern: RegExp): RegExp {
  const compacted = pattern.source.replace(/ +/g, (gap: string, at: number, whole: string) =>
    isWord(whole[at - 1]) && isWord(whole[at + gap.length]) && whole[at - 2] !== '\\' ? ' ' : ' ?',
  );
  return new RegExp(withOptionalSemicolons(compacted.replace(/'/g, '"')), pattern.flags);
}

/** A regular expression's source whose every `;` (outside a character class) also matches right before a `}`. */
function withOptionalSemicolons(source: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const char = source[i]!;
    if (char === '\\') {
      out += char + (source[++i] ?? '');
      continue;
    }
    if (char === '[') inClass = true;
    else if (char === ']') inClass = false;
    out += char === ';' && !inClass ? '(?:;|(?=\\}))' : char;
  }
  return out;
}

/** Whether the source text has `pattern` (written against the published layout), whatever its layout. */
export const sourceHas = (text: string, pattern: RegExp): boolean => compactPattern(pattern).test(compactSource(text));

/** Whether the source text contains `snippet` (written as published), whatever the layout of either. */
export const sourceIncludes = (text: string, snippet: string): boolean => compactSource(text).includes(compactSource(snippet));
