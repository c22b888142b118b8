import { Command, ConditionArg, Permissive, Restrictive, column, sql } from '../../src';
import {
  compileTablePolicies,
  createPolicySql,
  fitIdentifier,
  forceRowLevelSecuritySql,
  quoteIdent,
  quoteLiteral,
  renderVariable,
} from '../../src/core/ddl';

const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
const items = { schema: 'public', name: 'items' };

describe('rendering policies', () => {
  it('renders one policy per command with USING and WITH CHECK where each command takes them', () => {
    const spec = compileTablePolicies(
      items,
      [Permissive({ conditionArgs: [accountId], cmd: [Command.select, Command.insert, Command.update, Command.delete, Command.all], customPolicyName: 'own' })],
      { prefix: 'rls', force: true },
    );
    const byCommand = Object.fromEntries(spec.policies.map((p) => [p.command, p]));
    const expr = `"account_id" = (select nullif(current_setting('rls.account_id', true), '')::integer)`;
    expect(byCommand.select).toMatchObject({ name: 'own_select', using: expr, withCheck: null });
    expect(byCommand.delete).toMatchObject({ name: 'own_delete', using: expr, withCheck: null });
    expect(byCommand.insert).toMatchObject({ name: 'own_insert', using: null, withCheck: expr });
    expect(byCommand.update).toMatchObject({ name: 'own_update', using: expr, withCheck: expr });
    expect(byCommand.all).toMatchObject({ name: 'own_all', using: expr, withCheck: expr });
  });

  it('uses a separate withCheck expression when declared', () => {
    const spec = compileTablePolicies(
      items,
      [
        Permissive({
          conditionArgs: [accountId],
          cmd: Command.update,
          customExpr: (id) => sql`${column('owner_id')} = ${id}`,
          withCheck: (id) => sql`${column('owner_id')} = ${id} and ${column('locked')} = false`,
        }),
      ],
      { prefix: 'app', force: true },
    );
    expect(spec.policies[0].using).toBe(`"owner_id" = (select nullif(current_setting('app.account_id', true), '')::integer)`);
    expect(spec.policies[0].withCheck).toContain(`and "locked" = false`);
  });

  it('renders the full CREATE POLICY statement with quoted names and roles', () => {
    const spec = compileTablePolicies(
      { schema: 'My Schema', name: 'user' },
      [Restrictive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'tenant "guard"', to: ['app', 'public'] })],
      { prefix: 'rls', force: true },
    );
    expect(createPolicySql(spec.table, spec.policies[0])).toBe(
      `create policy "tenant ""guard""_select" on "My Schema"."user" as restrictive for select to "app", public ` +
        `using ("account_id" = (select nullif(current_setting('rls.account_id', true), '')::integer))`,
    );
    expect(forceRowLevelSecuritySql(spec.table, false)).toBe('alter table "My Schema"."user" no force row level security');
  });

  it('reads a variable once per statement and a missing one as NULL', () => {
    expect(renderVariable('rls', ConditionArg({ comparatorName: 'tenant', type: 'uuid' }))).toBe(
      `(select nullif(current_setting('rls.tenant', true), '')::uuid)`,
    );
  });

  it('names policies without a custom name by table, kind and position', () => {
    const spec = compileTablePolicies(
      items,
      [Permissive({ conditionArgs: [accountId], cmd: Command.select }), Restrictive({ conditionArgs: [accountId], cmd: Command.all })],
      { prefix: 'rls', force: true },
    );
    expect(spec.policies.map((p) => p.name)).toEqual(['items_permissive_1_select', 'items_restrictive_2_all']);
  });

  it('rejects two policies that would get the same name', () => {
    const p = Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'dup' });
    expect(() => compileTablePolicies(items, [p, p], { prefix: 'rls', force: true })).toThrow(/would both be named "dup_select"/);
  });

  it('rejects a column the table does not have, naming the columns it has', () => {
    const p = Permissive({ conditionArgs: [accountId], cmd: Command.select, customExpr: (id) => sql`${column('ownerid')} = ${id}` });
    expect(() => compileTablePolicies(items, [p], { prefix: 'rls', force: true, columns: ['id', 'owner_id'] })).toThrow(
      /references column "ownerid".*Its columns are: id, owner_id/,
    );
  });

  it('renders literals safely whatever standard_conforming_strings says', () => {
    expect(quoteLiteral("o'hara")).toBe("'o''hara'");
    expect(quoteLiteral('a\\b')).toBe("E'a\\\\b'");
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    expect(() => quoteIdent('')).toThrow();
  });
});

describe('policy names', () => {
  it('keeps names of up to 63 bytes unchanged', () => {
    const name = 'a'.repeat(63);
    expect(fitIdentifier(name)).toBe(name);
  });

  it('shortens longer names deterministically to at most 63 bytes with a hash', () => {
    const long = 'tenant_isolation_policy_for_the_very_long_table_name_select_extra';
    const fitted = fitIdentifier(long);
    expect(Buffer.byteLength(fitted)).toBeLessThanOrEqual(63);
    expect(fitted).toBe(fitIdentifier(long));
    expect(fitted).toMatch(/^tenant_isolation_policy_for_the_very_long_table_name_s_[0-9a-f]{8}$/);
    expect(fitIdentifier(long + '2')).not.toBe(fitted);
  });

  it('never splits a multi-byte character when shortening', () => {
    const fitted = fitIdentifier('ü'.repeat(40));
    expect(Buffer.byteLength(fitted)).toBeLessThanOrEqual(63);
    expect(fitted).toMatch(/^ü+_[0-9a-f]{8}$/);
  });
});
