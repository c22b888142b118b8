export * from './quote';
export * from './policy-name';
export * from './expression';
export * from './policy-spec';
export * from './statements';
export * from './compile-policies';
