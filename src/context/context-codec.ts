import type { ValueKind } from '../policy/pg-type';
import { VARIABLE_NAME } from '../policy/condition-arg';
import { quoteLiteral } from '../ddl/quote';
import { RlsContextError } from './context-error';
import type { ContextSchema } from './context-schema';
import { encodeValue } from './encode-value';

/** A validated context, ready to send: the values in the order of {@link ContextCodec.statement}'s parameters. */
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
  /** Variable names (context fields) in parameter order. */
  readonly fields: readonly string[];
  /** `select set_config('rls.a', ?, true), ...`: names are fixed, values are bound (knex `?` placeholders). */
  readonly statement: string;

  constructor(
    readonly schema: ContextSchema,
    private readonly kinds: ReadonlyMap<string, ValueKind>,
    readonly prefix: string,
  ) {
    this.fields = Object.keys(schema.shape);
    for (const field of this.fields) {
      if (!VARIABLE_NAME.test(field)) {
        throw new TypeError(
          `Context field ${JSON.stringify(field)} cannot become a session variable: use lower-case identifiers such as "account_id".`,
        );
      }
    }
    // is_local = true: the values die with the transaction and never reach the next user of the connection.
    this.statement =
      this.fields.length === 0
        ? ''
        : 'select ' + this.fields.map((f) => `set_config(${quoteLiteral(`${prefix}.${f}`)}, ?, true)`).join(', ');
  }

  /** Validates and encodes; throws {@link RlsContextError} naming each bad field. Sends nothing. */
  encode(input: unknown): EncodedContext {
    const parsed = this.schema.safeParse(input);
    if (!parsed.success) {
      throw new RlsContextError(
        parsed.error.issues.map((issue) => `${issue.path.length ? issue.path.map(String).join('.') : '(context)'}: ${issue.message}`),
      );
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
}
