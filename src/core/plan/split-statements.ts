/**
 * Splits SQL as MikroORM's schema generator writes it (each statement ends with `;` and a newline) into
 * statements, without splitting inside a string literal, a quoted identifier, a dollar-quoted body
 * (a function, a `DO` block) or a comment: a column comment or default holding `;` and a newline is one
 * statement. Statements are trimmed, without their final `;`; empty ones are dropped.
 */
export function splitSqlStatements(sql: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  const push = (end: number) => {
    const statement = sql.slice(start, end).trim();
    if (statement.length > 0) statements.push(statement);
  };
  while (i < sql.length) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      i = endOfQuoted(sql, i, c);
    } else if (c === '-' && sql[i + 1] === '-') {
      const newline = sql.indexOf('\n', i);
      i = newline < 0 ? sql.length : newline;
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      i = close < 0 ? sql.length : close + 2;
    } else if (c === '$' && DOLLAR_TAG.test(sql.slice(i))) {
      const tag = DOLLAR_TAG.exec(sql.slice(i))![0];
      const close = sql.indexOf(tag, i + tag.length);
      i = close < 0 ? sql.length : close + tag.length;
    } else if (c === ';' && /^[ \t\r]*(\n|$)/.test(sql.slice(i + 1, i + 200))) {
      push(i);
      start = i + 1;
      i++;
    } else {
      i++;
    }
  }
  push(sql.length);
  return statements;
}

// `$$` or `$tag$` (a tag is an identifier that does not start with a digit), at the point read.
const DOLLAR_TAG = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/;

/** The index after the quoted text that starts at `open` (a doubled quote stands for itself). */
function endOfQuoted(sql: string, open: number, quote: string): number {
  let i = open + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else {
      i++;
    }
  }
  return sql.length;
}

/**
 * Statements as one text, each ending in `;`: PostgreSQL runs the statements of one message in order, as
 * one transaction when no transaction is open (inside one, as part of it).
 */
export function joinStatements(statements: readonly string[]): string {
  return statements.map((s) => `${s.trim().replace(/;+$/, '')};`).join('\n');
}
