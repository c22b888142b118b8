import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

// Forks of the same scope share what holds no state of a fork's (on MikroORM 7, the connection views of
// the most recent scopes, src/adapters/mikro-orm-7/wire/scoped-driver.ts). Whatever is shared, every fork
// runs with its own context: many tenants in a row (more than the 1,000 views kept, so the oldest are
// dropped and made again), interleaved forks of two tenants, and a bypass fork between them.

const setting = "select current_setting('rls.account_id', true) as v";
let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 4 });
});
afterAll(() => t?.close());

it('each of 1,100 tenants in a row, then the first ones again, runs with its own context', async () => {
  const tenants = [...Array.from({ length: 1_100 }, (_, i) => i + 1), 1, 2, 3];
  for (let start = 0; start < tenants.length; start += 50) {
    const batch = tenants.slice(start, start + 50);
    const seen = await Promise.all(batch.map((id) => t.app.em.forkWithRls({ account_id: id }).execute<{ v: string }[]>(setting)));
    expect(seen.map(([row]) => row!.v)).toEqual(batch.map(String));
  }
});

it('interleaved forks of two tenants, and a bypass fork among them, each read their own rows', async () => {
  const rounds = await Promise.all(
    Array.from({ length: 30 }, async (_, i) => {
      const [one, two] = [t.app.em.forkWithRls({ account_id: 1 }), t.app.em.forkWithRls({ account_id: 2 })];
      const admin = i % 3 === 0 ? ids(await t.app.em.bypassRls((em) => em.find(Project, {}))) : [1, 2, 3, 4];
      return [ids(await one.find(Project, {})), ids(await two.find(Project, {})), admin];
    }),
  );
  for (const round of rounds) expect(round).toEqual([[1, 2], [3, 4], [1, 2, 3, 4]]);
});
