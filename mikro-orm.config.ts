import { defineConfig } from '@mikro-orm/postgresql';
import { withRls } from './src';
import { Item, User } from './tests/fixtures/seed-example';

/**
 * The repository's own MikroORM configuration: the seed README's users and items, scoped by
 * `account_id`. Connects to DATABASE_URL (default: the local PostgreSQL's `test` database).
 */
export default withRls(
  defineConfig({
    clientUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    entities: [User, Item],
  }),
  { bypassRole: process.env.RLS_BYPASS_ROLE },
);
