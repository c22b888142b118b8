import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { rlsMiddleware } from '../../src/integrations/express';
import { boot, type Booted } from '../fixtures/boot';
import { expectInterleavedReadsIsolated, expectInterleavedWritesIsolated, expectRefusedWithoutQuery, get } from '../fixtures/http-tenant-scenarios';
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
  await expectInterleavedReadsIsolated(base);
});

it('each tenant changes only its own rows, even when requests interleave', async () => {
  await expectInterleavedWritesIsolated(base, t);
});

it.each([
  ['no authorization header', undefined],
  ['a token that yields an invalid context', 'tenant-abc'],
])('a request with %s gets 401 and sends no query', async (_label, token) => {
  await expectRefusedWithoutQuery(t, () => get(`${base}/projects`, token), 401);
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
