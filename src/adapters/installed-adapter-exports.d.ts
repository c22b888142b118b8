// The types of installed-adapter-exports.js: the exports both adapter indexes have, by the same names
// (tests/unit/adapter-exports.test.ts), declared once for both majors by public-api/rls-public-api.ts (each
// adapter is checked against it: src/adapters/mikro-orm-<major>/public-api-conformance.ts).
export * from './public-api/rls-public-api';
