// Does Jest (CommonJS mode, as the repo runs it) load MikroORM 7's ESM-only packages through require()?
test('require(@mikro-orm/core) inside Jest', () => {
  const { EntityManager } = require('@mikro-orm/core');
  expect(typeof EntityManager).toBe('function');
});
