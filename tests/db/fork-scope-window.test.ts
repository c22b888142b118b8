import type { EventSubscriber, MikroORM as CoreMikroORM, Options } from '@mikro-orm/core';
import { MikroORM, type PostgreSqlDriver } from '@mikro-orm/postgresql';
import { RlsEntityManager, withRls } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { TEST_ROLES } from '../support/test-roles';

// Managers built while forkWithRls / bypassRls build their fork. Found by the eighth review: with the
// scoped driver handed to the RlsEntityManager constructor through a module-level slot, a manager user
// code built in that window (a subscriber's getSubscribedEntities() with freshEventManager or
// cloneEventManager, the code before super() in an options.entityManager subclass), even one of ANOTHER
// ORM, took the scoped or bypass driver. The fork is now built from a view of the parent that only
// MikroORM's fork() reads.

type Orm = CoreMikroORM<PostgreSqlDriver, RlsEntityManager>;

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL });
});
afterAll(() => t?.close());

async function ormAt(extra: Partial<Options<PostgreSqlDriver>> = {}): Promise<Orm> {
  return (await MikroORM.init(
    withRls({ entities: tenantEntities, clientUrl: t.db.appUrl, allowGlobalContext: true, ensureDatabase: false, pool: { min: 0, max: 2 }, ...extra }, { bypassRole: t.db.roles.bypass }),
  )) as never;
}

it('an unscoped fork made by a subscriber while a forkWithRls fork is built (freshEventManager) has no scope', async () => {
  let orm: Orm | undefined;
  const madeBySubscriber: RlsEntityManager[] = [];
  // A subscriber that keeps a manager of its own, made the first time its entities are asked for.
  class Auditing implements EventSubscriber {
    getSubscribedEntities() {
      if (orm) madeBySubscriber.push(orm.em.fork());
      return [Project];
    }
  }
  orm = await ormAt({ subscribers: [new Auditing()] });
  try {
    const scoped = (() => {
      try {
        return orm.em.forkWithRls({ account_id: 1 }, { freshEventManager: true });
      } catch {
        return undefined;
      }
    })();
    if (scoped) expect(ids(await scoped.find(Project, {}))).toEqual([1, 2]);
    // orm.em.fork() has no context: it sees no row of an RLS table.
    expect(madeBySubscriber.map((em) => em.rlsContext)).toEqual(madeBySubscriber.map(() => undefined));
    for (const em of madeBySubscriber) expect(ids(await em.find(Project, {}))).toEqual([]);
  } finally {
    await orm.close(true);
  }
});

it("a manager of ANOTHER ORM built in an entityManager subclass constructor while bypassRls() is forked is not the bypass role", async () => {
  // A second RLS ORM of the application (say, for audit records), and the main ORM's entity manager
  // subclass, which gives each manager a manager of the audit ORM.
  const audit = await ormAt();
  const auditManagers: RlsEntityManager[] = [];
  class AppEntityManager extends RlsEntityManager {
    constructor(...args: ConstructorParameters<typeof RlsEntityManager>) {
      const auditEm = audit.em.fork();
      super(...args);
      auditManagers.push(auditEm);
    }
  }
  const app = await ormAt({ entityManager: AppEntityManager as never });
  try {
    auditManagers.length = 0;
    try {
      app.em.bypassRls();
    } catch {
      // Refused (fail closed) is fine for the bypass fork itself.
    }
    expect(auditManagers.length).toBeGreaterThan(0);
    for (const em of auditManagers) {
      // An unscoped manager of the audit ORM: the application role, no row of an RLS table.
      expect(await em.execute('select current_user as who')).toEqual([{ who: TEST_ROLES.app }]);
      expect(ids(await em.find(Project, {}))).toEqual([]);
      expect(em.isRlsBypassed).toBe(false);
    }
  } finally {
    await app.close(true);
    await audit.close(true);
  }
});

it('a fork of the same ORM made in a subclass constructor while forkWithRls() builds a fork has no scope', async () => {
  let orm: Orm | undefined;
  const side: RlsEntityManager[] = [];
  let building = false;
  class AppEntityManager extends RlsEntityManager {
    constructor(...args: ConstructorParameters<typeof RlsEntityManager>) {
      // e.g. a lazily created "system" manager of the application, forked from the global one (once).
      let system: RlsEntityManager | undefined;
      if (orm && !building && side.length === 0) {
        building = true;
        system = orm.em.fork();
        building = false;
      }
      super(...args);
      if (system) side.push(system);
    }
  }
  orm = await ormAt({ entityManager: AppEntityManager as never });
  try {
    try {
      orm.em.forkWithRls({ account_id: 1 });
    } catch {
      // Refused (fail closed) is fine for the scoped fork itself.
    }
    expect(side.length).toBe(1);
    expect(side.map((em) => em.rlsContext)).toEqual([undefined]);
    expect(ids(await side[0].find(Project, {}))).toEqual([]);
  } finally {
    await orm.close(true);
  }
});
