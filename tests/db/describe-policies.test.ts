import { describePolicies } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { explorerModel } from '../fixtures/explorer-model';
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

it('compares the tables the role can read when it cannot use one schema: only that schema\'s table is unchecked, and named', async () => {
  // archive.entry lives in a schema the application role was given no USAGE on (explorer-model.ts).
  const hidden = await boot({ entities: explorerModel() });
  try {
    const live = await describePolicies(hidden.app as never, { live: true });
    const unchecked = live.otherWarnings.filter((w) => w.code === 'drift-unchecked');
    expect(unchecked).toHaveLength(1);
    expect(unchecked[0].message).toMatch(/^The declared expressions of archive\.entry \(.*permission denied for schema archive\) could not be put in PostgreSQL's canonical form as this role/);
    expect(unchecked[0].fix).toBe('Grant the role USAGE on the schema and SELECT on the tables, or run the explorer as the owner.');
    // The tables in public are still compared in PostgreSQL's canonical form: no false difference there.
    const inPublic = live.tables.filter((x) => x.schema === 'public');
    expect(inPublic.map((x) => x.name).sort()).toEqual(['invoice', 'ledger']);
    expect(inPublic.flatMap((x) => x.differences)).toEqual([]);
  } finally {
    await hidden.close();
  }
});
