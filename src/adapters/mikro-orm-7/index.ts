import { EntityManager as SqlEntityManager } from '@mikro-orm/postgresql';
import { registerRlsAdapter } from '../../core/adapter/active-adapter';
import { RlsEntityManager } from './entity-manager/rls-entity-manager';
import '../../core/entity/entity-metadata-rls';

// Loading this adapter makes it the one the integrations use (see core/adapter/active-adapter).
// @mikro-orm/nestjs 7 provides MikroORM's EntityManager and em.constructor (here RlsEntityManager), not
// @mikro-orm/postgresql's EntityManager, which services written for MikroORM 6 inject.
registerRlsAdapter({ major: 7, entityManagerClass: RlsEntityManager, unprovidedEntityManagerClasses: [SqlEntityManager] });

export { withRls } from './wiring/with-rls';
export { RlsEntityManager, type RlsBypassOptions, type RlsForkOptions } from './entity-manager/rls-entity-manager';
export { RlsSettings, rlsSettingsOf, type RlsOptions } from '../../core/settings/rls-settings';
export { RlsViolationError, RlsInvisibleRowError } from './entity-manager/rls-violation-error';
export { RlsScopeEscapeError } from './wire/rls-scope-escape-error';
export { RlsTransactionStartError } from './wire/rls-transaction-start-error';
export { RlsSessioner } from './entity-manager/rls-sessioner';
export type { ContextGetter } from '../../core/sessioner/rls-sessioner';
export { createPolicies, dropPolicies } from './policies/apply-policies';
export { auditRls, auditRlsReport, type AuditReport } from './audit/audit-rls';
export { describePolicies } from './explorer/describe-policies';
