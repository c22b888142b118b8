// Declaration: what users write next to their entities.
export { Command, ConditionArg, Permissive, Restrictive, sql, column, SqlExpression } from './core/policy';
export type { ConditionArgOptions, Policy, PolicyKind, PolicyOptions, ConditionRefs, PgType } from './core/policy';
export { Rls, type RlsEntityOptions } from './core/entity';

// Runtime: wiring, scoping, bypass, applying policies without migrations; from the adapter of the
// installed MikroORM major (6 or 7), which both export, so that an application's code does not change
// when it upgrades MikroORM. Loading it registers it for the integrations.
export { withRls, RlsEntityManager, RlsViolationError, RlsInvisibleRowError, RlsScopeEscapeError, RlsTransactionStartError, createPolicies, dropPolicies } from './adapters/installed-adapter-exports';
export { RlsSessioner, type ContextGetter } from './adapters/installed-adapter-exports';
export type { RlsOptions, RlsBypassOptions, RlsForkOptions } from './adapters/installed-adapter-exports';
export type { ContextSchema } from './core/context';

// Errors: one family, `error instanceof RlsError` for every one, each with a stable `rlsCode`.
export { RlsError, RlsDeclarationError, RlsConfigurationError, RlsAdapterAssumptionError, RlsContextError, RlsMissingContextError, type RlsErrorCode } from './core/errors';

export { auditRls, auditRlsReport, type AuditReport } from './adapters/installed-adapter-exports';
export { describeAuditTarget, type AuditFinding, type AuditTarget } from './core/audit';

// The policy explorer: which commands the policies allow, to whom, under which expressions.
export { describePolicies } from './adapters/installed-adapter-exports';
export type { DescribePoliciesOptions, PolicyMap } from './core/explorer';

// Building blocks for tooling (migrations, audits): rendered specs, live catalog state, diffs.
export type { PolicySpec, TableRlsSpec, TableRef } from './core/ddl';
export type { RlsOperation } from './core/diff';
