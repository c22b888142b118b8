import '../../core/entity/entity-metadata-rls';
import { registerRlsAdapter } from '../../core/adapter/active-adapter';
import { RlsEntityManager } from './entity-manager/rls-entity-manager';

// Loading this adapter makes it the one the integrations use (see core/adapter/active-adapter).
registerRlsAdapter({ major: 6, entityManagerClass: RlsEntityManager });

export { withRls } from './wiring/with-rls';
export { RlsEntityManager, type RlsBypassOptions, type RlsForkOptions } from './entity-manager/rls-entity-manager';
export { RlsSettings, rlsSettingsOf, type RlsOptions } from '../../core/settings/rls-settings';
export { RlsViolationError, RlsInvisibleRowError } from './entity-manager/rls-violation-error';
export { RlsScopeEscapeError } from './wire/rls-scope-escape-error';
export { RlsTransactionStartError } from './wire/rls-transaction-start-error';
export { createPolicies, dropPolicies } from './policies/apply-policies';
export { RlsSessioner } from './entity-manager/rls-sessioner';
export type { ContextGetter } from '../../core/sessioner/rls-sessioner';
export { auditRls, auditRlsReport, type AuditReport } from './audit/audit-rls';
export { describePolicies } from './explorer/describe-policies';
