import { parseSnapshot, renderedKey, renderedValue, snapshotOf } from '../../src/core/plan/rls-snapshot';
import type { TableRlsSpec } from '../../src/core/ddl';
import { RlsConfigurationError } from '../../src';

// The RLS snapshot stored next to MikroORM's: what it records of a declaration and of PostgreSQL's
// canonical text, and which files it accepts.

const rendered: TableRlsSpec[] = [
  {
    table: { schema: 'public', name: 'note' },
    force: true,
    policies: [
      { name: 'own_select', permissive: true, command: 'select', roles: ['public'], using: 'account_id = x', withCheck: null },
      { name: 'own_update', permissive: false, command: 'update', roles: ['reader'], using: 'account_id = x', withCheck: 'not pinned' },
    ],
  },
  { table: { schema: 'tenant data', name: 'order' }, force: false, policies: [] },
];
const canonical: TableRlsSpec[] = rendered.map((spec) => ({
  ...spec,
  policies: spec.policies.map((p) => ({ ...p, using: `(${p.using})`, rendered: { roles: p.roles, using: p.using, withCheck: p.withCheck } })),
}));

describe('snapshotOf', () => {
  it('records the canonical state as managed policies with RLS enabled, and a fingerprint of each rendered policy', () => {
    const snapshot = snapshotOf(rendered, canonical);
    expect(snapshot.version).toBe(1);
    expect(snapshot.state).toEqual([
      { table: { schema: 'public', name: 'note' }, enabled: true, forced: true, policies: canonical[0].policies.map((p) => ({ ...p, managed: true })) },
      { table: { schema: 'tenant data', name: 'order' }, enabled: true, forced: false, policies: [] },
    ]);
    expect(snapshot.rendered).toEqual({
      '["public","note","own_select"]': '["select",true,["public"],"account_id = x",null]',
      '["public","note","own_update"]': '["update",false,["reader"],"account_id = x","not pinned"]',
    });
  });

  it('lists partitions only when there are any', () => {
    expect(snapshotOf(rendered, canonical)).not.toHaveProperty('partitions');
    expect(snapshotOf(rendered, canonical, []).partitions).toBeUndefined();
    const partitions = [{ schema: 'public', name: 'note_1' }];
    expect(snapshotOf(rendered, canonical, partitions).partitions).toEqual(partitions);
  });
});

describe('renderedKey and renderedValue', () => {
  it('key a policy by schema, table and name, and change with anything its CREATE POLICY depends on', () => {
    expect(renderedKey(rendered[0], 0)).toBe('["public","note","own_select"]');
    const base = renderedValue(rendered[0], 0);
    const variants: Partial<TableRlsSpec['policies'][number]>[] = [
      { command: 'all' },
      { permissive: false },
      { roles: ['reader'] },
      { using: 'account_id = y' },
      { withCheck: 'true' },
    ];
    for (const change of variants) {
      const spec = { ...rendered[0], policies: [{ ...rendered[0].policies[0], ...change }] };
      expect(renderedValue(spec, 0)).not.toBe(base);
      expect(renderedKey(spec, 0)).toBe(renderedKey(rendered[0], 0));
    }
  });

  it('tell apart names that only a naive separator would confuse', () => {
    const a = { ...rendered[0], table: { schema: 'a.b', name: 'c' } };
    const b = { ...rendered[0], table: { schema: 'a', name: 'b.c' } };
    expect(renderedKey(a, 0)).not.toBe(renderedKey(b, 0));
  });
});

describe('parseSnapshot', () => {
  it('reads back what snapshotOf wrote', () => {
    const snapshot = snapshotOf(rendered, canonical, [{ schema: 'public', name: 'note_1' }]);
    expect(parseSnapshot(JSON.stringify(snapshot, null, 2), '/m/.snapshot-db.rls.json')).toEqual(snapshot);
  });

  it.each([
    ['another version', '{"version":2,"state":[],"rendered":{}}'],
    ['no state', '{"version":1,"rendered":{}}'],
    ['no fingerprints', '{"version":1,"state":[]}'],
    ['null fingerprints', '{"version":1,"state":[],"rendered":null}'],
    ['JSON null', 'null'],
    ['not JSON (a merge conflict)', '<<<<<<< HEAD\n{"version":1,"state":[],"rendered":{}}\n=======\n'],
  ])('refuses %s with a configuration error that names the file and the way out', (_, json) => {
    const parse = () => parseSnapshot(json, '/m/.snapshot-db.rls.json');
    expect(parse).toThrow(RlsConfigurationError);
    expect(parse).toThrow(/\/m\/\.snapshot-db\.rls\.json .*delete it to compare with the database instead/);
  });
});
