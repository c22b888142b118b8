import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { rlsPlugin } from '../../src/integrations/fastify';
import { boot, type Booted } from '../fixtures/boot';
import { expectInterleavedReadsIsolated, expectInterleavedWritesIsolated, expectRefusedWithoutQuery, get, patch } from '../fixtures/http-tenant-scenarios';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';

// Real HTTP against a Fastify app whose request EntityManager (`t.app.em`, resolved through MikroORM's
// RequestContext) is scoped by the plugin.

let t: Booted;
const apps: FastifyInstance[] = [];

/** `Bearer tenant-<n>` -> account n (`tenant-abc` parses to NaN, which the context schema refuses); anything else -> none. */
function contextOf(request: FastifyRequest) {
  const token = /^Bearer tenant-(.+)$/.exec(request.headers.authorization ?? '')?.[1];
  return token === undefined ? undefined : { account_id: Number(token) };
}

const ids = (rows: { id: number }[]) => rows.map((r) => r.id);

async function start(status?: number): Promise<string> {
  const app = Fastify();
  apps.push(app);
  // Outside the plugin context below, so not scoped: the admin route bypasses explicitly instead.
  app.get('/admin/projects', async (request, reply) => {
    if (request.headers.authorization !== 'Bearer admin') return reply.code(403).send();
    return ids(await t.app.em.bypassRls((em) => em.find(Project, {}, { orderBy: { id: 'asc' } })));
  });
  await app.register(async (tenant) => {
    // Routes declared here, next to the registration rather than inside the plugin, are covered only
    // because the plugin skips encapsulation; unscoped, they would see no rows at all.
    await tenant.register(rlsPlugin, { orm: t.app, context: contextOf, status });
    tenant.get('/projects', async () => ids(await t.app.em.find(Project, {}, { orderBy: { id: 'asc' } })));
    tenant.patch<{ Body: { title: string } }>('/projects', async (request) => ({
      changed: await t.app.em.nativeUpdate(Project, {}, { title: request.body.title }),
    }));
  });
  return app.listen({ port: 0, host: '127.0.0.1' });
}


let base: string;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 3 });
  base = await start();
});
beforeEach(() => t.db.query(RESET_SQL));
afterAll(async () => {
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
  const other = await start(403);
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
