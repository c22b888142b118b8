import type { Options } from '@mikro-orm/core';
import { MikroORM, type PostgreSqlDriver } from '@mikro-orm/postgresql';
import { RlsConfigurationError, withRls, type RlsEntityManager, type RlsOptions } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { urlFor } from '../support/test-database';

// The first scoped query of an ORM checks, once per connection, that the role it connects as is subject
// to the policies: a superuser, a BYPASSRLS role, or (a member of) the owner of a table without FORCE
// would silently see every row.

jest.setTimeout(120_000);

const BYPASSER = 'rls_test_check_bypasser';
const MEMBER = 'rls_test_check_owner_member';
const CHECK = /mikro-orm-rls role check/;

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL });
  // Cluster-wide roles, created race-free (other test files may run this at the same time).
  for (const [role, attributes] of [[BYPASSER, 'LOGIN NOSUPERUSER BYPASSRLS'], [MEMBER, 'LOGIN NOSUPERUSER NOBYPASSRLS INHERIT']]) {
    await t.db.query(`DO $$ BEGIN CREATE ROLE ${role}; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await t.db.query(`ALTER ROLE ${role} ${attributes} PASSWORD '${role}'`);
  }
  await t.db.query(`GRANT ${t.db.roles.owner} TO ${MEMBER}; GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${BYPASSER}`);
});
afterAll(() => t?.close());

interface Orm {
  em: RlsEntityManager;
  queries: string[];
  close(): Promise<void>;
}

const urlAs = (role?: string) => urlFor(t.db.superUrl, t.db.name, role);

/** A fresh ORM (so nothing is cached yet) connected as `url`, with its own query log. */
async function ormAt(url: string, rls: RlsOptions = {}, extra: Partial<Options<PostgreSqlDriver>> = {}): Promise<Orm> {
  const queries: string[] = [];
  const orm = await MikroORM.init(
    withRls(
      { entities: tenantEntities, clientUrl: url, debug: ['query'], colors: false, logger: (m: string) => queries.push(m), ...extra },
      { bypassRole: t.db.roles.bypass, ...rls },
    ),
  );
  return { em: orm.em as unknown as RlsEntityManager, queries, close: () => orm.close(true) };
}

async function using<T>(orm: Promise<Orm>, work: (orm: Orm) => Promise<T>): Promise<T> {
  const opened = await orm;
  try {
    return await work(opened);
  } finally {
    await opened.close();
  }
}

const checks = (orm: Orm) => orm.queries.filter((q) => CHECK.test(q)).length;

// Every way a scoped fork reaches the database first.
const paths: [string, (em: RlsEntityManager) => Promise<unknown>][] = [
  ['a find outside a transaction', (em) => em.forkWithRls({ account_id: 1 }).find(Project, {})],
  ['an execute outside a transaction', (em) => em.forkWithRls({ account_id: 1 }).execute('select 1')],
  ['em.transactional', (em) => em.forkWithRls({ account_id: 1 }).transactional((tx) => tx.count(Project))],
  ['em.begin', async (em) => {
    const fork = em.forkWithRls({ account_id: 1 });
    await fork.begin();
    await fork.rollback();
  }],
  ['a bypass fork', (em) => em.bypassRls().count(Project)],
];

describe.each(paths)('%s', (_label, work) => {
  it('is refused for a superuser, naming the role, the problem and the fix', async () => {
    await using(ormAt(urlAs()), async (orm) => {
      const error = await work(orm.em).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RlsConfigurationError);
      expect((error as Error).message).toMatch(/connects as "postgres", which is a superuser/);
      // postgres is both; the two read as one phrase (it read "is a superuser; and has BYPASSRLS")
      expect((error as Error).message).toContain('which is a superuser and has BYPASSRLS. Row-level security');
      expect((error as Error).message).toMatch(/Connect as the application role .*README's security model/);
      expect((error as Error).message).toMatch(/strict: false/);
    });
  });
});

it('refuses a role with BYPASSRLS', async () => {
  await using(ormAt(urlAs(BYPASSER)), async (orm) => {
    await expect(orm.em.forkWithRls({ account_id: 1 }).find(Project, {})).rejects.toThrow(
      new RegExp(`connects as "${BYPASSER}", which has BYPASSRLS`),
    );
  });
});

it('refuses the owner of a table with row-level security but without FORCE, naming the table and the ALTER TABLE that fixes it', async () => {
  await t.db.query('alter table projects no force row level security');
  try {
    await using(ormAt(t.db.ownerUrl), async (orm) => {
      const error = await orm.em.forkWithRls({ account_id: 1 }).find(Project, {}).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RlsConfigurationError);
      expect((error as Error).message).toMatch(/connects as "rls_test_owner", which owns public\.projects, which has row-level security without FORCE ROW LEVEL SECURITY/);
      expect((error as Error).message).toMatch(/ALTER TABLE "public"\."projects" FORCE ROW LEVEL SECURITY/);
      expect((error as Error).message).not.toMatch(/public\.tasks/);
    });
  } finally {
    await t.db.query('alter table projects force row level security');
  }
});

it('refuses a member that inherits the privileges of the owner of a table without FORCE', async () => {
  await t.db.query('alter table tasks no force row level security');
  try {
    await using(ormAt(urlAs(MEMBER)), async (orm) => {
      await expect(orm.em.forkWithRls({ account_id: 1 }).count(Project)).rejects.toThrow(
        new RegExp(`connects as "${MEMBER}", which owns public\\.tasks \\(through its membership in "rls_test_owner"\\)`),
      );
    });
  } finally {
    await t.db.query('alter table tasks force row level security');
  }
});

it('lets the owner of tables that all have FORCE run scoped queries, which see only their rows', async () => {
  // No bypassRole: the owner is no member of the test's bypass role, which the check would refuse.
  await using(ormAt(t.db.ownerUrl, { bypassRole: undefined }), async (orm) => {
    expect((await orm.em.forkWithRls({ account_id: 2 }).find(Project, {}, { orderBy: { id: 'asc' } })).map((p) => p.id)).toEqual([3, 4]);
  });
});

it('lets the application role run scoped queries, after one check shared by concurrent first queries', async () => {
  await using(ormAt(t.db.appUrl), async (orm) => {
    const counts = await Promise.all([1, 2, 1, 2].map((account) => orm.em.forkWithRls({ account_id: account }).count(Project)));
    expect(counts).toEqual([2, 2, 2, 2]);
    await orm.em.forkWithRls({ account_id: 1 }).transactional((em) => em.find(Project, {}));
    await orm.em.bypassRls((em) => em.count(Project));
    expect(checks(orm)).toBe(1);
  });
});

it('checks once for the whole ORM, also in the shared test boot', async () => {
  await t.app.em.forkWithRls({ account_id: 1 }).find(Project, {});
  await t.app.em.forkWithRls({ account_id: 2 }).transactional((em) => em.count(Project));
  expect(t.queries.filter((q) => CHECK.test(q))).toHaveLength(1);
});

it('skips the check with strict: false', async () => {
  await using(ormAt(urlAs(), { strict: false }), async (orm) => {
    expect(await orm.em.forkWithRls({ account_id: 1 }).count(Project)).toBe(4);
    expect(checks(orm)).toBe(0);
  });
});

it('means the same with strict: true as by default', async () => {
  await using(ormAt(urlAs(BYPASSER), { strict: true }), async (orm) => {
    await expect(orm.em.forkWithRls({ account_id: 1 }).count(Project)).rejects.toThrow(/has BYPASSRLS/);
  });
});

it('checks each read replica a scoped query goes to, as the role that replica connects as', async () => {
  await using(ormAt(t.db.appUrl, {}, { replicas: [{ clientUrl: urlAs() }] }), async (orm) => {
    const fork = orm.em.forkWithRls({ account_id: 1 });
    // In a transaction, MikroORM uses the primary: the application role, which passes.
    expect(await fork.transactional((em) => em.count(Project))).toBe(2);
    // Outside one, reads go to the replica, which connects as a superuser.
    await expect(fork.count(Project)).rejects.toThrow(/connects as "postgres", which is a superuser/);
  });
});

it('reports a check that fails, refuses the scoped query, and checks again on the next one', async () => {
  await t.db.query('revoke select on pg_catalog.pg_roles from public');
  let error: unknown;
  try {
    await using(ormAt(t.db.appUrl), async (orm) => {
      error = await orm.em.forkWithRls({ account_id: 1 }).count(Project).catch((e: unknown) => e);
      await t.db.query('grant select on pg_catalog.pg_roles to public');
      expect(await orm.em.forkWithRls({ account_id: 1 }).count(Project)).toBe(2);
      expect(checks(orm)).toBe(2);
    });
  } finally {
    await t.db.query('grant select on pg_catalog.pg_roles to public');
  }
  expect(error).toBeInstanceOf(RlsConfigurationError);
  expect((error as Error).message).toMatch(/could not check the role this ORM connects as, so it runs no scoped query: permission denied for view pg_roles\. /);
});

it('does not check for unscoped forks, which are not meant to be isolated', async () => {
  await using(ormAt(urlAs()), async (orm) => {
    expect(await orm.em.fork().count(Project)).toBe(4);
    expect(checks(orm)).toBe(0);
  });
});

// withRls's bypassRole is checked with the role, once per connection: a typo was found only at the first
// bypassRls(), as the driver's "role "app_bypas" does not exist".
describe('the bypass role', () => {
  const NOT_BYPASSING = 'rls_test_check_plain_bypass';

  it('refuses a bypassRole that is not a role of the server, saying what to create', async () => {
    await using(ormAt(t.db.appUrl, { bypassRole: 'rls_test_no_such_bypas' }), async (orm) => {
      const error = await orm.em.forkWithRls({ account_id: 1 }).count(Project).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RlsConfigurationError);
      expect((error as Error).message).toContain(`withRls's bypassRole "rls_test_no_such_bypas" is not a role of this server. Create it (CREATE ROLE "rls_test_no_such_bypas" NOLOGIN BYPASSRLS; GRANT "rls_test_no_such_bypas" TO "${t.db.roles.app}";)`);
    });
  });

  it('refuses a bypassRole the application role is not a member of, saying what to grant', async () => {
    await using(ormAt(t.db.appUrl, { bypassRole: BYPASSER }), async (orm) => {
      await expect(orm.em.forkWithRls({ account_id: 1 }).count(Project)).rejects.toThrow(
        `the ORM connects as "${t.db.roles.app}", which is not a member of withRls's bypassRole "${BYPASSER}", so bypassRls() cannot switch to it. Run GRANT "${BYPASSER}" TO "${t.db.roles.app}";`,
      );
    });
  });

  it('refuses a bypassRole without BYPASSRLS, saying what to alter', async () => {
    await t.db.query(`DO $$ BEGIN CREATE ROLE ${NOT_BYPASSING} NOLOGIN NOBYPASSRLS; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await t.db.query(`GRANT ${NOT_BYPASSING} TO ${t.db.roles.app}`);
    await using(ormAt(t.db.appUrl, { bypassRole: NOT_BYPASSING }), async (orm) => {
      await expect(orm.em.bypassRls((em) => em.count(Project))).rejects.toThrow(
        `withRls's bypassRole "${NOT_BYPASSING}" lacks BYPASSRLS, so bypassRls() would still see only what the policies allow. Run ALTER ROLE "${NOT_BYPASSING}" BYPASSRLS;`,
      );
    });
  });

  it('lets an ORM without bypassRole run scoped queries', async () => {
    await using(ormAt(t.db.appUrl, { bypassRole: undefined }), async (orm) => {
      expect(await orm.em.forkWithRls({ account_id: 1 }).count(Project)).toBe(2);
    });
  });
});
