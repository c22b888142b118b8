export * from './operation';
export * from './diff-rls';
