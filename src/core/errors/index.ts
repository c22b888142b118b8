export { RlsError, brandRlsError, type RlsErrorCode } from './rls-error';
export { RlsDeclarationError } from './rls-declaration-error';
export { RlsConfigurationError } from './rls-configuration-error';
export { RlsContextError } from './rls-context-error';
export { RlsMissingContextError } from './rls-missing-context-error';
export { RlsAdapterAssumptionError } from './rls-adapter-assumption-error';
