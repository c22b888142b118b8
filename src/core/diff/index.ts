export * from './operation';
export * from './diff-rls';
export * from './cover-partitions';
