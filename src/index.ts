// Declaration: what users write next to their entities.
export { Command, ConditionArg, Permissive, Restrictive, sql, column, SqlExpression } from './policy';
export type { ConditionArgOptions, Policy, PolicyKind, PolicyOptions, ConditionRefs, PgType } from './policy';
export { Rls, type RlsEntityOptions } from './entity';

// Runtime: wiring, scoping, bypass, applying policies without migrations.
export { withRls, RlsEntityManager, RlsConfigurationError, RlsViolationError, RlsInvisibleRowError, RlsScopeEscapeError, RlsTransactionStartError, createPolicies, dropPolicies } from './runtime';
export { RlsSessioner, RlsMissingContextError, type ContextGetter } from './runtime';
export type { RlsOptions, RlsBypassOptions, RlsForkOptions } from './runtime';
export { RlsContextError, type ContextSchema } from './context';

export { auditRls, auditRlsReport, describeAuditTarget, type AuditFinding, type AuditReport, type AuditTarget } from './audit';

// Building blocks for tooling (migrations, audits): rendered specs, live catalog state, diffs.
export type { PolicySpec, TableRlsSpec, TableRef } from './ddl';
export type { RlsOperation } from './diff';
