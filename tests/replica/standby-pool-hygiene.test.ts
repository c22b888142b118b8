import { raw } from '@mikro-orm/core';
import { bootWithStandbyForThisFile } from '../fixtures/boot-with-standby';
import { Project } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { rawPooledQuery } from '../support/pool-of-either-major';
import { TEST_ROLES } from '../support/test-roles';

// After scoped or bypass work on the hot standby, the standby's pooled connection carries no trace of
// the context or the role switch, as tests/db/pool-hygiene.test.ts proves for the primary. The pools
// have one connection each, so the "next query" reuses the backend the work ran on.

const booted = bootWithStandbyForThisFile();

/** The state of the standby's own (unscoped) pooled connection, taken straight from its pool. */
async function standbyConnection() {
  const [row] = await rawPooledQuery<{ standby: boolean; pid: number; user: string; role: string; account: string; projects: number }>(
    booted.orm,
    `select pg_is_in_recovery() as standby, pg_backend_pid() as pid, current_user as "user", current_setting('role') as role,
            coalesce(current_setting('rls.account_id', true), '') as account, (select count(*)::int from projects) as projects`,
    'read',
  );
  return row!;
}

const CLEAN = { standby: true, user: TEST_ROLES.app, role: 'none', account: '', projects: 0 };

it.each([
  ['a scoped find', () => booted.orm.em.forkWithRls({ account_id: 1 }).find(Project, {})],
  ['a scoped count', () => booted.orm.em.forkWithRls({ account_id: 2 }).count(Project, {})],
  ['a scoped find that fails', () => booted.orm.em.forkWithRls({ account_id: 1 }).find(Project, { [raw('1 / 0')]: 1 }).catch(() => undefined)],
  ['a statement on the scoped read connection', () => booted.orm.em.forkWithRls({ account_id: 1 }).getConnection('read').execute('select count(*) from projects')],
  ['a bypass fork find', () => booted.orm.em.bypassRls().find(Project, {})],
])('%s on the standby leaves no context and no role on its pooled connection', async (_label, work) => {
  const before = await standbyConnection();
  expect(before).toMatchObject(CLEAN);
  await work();
  expect(await standbyConnection()).toEqual({ ...CLEAN, pid: before.pid });
});

it('after two tenants and a bypass read on the standby, an unscoped read there sees nothing', async () => {
  expect(ids(await booted.orm.em.forkWithRls({ account_id: 1 }).find(Project, {}))).toEqual([1, 2]);
  expect(ids(await booted.orm.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
  expect(ids(await booted.orm.em.bypassRls().find(Project, {}))).toEqual([1, 2, 3, 4]);
  const plain = booted.orm.em.fork();
  expect(ids(await plain.find(Project, {}))).toEqual([]);
  const [state] = await plain
    .getConnection('read')
    .execute(`select pg_is_in_recovery() as standby, current_user as "user", coalesce(current_setting('rls.account_id', true), '') as account, (select count(*)::int from projects) as projects`);
  expect(state).toEqual({ standby: true, user: TEST_ROLES.app, account: '', projects: 0 });
});
