import { relative } from 'node:path';
import { canUseDataDir, startEmbeddedPostgres } from './embedded-postgres';

export interface EmbeddedDatabase {
  url: string;
  /** Where the data lives, for the ready message. */
  where: string;
  stop(): Promise<void>;
}

/**
 * A PostgreSQL for the demo: its data persists in `dataDir` between runs (initialised on first use).
 * As root the server runs as the `postgres` user, and a clone in a folder that user cannot enter
 * (/root, a `mktemp -d` folder) cannot keep its data in demo/.data: the demo then runs on a temporary
 * data folder and says so, rather than failing. A folder the user chose (DEMO_DATA_DIR) is never
 * swapped for another: a folder out of reach is an error that says what to do.
 */
export async function startEmbeddedDatabase(dataDir: string, chosen: boolean): Promise<EmbeddedDatabase> {
  const shown = relative(process.cwd(), dataDir) || '.';
  if (chosen || canUseDataDir(dataDir)) {
    const server = await startEmbeddedPostgres({ dataDir });
    return { url: server.url, where: `data in ${shown}`, stop: server.stop };
  }
  const server = await startEmbeddedPostgres();
  return { url: server.url, where: `data in ${server.dataDir}, deleted on exit: as root it runs as the postgres user, who cannot enter ${shown}`, stop: server.stop };
}
