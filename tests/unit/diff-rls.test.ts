import type { LivePolicy, LiveTableState } from '../../src/core/catalog';
import type { PolicySpec, TableRlsSpec } from '../../src/core/ddl';
import { diffRls } from '../../src/core/diff';

const table = { schema: 'public', name: 'items' };
const select: PolicySpec = { name: 'own_select', permissive: true, command: 'select', roles: ['public'], using: '(owner_id = 1)', withCheck: null };
const managed = (p: PolicySpec): LivePolicy => ({ ...p, managed: true });
const desired = (policies: PolicySpec[], force = true): TableRlsSpec[] => [{ table, force, policies }];
const live = (policies: LivePolicy[], flags = { enabled: true, forced: true }): LiveTableState[] => [{ table, ...flags, policies }];

describe('diffRls', () => {
  it('returns nothing when the live state matches', () => {
    expect(diffRls(desired([select]), live([managed(select)]))).toEqual([]);
  });

  it('enables, forces and creates on a table without RLS, with exact inverses', () => {
    const ops = diffRls(desired([select]), []);
    expect(ops.map((o) => o.description)).toEqual(['enable row level security', 'force row level security', 'create policy own_select']);
    expect(ops[2].up).toEqual([
      'create policy "own_select" on "public"."items" as permissive for select to public using ((owner_id = 1))',
      `comment on policy "own_select" on "public"."items" is 'managed by mikro-orm-rls'`,
    ]);
    expect(ops[2].down).toEqual(['drop policy "own_select" on "public"."items"']);
    expect(ops[0].down).toEqual(['alter table "public"."items" disable row level security']);
  });

  it('alters a policy whose expression, check or roles changed, and restores the old one on the way down', () => {
    const changed = { ...select, using: '(owner_id = 2)' };
    const [op] = diffRls(desired([changed]), live([managed(select)]));
    expect(op.description).toBe('alter policy own_select');
    expect(op.up).toEqual(['alter policy "own_select" on "public"."items" to public using ((owner_id = 2))']);
    expect(op.down).toEqual(['alter policy "own_select" on "public"."items" to public using ((owner_id = 1))']);
    expect(diffRls(desired([{ ...select, roles: ['app'] }]), live([managed(select)]))[0].description).toBe('alter policy own_select');
  });

  it('treats the same roles in another order as unchanged', () => {
    const two = { ...select, roles: ['a', 'b'] };
    expect(diffRls(desired([two]), live([managed({ ...two, roles: ['b', 'a'] })]))).toEqual([]);
  });

  it('drops and recreates when the command or permissive/restrictive changes', () => {
    const restrictive = { ...select, permissive: false };
    const [op] = diffRls(desired([restrictive]), live([managed(select)]));
    expect(op.up[0]).toBe('drop policy "own_select" on "public"."items"');
    expect(op.up[1]).toContain('as restrictive for select');
    expect(op.down[1]).toContain('as permissive for select');
  });

  it('drops managed policies no longer declared and recreates them on the way down', () => {
    const [op] = diffRls(desired([]), live([managed(select)]));
    expect(op.up).toEqual(['drop policy "own_select" on "public"."items"']);
    expect(op.down[0]).toContain('create policy "own_select"');
  });

  it('leaves hand-written policies alone', () => {
    expect(diffRls(desired([]), live([{ ...select, name: 'by_hand', managed: false }]))).toEqual([]);
  });

  it('refuses to take over a hand-written policy of the same name', () => {
    expect(() => diffRls(desired([select]), live([{ ...select, managed: false }]))).toThrow(/was not created by mikro-orm-rls/);
  });

  describe('policies MikroORM 7 created from native declarations (adoptable)', () => {
    const adoptable = (policies: PolicySpec[]): TableRlsSpec[] => [{ table, force: true, policies, adoptable: policies.map((p) => p.name) }];
    const native = (p: PolicySpec, comment: string | null = null): LivePolicy => ({ ...p, managed: false, comment });

    it('takes an unchanged one over with the marker comment, and the way down restores its own comment', () => {
      const [op] = diffRls(adoptable([select]), live([native(select)]));
      expect(op.description).toBe("adopt policy own_select (created by MikroORM's native RLS)");
      expect(op.up).toEqual([`comment on policy "own_select" on "public"."items" is 'managed by mikro-orm-rls'`]);
      expect(op.down).toEqual(['comment on policy "own_select" on "public"."items" is null']);
      expect(diffRls(adoptable([select]), live([native(select, 'tenant rows')]))[0].down).toEqual([`comment on policy "own_select" on "public"."items" is 'tenant rows'`]);
    });

    it('alters a changed one as it takes it over, and the way down undoes both', () => {
      const [op] = diffRls(adoptable([{ ...select, using: '(owner_id = 2)' }]), live([native(select)]));
      expect(op.up).toEqual([
        'alter policy "own_select" on "public"."items" to public using ((owner_id = 2))',
        `comment on policy "own_select" on "public"."items" is 'managed by mikro-orm-rls'`,
      ]);
      expect(op.down).toEqual(['comment on policy "own_select" on "public"."items" is null', 'alter policy "own_select" on "public"."items" to public using ((owner_id = 1))']);
    });

    it('recreates one whose command changed as its own, and the way down restores it without the marker', () => {
      const [op] = diffRls(adoptable([{ ...select, permissive: false }]), live([native(select)]));
      expect(op.up).toEqual([
        'drop policy "own_select" on "public"."items"',
        'create policy "own_select" on "public"."items" as restrictive for select to public using ((owner_id = 1))',
        `comment on policy "own_select" on "public"."items" is 'managed by mikro-orm-rls'`,
      ]);
      expect(op.down).toEqual(['drop policy "own_select" on "public"."items"', 'create policy "own_select" on "public"."items" as permissive for select to public using ((owner_id = 1))']);
    });

    it('still refuses a hand-written policy whose name no native declaration has, and leaves other hand-written ones alone', () => {
      const other = { ...select, name: 'by_hand' };
      expect(() => diffRls([{ table, force: true, policies: [select], adoptable: ['elsewhere'] }], live([native(select)]))).toThrow(/was not created by mikro-orm-rls/);
      expect(diffRls(adoptable([select]), live([native(select), native(other)])).flatMap((op) => op.up).join('\n')).not.toMatch(/by_hand/);
    });
  });

  it('turns FORCE off when the entity opts out', () => {
    const ops = diffRls(desired([select], false), live([managed(select)]));
    expect(ops.map((o) => o.up[0])).toEqual(['alter table "public"."items" no force row level security']);
  });

  it('switches RLS off on a table that no longer declares policies unless hand-written ones remain', () => {
    const ops = diffRls([], live([managed(select)]));
    expect(ops.map((o) => o.description)).toEqual(['drop policy own_select', 'disable row level security', 'no force row level security']);
    const kept = diffRls([], live([managed(select), { ...select, name: 'by_hand', managed: false }]));
    expect(kept.map((o) => o.description)).toEqual(['drop policy own_select']);
  });
});
