import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { ADMIN_TOKEN, createApp } from './app';
import { demoConfig } from './demo-config';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded-database';
import { EmbeddedPostgresError } from './embedded-postgres';
import { prepareDatabase, seedDemo } from './prepare-database';

// `npm run demo`: a PostgreSQL (DATABASE_URL, a superuser URL, or an embedded one), the roles of the
// security model, the committed migrations (as the owner), seed data, and the API (as the app role).

async function main() {
  const dataDir = process.env.DEMO_DATA_DIR ?? join(__dirname, '.data');
  const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedDatabase(dataDir, process.env.DEMO_DATA_DIR !== undefined);
  try {
    await serve(process.env.DATABASE_URL ?? embedded!.url, embedded);
  } catch (error) {
    // Stopped here, so that a failed start leaves no server behind (nor a temporary data folder).
    await embedded?.stop();
    throw error;
  }
}

async function serve(superUrl: string, embedded: EmbeddedDatabase | undefined) {
  const urls = await prepareDatabase(superUrl);

  const owner = await MikroORM.init(demoConfig(urls.ownerUrl));
  await owner.getMigrator().up();
  await owner.close();
  await seedDemo(urls.superUrl);

  const orm = await MikroORM.init(demoConfig(urls.appUrl));
  const server: Server = createApp(orm).listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
  await new Promise((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const where = embedded ? `embedded, ${embedded.where}` : 'DATABASE_URL';
  console.log(`mikro-orm-rls demo ready on ${base} (PostgreSQL: ${where}). Try:
  curl -s -H 'Authorization: Bearer alice' ${base}/items
  curl -s -H 'Authorization: Bearer bob' ${base}/items
  curl -s -H 'Authorization: Bearer alice' ${base}/items/3
  curl -s -X POST -H 'Authorization: Bearer alice' -H 'Content-Type: application/json' -d '{"title":"Acme launch"}' ${base}/items
  curl -s ${base}/items
  curl -s -H 'Authorization: Bearer ${ADMIN_TOKEN}' ${base}/admin/items
Alice sees Acme's items, Bob Globex's, item 3 is Globex's (404 for Alice), no token gets 401 before any
query, and the admin route uses bypassRls(). Ctrl-C stops the server${embedded ? ' and the database' : ''}.`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await orm.close();
    await embedded?.stop();
    console.log('demo stopped');
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error) => {
  // A start-up problem with a known remedy is one line; anything else keeps its stack.
  console.error(error instanceof EmbeddedPostgresError ? error.message : error);
  process.exit(1);
});
