import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { rlsMiddleware } from '../../src/integrations/express';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';

// Real HTTP against an Express app whose request EntityManager is scoped by the middleware.

let t: Booted;
const servers: Server[] = [];

/** `Bearer tenant-<n>` -> account n; `Bearer admin` -> no context (the admin route bypasses explicitly). */
function contextOf(req: express.Request) {
  const token = /^Bearer (.+)$/.exec(req.header('authorization') ?? '')?.[1];
  if (!token || token === 'admin') return undefined;
  return { account_id: token.startsWith('tenant-') ? Number(token.slice(7)) : token };
}

async function start(status?: number): Promise<string> {
  const app = express();
  app.use(express.json());
  app.get('/admin/projects', async (req, res) => {
    if (req.header('authorization') !== 'Bearer admin') return void res.status(403).end();
    res.json(await t.app.em.bypassRls((em) => em.find(Project, {}, { orderBy: { id: 'asc' } })));
  });
  app.use(rlsMiddleware({ orm: t.app, context: contextOf as never, status }));
  app.get('/projects', async (_req, res) => {
    res.json((await t.app.em.find(Project, {}, { orderBy: { id: 'asc' } })).map((p) => p.id));
  });
  app.patch('/projects', async (req, res) => {
    res.json({ changed: await t.app.em.nativeUpdate(Project, {}, { title: req.body.title }) });
  });
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const get = (url: string, token?: string) => fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });

let base: string;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 3 });
  base = await start();
});
beforeEach(() => t.db.query(RESET_SQL));
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await t?.close();
});

it('concurrent, interleaved requests of two tenants each see only their own rows', async () => {
  const tokens = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 'tenant-1' : 'tenant-2'));
  const bodies = await Promise.all(tokens.map(async (token) => ({ token, ids: await (await get(`${base}/projects`, token)).json() })));
  for (const { token, ids } of bodies) expect(ids).toEqual(token === 'tenant-1' ? [1, 2] : [3, 4]);
});

it('each tenant changes only its own rows, even when requests interleave', async () => {
  const patch = (token: string, title: string) =>
    fetch(`${base}/projects`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ title }) });
  const results = await Promise.all([patch('tenant-1', 'one'), patch('tenant-2', 'two'), patch('tenant-1', 'one'), patch('tenant-2', 'two')]);
  for (const res of results) expect(await res.json()).toEqual({ changed: 2 });
  expect(await t.db.query(`select id, title from projects order by id`)).toEqual([
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

it('the refusal status is configurable', async () => {
  const other = await start(403);
  const res = await get(`${other}/projects`);
  expect(res.status).toBe(403);
});

it('an admin request bypasses, and the next tenant request is scoped again', async () => {
  const admin = (await (await get(`${base}/admin/projects`, "admin")).json()) as { id: number }[];
  expect(admin.map((p) => p.id)).toEqual([1, 2, 3, 4]);
  expect(await (await get(`${base}/projects`, 'tenant-1')).json()).toEqual([1, 2]);
});
