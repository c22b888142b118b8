import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { TEST_ROLES } from '../support/test-roles';

// A plain transaction that an application's onQuery hook begins while a tenant's statement runs. Found by
// the adversarial review of the MikroORM 7 adapter: its BEGIN inherited the tenant's scope (the scope's
// AsyncLocalStorage covered MikroORM's whole execute), so it was refused, and the review saw its
// connection never given back (a pool of 1 hung everything after it; by the time of the fix a failed
// BEGIN destroyed its connection already). Now the hook runs outside the scope and its transaction runs
// (see hook-work-outside-scope.test.ts). In a file of its own: a leak would hang what follows it.

const whoAmI = 'select current_user as who';
const outcome = <T>(work: PromiseLike<T>) => Promise.resolve(work).then((value) => JSON.stringify(value), (e: Error) => `refused: ${e.message.slice(0, 60)}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const within = <T>(work: PromiseLike<T>, ms = 2000) => Promise.race([Promise.resolve(work), sleep(ms).then(() => { throw new Error('hung: waited for the pool'); })]);
let onQueryHook: ((sql: string) => void) | undefined;

let t: Booted;
beforeAll(async () => {
  t = await boot({
    entities: tenantEntities,
    seedSql: RESET_SQL,
    poolSize: 1,
    extra: { onQuery: (sql: string) => (onQueryHook?.(sql), sql) } as never,
  });
});
// Should the pool's only connection never be given back, close() would wait for it for ever.
afterAll(() => within(t?.close() ?? Promise.resolve(), 5000).catch(() => undefined));

it("a plain transaction begun by an onQuery hook during tenant 1's query runs as the application role, and the pool of 1 serves the next request", async () => {
  const plain = t.app.em.fork();
  let started: Promise<string> | undefined;
  onQueryHook = (sql) => {
    if (!started && sql.includes('from "projects"')) started = outcome(within(plain.transactional((tx) => tx.execute(whoAmI)), 5000));
  };
  await t.app.em.forkWithRls({ account_id: 1 }).find(Project, {});
  onQueryHook = undefined;
  const seen = await started!;
  // Secure and available: the next request gets a connection.
  const next = await outcome(within(t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}).then(ids), 5000));
  // The hook's transaction is its own, plain one: it runs as the application role (it was refused on
  // MikroORM 7 while the hook inherited tenant 1's scope, which its BEGIN would have kept).
  expect({ seen, next }).toEqual({ seen: JSON.stringify([{ who: TEST_ROLES.app }]), next: '[3,4]' });
});

