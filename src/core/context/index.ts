export * from './context-schema';
export * from './encode-value';
export * from './context-codec';
