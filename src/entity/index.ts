export type { RlsEntityOptions } from './rls-entity-options';
export { Rls } from './rls-decorator';
export { collectTableSpecs, type CollectedRls } from './collect-table-specs';
