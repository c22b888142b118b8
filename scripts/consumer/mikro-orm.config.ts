// Copied into the consumer project by scripts/consumer-test.mjs: the CLI's configuration, loaded through
// ts-node. It connects as the tables' owner, who runs migrations.
import { Migrator } from '@mikro-orm/migrations';
import { defineConfig } from '@mikro-orm/postgresql';
import { withRls } from 'mikro-orm-rls';
import { Note } from './entities';

export default withRls(
  defineConfig({
    clientUrl: process.env.OWNER_DATABASE_URL,
    entities: [Note],
    extensions: [Migrator],
    migrations: { path: './migrations' },
  }),
);
