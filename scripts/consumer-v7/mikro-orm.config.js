// Copied into the MikroORM 7 consumer project by scripts/consumer-test-v7.mjs: the CLI's configuration
// (an ES module; package.json "mikro-orm".configPaths names it). It connects as the tables' owner.
import { Migrator } from '@mikro-orm/migrations';
import { defineConfig } from '@mikro-orm/postgresql';
import { withRls } from 'mikro-orm-rls';
import { Note } from './entities.js';

export default withRls(
  defineConfig({
    clientUrl: process.env.OWNER_DATABASE_URL,
    entities: [Note],
    extensions: [Migrator],
    // emit 'cjs': MikroORM 7's JavaScript migrations are CommonJS, which a "type": "module" project
    // loads only from .cjs files ('js' writes the same CommonJS into .js, which Node then refuses).
    migrations: { path: './migrations', emit: 'cjs' },
  }),
);
