export type { RlsEntityOptions } from './rls-entity-options';
export { Rls } from './rls-decorator';
export { collectTableSpecs, type CollectedRls, type MetadataLookup } from './collect-table-specs';
