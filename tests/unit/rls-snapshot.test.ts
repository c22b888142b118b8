import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSnapshot, serializeSnapshot, snapshotOf } from '../../src/core/plan/rls-snapshot';
import type { TableRlsSpec } from '../../src/core/ddl';
import { RlsConfigurationError } from '../../src';

// The RLS snapshot stored next to MikroORM's: what it records of a declaration, how the file reads, and
// which files it accepts, the version 1 files of earlier versions included.

const declared: TableRlsSpec[] = [
  {
    table: { schema: 'public', name: 'note' },
    force: true,
    policies: [
      { name: 'own_select', permissive: true, command: 'select', roles: ['public'], using: 'account_id = x', withCheck: null },
      { name: 'own_insert', permissive: false, command: 'insert', roles: ['reader', 'writer'], using: null, withCheck: 'not "pinned"' },
    ],
  },
  { table: { schema: 'tenant data', name: 'order' }, force: false, policies: [] },
  { table: { schema: 'public', name: 'note_1' }, force: true, policies: [] },
];
const partitions = [{ schema: 'public', name: 'note_1' }];

describe('snapshotOf', () => {
  it('records the declared policies as managed, with RLS enabled on every table, and the partitions', () => {
    const snapshot = snapshotOf(declared, partitions);
    expect(snapshot.state).toEqual(declared.map((spec) => ({ table: spec.table, enabled: true, forced: spec.force, policies: spec.policies.map((p) => ({ ...p, managed: true })) })));
    expect(snapshot.partitions).toEqual(partitions);
  });

  it('records the rendered text of a policy that carries PostgreSQL canonical text beside it', () => {
    const canonical = { ...declared[0].policies[0], using: '(account_id = x)', rendered: { roles: ['public'], using: 'account_id = x', withCheck: null } };
    const [note] = snapshotOf([{ ...declared[0], policies: [canonical] }]).state;
    expect(note.policies).toEqual([{ ...declared[0].policies[0], managed: true }]);
  });
});

describe('serializeSnapshot', () => {
  it('writes one line per policy and leaves out empty clauses', () => {
    expect(serializeSnapshot(snapshotOf(declared, partitions))).toBe(
      [
        '{',
        '  "version": 2,',
        '  "tables": [',
        '    { "schema": "public", "table": "note", "force": true, "policies": [',
        '      { "name": "own_select", "command": "select", "permissive": true, "roles": ["public"], "using": "account_id = x" },',
        '      { "name": "own_insert", "command": "insert", "permissive": false, "roles": ["reader", "writer"], "withCheck": "not \\"pinned\\"" }',
        '    ] },',
        '    { "schema": "tenant data", "table": "order", "force": false, "policies": [] },',
        '    { "schema": "public", "table": "note_1", "partition": true, "force": true, "policies": [] }',
        '  ]',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('writes an empty state as an empty list', () => {
    expect(JSON.parse(serializeSnapshot(snapshotOf([])))).toEqual({ version: 2, tables: [] });
  });
});

describe('parseSnapshot', () => {
  it('reads back what serializeSnapshot wrote', () => {
    const snapshot = snapshotOf(declared, partitions);
    expect(parseSnapshot(serializeSnapshot(snapshot), '/m/.snapshot-db.rls.json')).toEqual(snapshot);
  });

  it('reads a version 1 file, as version 0.1 wrote it, as the rendered text of its policies', () => {
    // tests/fixtures/snapshots: written by `migration:create --initial` of version 0.1 (commit cf940b5)
    // for the notes-and-orders model (tests/fixtures/notes-and-orders-model.ts).
    const v1 = readFileSync(join(__dirname, '..', 'fixtures', 'snapshots', 'v1-notes-and-orders.rls.json'), 'utf8');
    const own = `"account_id" = (select nullif(current_setting('rls.account_id', true), '')::integer)`;
    const policy = (name: string, command: string, using: string | null, withCheck: string | null) => ({ name, permissive: true, command, roles: ['public'], using, withCheck, managed: true });
    expect(parseSnapshot(v1, '/m/.snapshot-db.rls.json')).toEqual({
      state: [
        { table: { schema: 'tenant data', name: 'order' }, enabled: true, forced: true, policies: [policy('tenant_isolation_for_orders_in_a_schema_whose_name_has_260f0aeb', 'all', own, own)] },
        { table: { schema: 'public', name: 'note' }, enabled: true, forced: true, policies: [policy('own_select', 'select', own, null), policy('own_update', 'update', own, own)] },
      ],
      partitions: [],
    });
  });

  it('reads the partitions of a version 1 file, and a version 1 policy without rendered text as its canonical text', () => {
    const v1 = {
      version: 1,
      state: [{ table: { schema: 'public', name: 'items_t1' }, enabled: true, forced: false, policies: [{ name: 'p', permissive: true, command: 'all', roles: ['public'], using: '(a = 1)', withCheck: '(a = 1)', managed: true }] }],
      rendered: {},
      partitions: [{ schema: 'public', name: 'items_t1' }],
    };
    expect(parseSnapshot(JSON.stringify(v1), '/m/.snapshot-db.rls.json')).toEqual({ state: v1.state, partitions: v1.partitions });
  });

  it.each([
    ['another version', '{"version":3,"tables":[]}'],
    ['version 2 without tables', '{"version":2}'],
    ['version 2 with a policy of an unknown command', '{"version":2,"tables":[{"schema":"public","table":"t","force":true,"policies":[{"name":"p","command":"merge","permissive":true,"roles":["public"]}]}]}'],
    ['version 2 with a table without its flag', '{"version":2,"tables":[{"schema":"public","table":"t","policies":[]}]}'],
    ['version 1 without state', '{"version":1,"rendered":{}}'],
    ['version 1 without fingerprints', '{"version":1,"state":[]}'],
    ['version 1 with null fingerprints', '{"version":1,"state":[],"rendered":null}'],
    ['JSON null', 'null'],
    ['not JSON (a merge conflict)', '<<<<<<< HEAD\n{"version":2,"tables":[]}\n=======\n'],
  ])('refuses %s with a configuration error that names the file and the way out', (_, json) => {
    const parse = () => parseSnapshot(json, '/m/.snapshot-db.rls.json');
    expect(parse).toThrow(RlsConfigurationError);
    expect(parse).toThrow(/\/m\/\.snapshot-db\.rls\.json .*delete it to compare with the database instead/);
  });
});
