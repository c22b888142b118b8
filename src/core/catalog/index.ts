export * from './queryable';
export * from './live-state';
export * from './canonicalize';
export * from './partitions';
