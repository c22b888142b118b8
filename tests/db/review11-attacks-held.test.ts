import type { EventSubscriber, FlushEventArgs } from '@mikro-orm/core';
import { boot, type Booted } from '../fixtures/boot';
import { freshBackends } from '../support/fresh-backends';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { expectNextUsersIsolated } from '../support/next-users-isolated';
import { TEST_ROLES } from '../support/test-roles';
import { streamedRows } from '../support/pool-of-either-major';

// Attacks of the eleventh adversarial review that were refused. Each asserts the secure outcome: after
// the nested bypass step returns or throws, whatever the callback did to savepoints, the caller's
// transaction runs as the application role with its own scope (or is refused), nothing of another
// tenant is changed, and the connection's next users are isolated.

const nested = { propagation: 'nested' } as const;
const whoAmI = `select current_user as who`;
const outcome = <T>(work: Promise<T>) => work.then((value) => JSON.stringify(value), () => 'refused');

/** An onFlush subscriber that, while `hook` is set, runs it with the flushing manager. */
class FlushHook implements EventSubscriber {
  hook?: (args: FlushEventArgs) => Promise<void>;
  async onFlush(args: FlushEventArgs): Promise<void> {
    await this.hook?.(args);
  }
}
const flushHook = new FlushHook();

let t: Booted;
// The name MikroORM gives each savepoint it opens (SAVEPOINT trxN; savepoint "trxN" on v7, perhaps in
// the message of a transaction's start), newest last, as sent on the wire.
const savepoints: string[] = [];
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 2, extra: { subscribers: [flushHook] } });
  t.roundTrips.onSent((sql) => {
    for (const match of sql.matchAll(/(?:^|;\s*)savepoint "?(\w+)"?\s*(?:;|$)/gi)) savepoints.push(match[1]!);
  });
});
/** The newest savepoint's name; an attack on a savepoint that was not seen would attack nothing. */
function lastSavepoint(): string {
  const name = savepoints[savepoints.length - 1];
  if (!name) throw new Error('no savepoint seen on the wire yet');
  return name;
}
beforeEach(async () => {
  flushHook.hook = undefined;
  await freshBackends(t);
  await t.db.query(RESET_SQL);
});
afterAll(() => t?.close());

type Admin = typeof t.app.em;

/** Runs `step` as a nested bypass step of a tenant-1 transaction, then what the caller sees afterwards. */
async function afterStep(step: (admin: Admin) => Promise<unknown>, before?: (tx: Admin) => Promise<unknown>) {
  const seen: string[] = [];
  await t.app.em
    .forkWithRls({ account_id: 1 })
    .transactional(async (tx) => {
      await tx.find(Project, {});
      if (before) await before(tx);
      await tx.bypassRls(step, nested).catch(() => undefined);
      seen.push(await outcome(tx.find(Project, {}, { refresh: true }).then(ids)));
      seen.push(await outcome(tx.execute(whoAmI)));
      seen.push(await outcome(tx.transactional(async (inner) => ids(await inner.find(Project, {}, { refresh: true })))));
      seen.push(await outcome(tx.nativeUpdate(Project, { id: 3 }, { title: 'taken over' })));
    })
    .catch(() => undefined);
  return seen.filter((s) => s !== 'refused');
}

const secure = ['[1,2]', JSON.stringify([{ who: TEST_ROLES.app }]), '0'];

const nextTenantIsolated = () => expectNextUsersIsolated(t, { untouched: true });

it('sees the names of the savepoints MikroORM opens on the wire (the attacks below name them)', async () => {
  const before = savepoints.length;
  await t.app.em.forkWithRls({ account_id: 1 }).transactional((tx) => tx.transactional((inner) => inner.find(Project, {})));
  expect(savepoints.length).toBe(before + 1);
  expect(lastSavepoint()).toMatch(/^trx\d+$/);
});

describe('nested bypass: savepoints the callback opens, releases or forges itself', () => {
  it('admin.transactional() inside the callback (a savepoint it opens and releases)', async () => {
    const seen = await afterStep((admin) => admin.transactional((inner) => inner.count(Project)));
    expect(seen.filter((s) => !secure.includes(s))).toEqual([]);
    await nextTenantIsolated();
  });

  it('admin.begin() then admin.commit() in the callback (a transaction of its own, on another connection: the step savepoint is untouched)', async () => {
    const seen = await afterStep(async (admin) => {
      await admin.begin();
      await admin.count(Project);
      await admin.commit();
      await admin.count(Project);
    });
    expect(seen.filter((s) => !secure.includes(s))).toEqual([]);
    await nextTenantIsolated();
  });

  it("raw RELEASE SAVEPOINT of the step's own savepoint (knex does not know): the switch is restored or the transaction refused", async () => {
    const seen = await afterStep((admin) => admin.execute(`release savepoint ${lastSavepoint()}`));
    expect(seen.filter((s) => !secure.includes(s))).toEqual([]);
    await nextTenantIsolated();
  });

  it("raw RELEASE then SAVEPOINT of the same name (a forged step savepoint over the switch)", async () => {
    const seen = await afterStep(async (admin) => {
      const name = lastSavepoint();
      await admin.execute(`release savepoint ${name}; savepoint ${name}`);
    });
    expect(seen.filter((s) => !secure.includes(s))).toEqual([]);
    await nextTenantIsolated();
  });

  it('raw SAVEPOINT left open by the callback (the step RELEASE ends it with its own)', async () => {
    const seen = await afterStep(
      (admin) => admin.execute('savepoint evil'),
      undefined,
    );
    expect(seen.filter((s) => !secure.includes(s))).toEqual([]);
    await nextTenantIsolated();
  });

  it("raw ROLLBACK TO SAVEPOINT of the caller's own savepoint from inside the step (the caller is a nested transaction)", async () => {
    const seen: string[] = [];
    await t.app.em
      .forkWithRls({ account_id: 1 })
      .transactional(async (top) => {
        await top.find(Project, {});
        await top.transactional(async (tx) => {
          await tx.find(Project, {});
          const callerSavepoint = lastSavepoint();
          await tx.bypassRls((admin) => admin.execute(`rollback to savepoint ${callerSavepoint}`), nested).catch(() => undefined);
          seen.push(await outcome(tx.find(Project, {}, { refresh: true }).then(ids)));
          seen.push(await outcome(tx.execute(whoAmI)));
        }).catch(() => undefined);
        seen.push(await outcome(top.find(Project, {}, { refresh: true }).then(ids)));
        seen.push(await outcome(top.execute(whoAmI)));
      })
      .catch(() => undefined);
    expect(seen.filter((s) => s !== 'refused' && !secure.includes(s))).toEqual([]);
    await nextTenantIsolated();
  });

  it("raw ROLLBACK TO SAVEPOINT of the step's own savepoint, then more bypass work, then return", async () => {
    const seen = await afterStep(async (admin) => {
      await admin.execute(`rollback to savepoint ${lastSavepoint()}`);
      await admin.count(Project);
    });
    expect(seen.filter((s) => !secure.includes(s))).toEqual([]);
    await nextTenantIsolated();
  });

  it("a transaction-local role switch the caller's raw SQL made BEFORE the step (restored by the step) ends with the caller's transaction", async () => {
    await afterStep(
      (admin) => admin.count(Project),
      (tx) => tx.execute(`select pg_catalog.set_config('role', '${TEST_ROLES.bypass}', true)`),
    );
    // The caller's own raw switch is its own business; it must not outlive its transaction.
    await t.db.query(RESET_SQL);
    await nextTenantIsolated();
  });

  it("an onFlush subscriber that opens and ends a savepoint (args.em.transactional) in the step's flush", async () => {
    let once = true;
    flushHook.hook = async (args) => {
      if (!once || !(args.em as Admin).isRlsBypassed) return;
      once = false;
      await args.em.transactional((inner) => inner.count(Project));
    };
    const seen = await afterStep(async (admin) => {
      const p = await admin.findOneOrFail(Project, 3);
      p.title = 'by admin';
    });
    expect(seen.filter((s) => !secure.includes(s))).toEqual([]);
    await t.db.query(`update projects set title = 'p3' where id = 3`);
    await nextTenantIsolated();
  });

  it("an onFlush subscriber that ends the step's savepoint (args.em.commit()) in the step's flush: refused, the transaction rolled back", async () => {
    let once = true;
    flushHook.hook = async (args) => {
      if (!once || !(args.em as Admin).isRlsBypassed || !args.em.isInTransaction()) return;
      once = false;
      await args.em.commit().catch(() => undefined);
    };
    const seen = await afterStep(async (admin) => {
      const p = await admin.findOneOrFail(Project, 3);
      p.title = 'by admin';
    });
    expect(seen.filter((s) => !secure.includes(s))).toEqual([]);
    // The flush, out of the ended savepoint, wrote in a bypass transaction of its own (the admin's own
    // write, as after admin.commit() in the callback): not the tenant's doing.
    await t.db.query(`update projects set title = 'p3' where id = 3`);
    await nextTenantIsolated();
  });

  it('a stream of the callback (knex on 6, a pg cursor on 7), read to the end, over the step savepoint', async () => {
    const seen = await afterStep((admin) => streamedRows(admin.createQueryBuilder(Project).select('id')));
    expect(seen.filter((s) => !secure.includes(s))).toEqual([]);
    await nextTenantIsolated();
  });

  // The race of tests/db/adversary11-sibling-savepoint.test.ts, lost by the attacker: the step sees its ended
  // savepoint and rolls the transaction back before the queued savepoint sends its first query.
  it("a caller savepoint started while the step runs never reads as the bypass role, when the callback's last act is admin.commit()", async () => {
    const seen: { rows?: number[]; error?: string } = {};
    await t.app.em
      .forkWithRls({ account_id: 1 })
      .transactional(async (tx) => {
        await tx.find(Project, {});
        let started!: () => void;
        const stepRunning = new Promise<void>((resolve) => (started = resolve));
        await Promise.all([
          tx
            .bypassRls(async (admin) => {
              started();
              await admin.count(Project);
              await admin.commit();
            }, nested)
            .catch(() => undefined),
          stepRunning.then(() =>
            tx
              .transactional(async (inner) => {
                seen.rows = ids(await inner.find(Project, {}, { refresh: true }));
              })
              .catch((error: Error) => {
                seen.error = error.message;
              }),
          ),
        ]);
      })
      .catch(() => undefined);
    if (seen.error === undefined) expect(seen.rows).toEqual([1, 2]);
    await t.db.query(RESET_SQL);
    await nextTenantIsolated();
  });
});
