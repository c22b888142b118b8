import { describePolicies } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { RESET_SQL, tenantEntities } from '../fixtures/tenant-model';

// describePolicies against real PostgreSQL, as the application role: the declared side, the live side,
// and a difference marked when a policy is altered by hand.

jest.setTimeout(120_000);

let t: Booted;
beforeAll(async () => (t = await boot({ entities: tenantEntities, seedSql: RESET_SQL })));
afterAll(() => t?.close());

it('describes the declared and live policies, and marks a policy altered by hand', async () => {
  const declared = await describePolicies(t.app as never);
  const tasks = declared.tables.find((x) => x.name === 'tasks')!;
  expect(tasks.declared.commands.map((c) => c.state)).toEqual(['allowed', 'allowed', 'allowed', 'allowed']);
  expect(tasks.live).toBeUndefined();
  const same = await describePolicies(t.app as never, { live: true });
  expect(same.tables.flatMap((x) => x.differences)).toEqual([]);
  await t.db.query(`alter policy tenant_all on tasks using (account_id >= (select nullif(current_setting('rls.account_id', true), '')::integer))`);
  try {
    const live = await describePolicies(t.app as never, { live: true });
    const altered = live.tables.find((x) => x.name === 'tasks')!;
    expect(altered.differences.map((d) => [d.kind, d.policy])).toEqual([['differs', 'tenant_all']]);
    expect(altered.live?.commands[0].policies[0].using).toMatch(/>=/);
  } finally {
    await t.db.query(`alter policy tenant_all on tasks using (account_id = (select nullif(current_setting('rls.account_id', true), '')::integer))`);
  }
});
