export { rlsPlugin, type RlsPluginOptions } from './rls-plugin';
export type { RlsRequestOptions, RlsRefusal } from '../request-scope';
