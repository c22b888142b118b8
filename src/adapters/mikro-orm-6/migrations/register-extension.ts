import type { MikroORM } from '@mikro-orm/core';

/**
 * Registers `factory` under one of MikroORM's own extension names. MikroORM caches an extension on first
 * use, and `MikroORM.init` already uses the schema generator while connecting (`ensureDatabase`), before
 * user extensions are registered: the cached default instance is dropped so the replacement takes effect.
 */
export function replaceExtension(orm: MikroORM, name: string, factory: () => unknown): void {
  orm.config.registerExtension(name, factory);
  (orm.config as unknown as { cache?: Map<string, unknown> }).cache?.delete(name);
}
