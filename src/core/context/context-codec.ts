import type { ValueKind } from '../policy/pg-type';
import { VARIABLE_NAME } from '../policy/condition-arg';
import { quoteLiteral } from '../ddl/quote';
import { RlsContextError } from '../errors/rls-context-error';
import type { ContextSchema } from './context-schema';
import { encodeValue } from './encode-value';
import { RlsDeclarationError } from '../errors/rls-declaration-error';

/** A validated context, ready to send: the values in the order of {@link ContextCodec.statement}'s `?` placeholders. */
export interface EncodedContext {
  readonly values: readonly string[];
  /** The parsed context, as the schema returned it; exposed read-only on the fork. */
  readonly data: Readonly<Record<string, unknown>>;
}

/**
 * Compiled once at start-up: validates contexts against the schema and encodes them for the single
 * `select set_config(...)` statement that opens every scoped transaction.
 */
export class ContextCodec {
  /** Variable names (context fields) in placeholder order. */
  readonly fields: readonly string[];
  /**
   * `select pg_catalog.set_config('rls.a', ?, true), ...`: names are fixed, written in when compiled; the
   * values take the `?` placeholders (MikroORM's form). They are not sent as bound parameters: the
   * adapter writes them in as escaped literals with MikroORM's own quoting (`platform.formatQuery`), once
   * per fork, so that the statement can share one simple-protocol message with other statements.
   */
  readonly statement: string;

  constructor(
    readonly schema: ContextSchema,
    private readonly kinds: ReadonlyMap<string, ValueKind>,
    readonly prefix: string,
  ) {
    this.fields = Object.keys(schema.shape);
    for (const field of this.fields) {
      if (!VARIABLE_NAME.test(field)) {
        throw new RlsDeclarationError(
          `Context field ${JSON.stringify(field)} cannot become a session variable: use lower-case identifiers such as "account_id".`,
        );
      }
    }
    // is_local = true: the values die with the transaction and never reach the next user of the connection.
    this.statement =
      this.fields.length === 0
        ? ''
        : 'select ' + this.fields.map((f) => `pg_catalog.set_config(${quoteLiteral(`${prefix}.${f}`)}, ?, true)`).join(', ');
  }

  /** Validates and encodes; throws {@link RlsContextError} naming each bad field. Sends nothing. */
  encode(input: unknown): EncodedContext {
    const unknownFields = this.unknownFieldProblems(input);
    const parsed = this.schema.safeParse(input);
    if (!parsed.success || unknownFields.length > 0) {
      const issues = parsed.success ? [] : parsed.error.issues.filter((issue) => !isUnknownKeysIssue(issue));
      throw new RlsContextError([
        ...issues.map((issue) => `${issue.path.length ? issue.path.map(String).join('.') : '(context)'}: ${issue.message}`),
        ...unknownFields,
      ]);
    }
    const data = parsed.data as Record<string, unknown>;
    const problems: string[] = [];
    const values = this.fields.map((field) => {
      const encoded = encodeValue(data[field], this.kinds.get(field) ?? 'text');
      if ('error' in encoded) {
        problems.push(`${field}: ${encoded.error}`);
        return '';
      }
      return encoded.text;
    });
    if (problems.length > 0) throw new RlsContextError(problems);
    return Object.freeze({ values: Object.freeze(values), data: Object.freeze({ ...data }) });
  }

  /**
   * One rule for every schema: a field the schema does not name is refused. A plain `z.object` would
   * strip it silently (the derived schema is strict), and a misspelt key would then leave its variable
   * unset without a word; that fails closed, but the caller deserves to know why.
   */
  private unknownFieldProblems(input: unknown): string[] {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return []; // the schema reports it
    const known = this.fields.join(', ') || '(none)';
    return Object.keys(input)
      .filter((key) => !this.fields.includes(key))
      .map((key) => `${key}: not a field of the context schema (known fields: ${known}); remove it or add it to the schema`);
  }
}

/** zod's own report of unknown keys (strict objects), replaced by {@link ContextCodec}'s, which names them. */
function isUnknownKeysIssue(issue: object): boolean {
  return (issue as { code?: unknown }).code === 'unrecognized_keys';
}
