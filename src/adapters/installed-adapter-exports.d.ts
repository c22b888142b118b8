// The types of installed-adapter-exports.js: the exports both adapter indexes have, by the same names
// (tests/unit/adapter-exports.test.ts), declared by the MikroORM 6 adapter's index.
export * from './mikro-orm-6';
