// Source text laid out as tools other than the published build print it, for the start-up checks'
// tests: `stripped` as tsx (esbuild) prints @mikro-orm/core when CJS code requires it, with no space
// next to punctuation; `spread` as a formatter could, one argument per line. Neither changes a token.

export const stripped = (text: string): string => text.replace(/\s*([^\w$\s])\s*/g, '$1');

export const spread = (text: string): string => text.replace(/,\s*/g, ',\n      ').replace(/\(/g, '(\n    ');

/**
 * Runs `work` while every function's source text reads as `relayout` prints it (the checks read
 * MikroORM's classes and methods through `toString`), then restores `Function.prototype.toString`.
 */
export function withFunctionSourcesAs<T>(relayout: (text: string) => string, work: () => T): T {
  const original = Function.prototype.toString;
  Function.prototype.toString = function (this: (...args: never[]) => unknown) {
    return relayout(original.call(this));
  };
  try {
    return work();
  } finally {
    Function.prototype.toString = original;
  }
}
