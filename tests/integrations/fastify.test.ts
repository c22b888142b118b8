import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { rlsPlugin } from '../../src/integrations/fastify';
import { boot, type Booted } from '../fixtures/boot';
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

const get = (url: string, token?: string) => fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
const patch = (url: string, token: string, title: string) =>
  fetch(url, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ title }) });

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
  const tokens = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 'tenant-1' : 'tenant-2'));
  const bodies = await Promise.all(tokens.map(async (token) => ({ token, ids: await (await get(`${base}/projects`, token)).json() })));
  for (const { token, ids } of bodies) expect(ids).toEqual(token === 'tenant-1' ? [1, 2] : [3, 4]);
});

it('a tenant that renames all projects changes only its own rows, even while the other tenant does the same', async () => {
  const results = await Promise.all([
    patch(`${base}/projects`, 'tenant-1', 'one'),
    patch(`${base}/projects`, 'tenant-2', 'two'),
    patch(`${base}/projects`, 'tenant-1', 'one'),
    patch(`${base}/projects`, 'tenant-2', 'two'),
  ]);
  for (const res of results) expect(await res.json()).toEqual({ changed: 2 });
  expect(await t.db.query('select id, title from projects order by id')).toEqual([
    { id: 1, title: 'one' },
    { id: 2, title: 'one' },
    { id: 3, title: 'two' },
    { id: 4, title: 'two' },
  ]);
});

it.each([
  ['no authorization header', undefined],
  ['a token that yields an invalid context', 'tenant-abc'],
])('a request with %s gets 401 and sends no query', async (_label, token) => {
  t.queries.length = 0;
  const res = await get(`${base}/projects`, token);
  expect(res.status).toBe(401);
  expect(await res.json()).toMatchObject({ error: 'rls_context_required' });
  expect(t.queries).toEqual([]);
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
