import { defineConfig } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { withRls } from '../src';
import { entities } from './entities';

export const DEMO_ROLES = { owner: 'demo_owner', app: 'demo_app', admin: 'demo_admin' } as const;

/** The demo's ORM options; `clientUrl` decides who connects (the owner for migrations, the app otherwise). */
export function demoConfig(clientUrl: string) {
  return withRls(
    defineConfig({
      clientUrl,
      entities,
      extensions: [Migrator],
      migrations: { path: `${__dirname}/migrations`, pathTs: `${__dirname}/migrations`, snapshot: false },
    }),
    { bypassRole: DEMO_ROLES.admin },
  );
}

/** For `mikro-orm migration:create` on the demo: `MIKRO_ORM_CLI_CONFIG=demo/demo-config.ts`. */
export default demoConfig(process.env.DEMO_DATABASE_URL ?? 'postgres://demo_owner:demo_owner@127.0.0.1:5432/rls_demo');
