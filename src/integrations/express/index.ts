export { rlsMiddleware } from './rls-middleware';
export type { RlsRequestOptions, RlsRefusal } from '../request-scope';
