export { Command } from './command';
export { ConditionArg, type ConditionArgOptions } from './condition-arg';
export { Permissive, Restrictive, type Policy, type PolicyKind, type PolicyOptions, type ConditionRefs } from './policy';
export { sql, column, SqlExpression, type SqlPart, type SqlValue } from './sql';
export { resolvePgType, type PgType, type ValueKind } from './pg-type';
