// The package's root loads the adapter that RlsModule provides the entity manager of.
import '../..';
export { RlsModule } from './rls-module';
export type { RlsModuleOptions, RlsExcludedRoute } from './rls-module-options';
export type { RlsRefusal } from '../request-scope';
