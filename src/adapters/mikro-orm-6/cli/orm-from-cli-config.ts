import { ConfigurationLoader, MikroORM } from '@mikro-orm/core';

/**
 * The ORM of the application's MikroORM 6 configuration, found and loaded as the `mikro-orm` CLI does:
 * ts-node for a TypeScript config (as package.json "mikro-orm" says), `require` in CommonJS projects, the
 * config paths and MIKRO_ORM_* variables of MikroORM's ConfigurationLoader. For `mikro-orm-rls audit`.
 */
export async function ormFromCliConfig(): Promise<MikroORM> {
  const settings = ConfigurationLoader.getSettings();
  if (settings.useTsNode !== false) ConfigurationLoader.registerTsNode(settings.tsConfigPath);
  // CommonJS projects load the config with require (so ts-node applies), as the mikro-orm CLI does;
  // commonJSCompat is private in MikroORM 6's typings.
  (ConfigurationLoader as unknown as { commonJSCompat(options: object): void }).commonJSCompat({});
  return MikroORM.init();
}
