export { RlsModule } from './rls-module';
export type { RlsModuleOptions, RlsExcludedRoute } from './rls-module-options';
export type { RlsRefusal } from '../request-scope';
