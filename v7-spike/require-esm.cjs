// Can the package's CommonJS build require() MikroORM 7's ESM-only packages on Node 22.23 (require(esm))?
const results = {};
for (const name of ['@mikro-orm/core', '@mikro-orm/sql', '@mikro-orm/postgresql', '@mikro-orm/migrations', '@mikro-orm/cli', '@mikro-orm/decorators/legacy', '@mikro-orm/decorators/es', 'kysely', 'pg']) {
  try {
    const mod = require(name);
    results[name] = `ok (${Object.keys(mod).length} exports${mod.__esModule ? ', __esModule' : ''})`;
  } catch (error) {
    results[name] = `${error.code ?? error.name}: ${String(error.message).split('\n')[0]}`;
  }
}
console.log(process.version, JSON.stringify(results, null, 2));
const { MikroORM } = require('@mikro-orm/postgresql');
const { EntityManager } = require('@mikro-orm/core');
console.log('MikroORM.init is', typeof MikroORM.init, '; core EntityManager identical via require and import:');
import('@mikro-orm/core').then((m) => console.log('  ', m.EntityManager === EntityManager));
