import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { MikroOrmModule } from '@mikro-orm/nestjs';
import { EntityManager, PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Body, Controller, ForbiddenException, Get, Headers, Injectable, Module, Patch, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Request } from 'express';
import { RlsConfigurationError, RlsEntityManager } from '../../src';
import { RlsModule } from '../../src/integrations/nestjs';
import { appOrmOptions } from '../fixtures/app-orm-options';
import { boot, type Booted } from '../fixtures/boot';
import { expectInterleavedReadsIsolated, expectInterleavedWritesIsolated, expectRefusedWithoutQuery, get, patch } from '../fixtures/http-tenant-scenarios';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';

// Real HTTP against a Nest application (Express platform) whose ORM comes from MikroOrmModule, configured
// like `t.app`, and whose services inject EntityManager: RlsModule makes it the request's scoped fork.

let t: Booted;
const apps: INestApplication[] = [];

/** `Bearer tenant-<n>` -> account n (`tenant-abc` parses to NaN, which the context schema refuses); anything else -> none. */
function contextOf(req: Request) {
  const token = /^Bearer tenant-(.+)$/.exec(req.headers.authorization ?? '')?.[1];
  return token === undefined ? undefined : { account_id: Number(token) };
}

const ids = (rows: { id: number }[]) => rows.map((r) => r.id);

@Injectable()
class ProjectsService {
  // MikroORM's own injectable: the global manager, which inside a request resolves the request's fork.
  constructor(private readonly em: EntityManager) {}

  async ids(): Promise<number[]> {
    return ids(await this.em.find(Project, {}, { orderBy: { id: 'asc' } }));
  }

  rename(title: string): Promise<number> {
    return this.em.nativeUpdate(Project, {}, { title });
  }
}

@Injectable()
class AdminService {
  // The same manager, typed by RlsModule with bypassRls.
  constructor(private readonly em: RlsEntityManager) {}

  allIds(): Promise<number[]> {
    return this.em.bypassRls(async (em) => ids(await em.find(Project, {}, { orderBy: { id: 'asc' } })));
  }
}

@Controller()
class RootController {
  constructor(private readonly projects: ProjectsService) {}

  @Get()
  list(): Promise<number[]> {
    return this.projects.ids();
  }
}

@Controller('projects')
class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

  @Get()
  list(): Promise<number[]> {
    return this.projects.ids();
  }

  @Patch()
  async rename(@Body('title') title: string): Promise<{ changed: number }> {
    return { changed: await this.projects.rename(title) };
  }
}

@Controller('admin/projects')
class AdminController {
  constructor(private readonly admin: AdminService) {}

  @Get()
  list(@Headers('authorization') authorization?: string): Promise<number[]> {
    if (authorization !== 'Bearer admin') throw new ForbiddenException();
    return this.admin.allIds();
  }
}

/** A Nest app on an ephemeral loopback port; `rlsFirst` imports RlsModule before MikroOrmModule. */
async function start(options: { status?: number; rlsFirst?: boolean } = {}): Promise<string> {
  const orm = MikroOrmModule.forRoot(appOrmOptions(t, tenantEntities, t.queries));
  // Admin routes are excluded: they have no tenant context and bypass explicitly.
  const rls = RlsModule.forRoot({ context: contextOf, status: options.status, exclude: ['admin/{*path}'] });
  @Module({
    imports: options.rlsFirst ? [rls, orm] : [orm, rls],
    controllers: [RootController, ProjectsController, AdminController],
    providers: [ProjectsService, AdminService],
  })
  class AppModule {}
  const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
  apps.push(app);
  await app.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${((app.getHttpServer() as Server).address() as AddressInfo).port}`;
}


let base: string;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL });
  base = await start();
});
beforeEach(() => t.db.query(RESET_SQL));
afterAll(async () => {
  // Closing a Nest app closes the ORM MikroOrmModule created for it.
  await Promise.all(apps.map((app) => app.close()));
  await t?.close();
});

it('forty concurrent requests, interleaved between two tenants, each see only their own projects', async () => {
  await expectInterleavedReadsIsolated(base);
});

it('a tenant that renames all projects changes only its own rows, even while the other tenant does the same', async () => {
  await expectInterleavedWritesIsolated(base, t);
});

it.each([
  ['no authorization header', undefined],
  ['a token that yields an invalid context', 'tenant-abc'],
])('a request with %s gets 401 and sends no query', async (_label, token) => {
  await expectRefusedWithoutQuery(t, () => get(`${base}/projects`, token), 401);
});

it('with status 403 configured, a request without a valid context gets 403 and sends no query', async () => {
  const other = await start({ status: 403 });
  t.queries.length = 0;
  const res = await patch(`${other}/projects`, 'tenant-abc', 'hijacked');
  expect(res.status).toBe(403);
  expect(await res.json()).toMatchObject({ error: 'rls_context_required' });
  expect(t.queries).toEqual([]);
  expect(await t.db.query(`select count(*)::int as n from projects where title = 'hijacked'`)).toEqual([{ n: 0 }]);
});

it('an admin request bypasses RLS and the next tenant request is scoped again', async () => {
  expect(await (await get(`${base}/admin/projects`, 'admin')).json()).toEqual([1, 2, 3, 4]);
  expect(await (await get(`${base}/projects`, 'tenant-1')).json()).toEqual([1, 2]);
});

it('the middleware covers every route, the root path included', async () => {
  expect(await (await get(`${base}/`, 'tenant-2')).json()).toEqual([3, 4]);
  t.queries.length = 0;
  expect((await get(`${base}/`)).status).toBe(401);
  expect(t.queries).toEqual([]);
});

it('requests stay scoped when RlsModule is imported before MikroOrmModule (its request context then nests inside ours)', async () => {
  const other = await start({ rlsFirst: true });
  const [one, two] = await Promise.all([get(`${other}/projects`, 'tenant-1'), get(`${other}/projects`, 'tenant-2')]);
  expect(await one.json()).toEqual([1, 2]);
  expect(await two.json()).toEqual([3, 4]);
  expect(await (await patch(`${other}/projects`, 'tenant-2', 'two')).json()).toEqual({ changed: 2 });
  expect(await t.db.query('select id from projects where title = $1 order by id', ['two'])).toEqual([{ id: 3 }, { id: 4 }]);
});

it('an application whose ORM was not initialised with withRls() fails to start instead of serving unscoped requests', async () => {
  @Module({
    // connect: false, so the ORM that is refused opens no connection.
    imports: [MikroOrmModule.forRoot({ driver: PostgreSqlDriver, clientUrl: t.db.appUrl, entities: tenantEntities, connect: false }), RlsModule.forRoot({ context: contextOf })],
  })
  class PlainOrmModule {}
  const app = await NestFactory.create(PlainOrmModule, { logger: false, abortOnError: false });
  apps.push(app);
  await expect(app.init()).rejects.toThrow(RlsConfigurationError);
});
