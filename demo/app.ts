import express, { type Request } from 'express';
import type { MikroORM } from '@mikro-orm/core';
import type { RlsEntityManager } from '../src';
import { rlsMiddleware } from '../src/integrations/express';
import { Item } from './entities';

/** Demo authentication: a bearer token names a user of one account. A real app would verify a JWT. */
const USERS: Record<string, { userId: number; accountId: number }> = {
  alice: { userId: 1, accountId: 1 },
  bob: { userId: 2, accountId: 2 },
};
export const ADMIN_TOKEN = 'admin-secret';

const tokenOf = (req: Request) => /^Bearer (.+)$/.exec(req.header('authorization') ?? '')?.[1];
const userOf = (req: Request) => USERS[tokenOf(req) ?? ''];

export function createApp(orm: MikroORM) {
  const em = () => orm.em as unknown as RlsEntityManager<{ account_id: number }>;
  const app = express();
  app.use(express.json());

  // Admin work bypasses RLS explicitly, behind its own check; request data never switches it on.
  app.get('/admin/items', async (req, res) => {
    if (tokenOf(req) !== ADMIN_TOKEN) return void res.status(403).json({ error: 'admin token required' });
    res.json(await em().bypassRls((admin) => admin.find(Item, {}, { orderBy: { id: 'asc' } })));
  });

  // Every other route runs with the caller's account as the RLS context.
  app.use(rlsMiddleware({ orm, context: (req) => (userOf(req) ? { account_id: userOf(req).accountId } : undefined) }));

  app.get('/items', async (_req, res) => {
    res.json(await em().find(Item, {}, { orderBy: { id: 'asc' } }));
  });
  app.get('/items/:id', async (req, res) => {
    const item = await em().findOne(Item, Number(req.params.id));
    if (!item) return void res.status(404).json({ error: 'not found' });
    res.json(item);
  });
  app.post('/items', async (req, res) => {
    const { userId, accountId } = userOf(req);
    const item = em().create(Item, { title: String(req.body?.title ?? 'untitled'), owner: userId, account: accountId });
    await em().flush();
    res.status(201).json(item);
  });
  return app;
}
