export { withRls } from './with-rls';
export { RlsEntityManager, type RlsBypassOptions, type RlsForkOptions } from './rls-entity-manager';
export { RlsSettings, rlsSettingsOf, type RlsOptions } from './rls-settings';
export { RlsConfigurationError } from './rls-configuration-error';
export { RlsViolationError, RlsInvisibleRowError } from './rls-violation-error';
export { RlsScopeEscapeError } from './rls-scope-escape-error';
export { createPolicies, dropPolicies } from './apply-policies';
export { knexQueryable } from './knex-queryable';
export { RlsSessioner, RlsMissingContextError, type ContextGetter } from './rls-sessioner';
