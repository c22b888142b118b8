import type { MikroORM } from '@mikro-orm/core';

/**
 * `orm.schema`'s create, update, drop and refresh under the names of the installed major: MikroORM 6
 * calls them `createSchema` / `updateSchema` / `dropSchema` / `refreshDatabase`, MikroORM 7 `create` /
 * `update` / `drop` / `refresh` (the v7 run runs these same tests).
 */
interface SchemaGeneratorOfEitherMajor {
  createSchema?(): Promise<void>;
  create?(): Promise<void>;
  updateSchema?(): Promise<void>;
  update?(): Promise<void>;
  dropSchema?(): Promise<void>;
  drop?(): Promise<void>;
  refreshDatabase?(): Promise<void>;
  refresh?(): Promise<void>;
  getDropSchemaSQL(): Promise<string>;
}

const generatorOf = (orm: MikroORM): SchemaGeneratorOfEitherMajor => orm.schema as unknown as SchemaGeneratorOfEitherMajor;

export async function createSchema(orm: MikroORM): Promise<void> {
  const schema = generatorOf(orm);
  await (schema.create ? schema.create() : schema.createSchema!());
}

export async function updateSchema(orm: MikroORM): Promise<void> {
  const schema = generatorOf(orm);
  await (schema.update ? schema.update() : schema.updateSchema!());
}

export async function dropSchema(orm: MikroORM): Promise<void> {
  const schema = generatorOf(orm);
  await (schema.drop ? schema.drop() : schema.dropSchema!());
}

/** Drops and creates again: what `schema:fresh` and test setups (`refreshDatabase()`) run. */
export async function refreshSchema(orm: MikroORM): Promise<void> {
  const schema = generatorOf(orm);
  await (schema.refresh ? schema.refresh() : schema.refreshDatabase!());
}

export function dropSchemaSql(orm: MikroORM): Promise<string> {
  return generatorOf(orm).getDropSchemaSQL();
}
