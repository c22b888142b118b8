import type { EntityMetadata } from '@mikro-orm/core';

/**
 * The members of a MikroORM SQL driver the write checks call, as both majors have them (MikroORM 6
 * names entities by class name, MikroORM 7 by class; both resolve either through `getMetadata().find`).
 * Options are passed through untouched; the checks read only the upsert flags.
 */
export interface WritingDriver {
  nativeUpdate(entityName: never, where: never, data: never, options?: never): Promise<{ affectedRows: number }>;
  nativeUpdateMany(entityName: never, where: never, data: never, options?: never): Promise<{ affectedRows: number }>;
  nativeDelete(entityName: never, where: never, options?: never): Promise<{ affectedRows: number }>;
  count(entityName: never, where: never, options?: never): Promise<number>;
  getMetadata(): { find(entityName: never): EntityMetadata | undefined };
}

/** The upsert flags of a driver write's options. */
export interface UpsertFlags {
  readonly upsert?: boolean;
  readonly onConflictAction?: string;
  readonly ctx?: unknown;
  readonly schema?: string;
}

/** Builds the adapter's `RlsInvisibleRowError` (its base class differs per major). */
export type InvisibleRowErrorFactory = (message: string, entity: string, table: string, command: 'insert' | 'update' | 'delete') => Error;

/** A driver method as the checks call it: with the view it is called on as `this`. */
export type DriverMethod = (this: WritingDriver, ...args: unknown[]) => Promise<unknown>;

/** Calls `driver[name]` with `args` (the check's view of MikroORM's own member). */
export function callDriver<R>(driver: WritingDriver, name: keyof WritingDriver, self: WritingDriver, args: unknown[]): Promise<R> {
  return (driver[name] as unknown as DriverMethod).apply(self, args) as Promise<R>;
}
