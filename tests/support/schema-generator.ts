import type { MikroORM } from '@mikro-orm/core';

/**
 * `orm.schema`'s create and update under the names of the installed major: MikroORM 6 calls them
 * `createSchema` / `updateSchema`, MikroORM 7 `create` / `update` (the v7 run runs these same tests).
 */
interface SchemaGeneratorOfEitherMajor {
  createSchema?(): Promise<void>;
  create?(): Promise<void>;
  updateSchema?(): Promise<void>;
  update?(): Promise<void>;
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
