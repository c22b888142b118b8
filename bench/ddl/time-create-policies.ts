import { performance } from 'node:perf_hooks';
import { join, resolve } from 'node:path';

// `node -r ts-node/register/transpile-only bench/ddl/time-create-policies.ts <checkout> <ownerUrl> [tables]`:
// createPolicies fresh and with nothing to change, once each, with the code, MikroORM and fixtures of
// another checkout (say /work/main) or this one: a before/after of one change in the same run, without
// the whole DDL section (bench/ddl/ddl-section.ts, three rounds of 1,000 and 3,000 tables). MikroORM 6.

async function main(): Promise<void> {
  const [checkout, ownerUrl, size = '1000'] = process.argv.slice(2);
  if (!checkout || !ownerUrl) throw new Error('Usage: time-create-policies.ts <checkout> <ownerUrl> [tables]: name a checkout of mikro-orm-rls and an owner-role URL.');
  const root = resolve(checkout);
  const tables = Number(size);
  const { MikroORM } = await import(join(root, 'node_modules/@mikro-orm/postgresql'));
  const { createPolicies, withRls } = await import(join(root, 'src'));
  const { manyTableEntities, recreateTables } = await import(join(root, 'tests/fixtures/many-tables'));
  await recreateTables(ownerUrl, tables, 0);
  const orm = await MikroORM.init(withRls({ clientUrl: ownerUrl, entities: manyTableEntities(tables), pool: { min: 0, max: 2 } }));
  try {
    for (const run of ['fresh', 'no change']) {
      const start = performance.now();
      const operations = (await createPolicies(orm)).length;
      console.log(`${root} ${tables} tables ${run}: ${((performance.now() - start) / 1000).toFixed(2)} s, ${operations} operations`);
    }
  } finally {
    await orm.close(true);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
