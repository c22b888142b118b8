import type { ConditionArg } from '../policy/condition-arg';
import type { SqlExpression } from '../policy/sql';
import { quoteIdent, quoteLiteral } from './quote';

/** The full name of a context variable, e.g. `rls.account_id`. */
export function variableName(prefix: string, arg: Pick<ConditionArg, 'comparatorName'>): string {
  return `${prefix}.${arg.comparatorName}`;
}

/**
 * How a policy reads a context variable. `(select ...)` makes PostgreSQL evaluate it once per statement
 * (an InitPlan) instead of once per row; `nullif(..., '')` turns both "never set" and "set earlier on this
 * pooled connection, now reset" into NULL, so a missing context matches no row.
 */
export function renderVariable(prefix: string, arg: ConditionArg): string {
  return `(select nullif(current_setting(${quoteLiteral(variableName(prefix, arg))}, true), '')::${arg.type.sqlName})`;
}

function renderLiteral(value: string | number | bigint | boolean): string {
  if (typeof value === 'string') return quoteLiteral(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return value < 0 ? `(${String(value)})` : String(value);
}

/** Renders an expression to SQL text; `onColumn` lets the caller check each referenced column. */
export function renderExpression(expr: SqlExpression, prefix: string, onColumn?: (name: string) => void): string {
  return expr.parts
    .map((part) => {
      switch (part.kind) {
        case 'text':
          return part.text;
        case 'column':
          onColumn?.(part.name);
          return quoteIdent(part.name);
        case 'condition':
          return renderVariable(prefix, part.arg);
        case 'literal':
          return renderLiteral(part.value);
      }
    })
    .join('');
}
