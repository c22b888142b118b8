import type { MikroORM } from '@mikro-orm/core';
import { RlsAdapterAssumptionError } from '../../../core/errors/rls-adapter-assumption-error';

/**
 * Registers `factory` under one of MikroORM's own extension names. MikroORM caches an extension on first
 * use, and `MikroORM.init` already uses the schema generator while connecting (`ensureDatabase`), before
 * user extensions are registered: the cached default instance is dropped so the replacement takes effect.
 */
export function replaceExtension(orm: MikroORM, name: string, factory: () => unknown): void {
  orm.config.registerExtension(name, factory);
  // The Configuration's private cache (see internals.ts): without it the default would stay in use, and
  // policies would silently be left out of schema:* and migrations.
  const cache = (orm.config as unknown as { cache?: unknown }).cache;
  if (!(cache instanceof Map)) {
    throw new RlsAdapterAssumptionError("MikroORM's Configuration caches extensions in its `cache` Map", 'orm.config.cache is not a Map');
  }
  cache.delete(name);
}
