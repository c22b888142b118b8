// Copied into the consumer projects by scripts/consumer-test.mjs (MikroORM 6: imports.ts and, for the
// module settings with ES modules in Node, imports.mts) and scripts/consumer-test-v7.mjs (MikroORM 7:
// imports.ts in its ES module project and imports.cts). `tsc --noEmit` must accept it under every
// setting, with and without skipLibCheck: the root and each subpath resolve to the package's declarations.
import type { Request } from 'express';
import { Collection, defineEntity, EntitySchema, MikroORM } from '@mikro-orm/core';
import { Migration } from '@mikro-orm/migrations';
import { Command, ConditionArg, Permissive, RlsEntityManager, RlsSessioner, RlsViolationError, createPolicies, withRls, type RlsOptions } from 'mikro-orm-rls';
import { rlsMiddleware, type RlsRequestOptions } from 'mikro-orm-rls/express';
import { rlsPlugin, type RlsPluginOptions } from 'mikro-orm-rls/fastify';
import { RlsModule, type RlsModuleOptions } from 'mikro-orm-rls/nestjs';
import { rlsMigration, type RlsMigrationSql } from 'mikro-orm-rls/migrations';
import { expectCanSelect, seedAsOwner, type RlsRows } from 'mikro-orm-rls/testing';

/** `true` for a real type, `false` for `any`, which an import whose declarations were not found becomes. */
type Resolved<T> = 0 extends 1 & T ? false : true;

export const resolved: [
  Resolved<typeof withRls>,
  Resolved<typeof createPolicies>,
  Resolved<RlsOptions>,
  Resolved<typeof rlsMiddleware>,
  Resolved<RlsRequestOptions<Request, { tenant_id: number }>>,
  Resolved<typeof rlsPlugin>,
  Resolved<RlsPluginOptions>,
  Resolved<typeof RlsModule>,
  Resolved<RlsModuleOptions>,
  Resolved<typeof rlsMigration>,
  Resolved<RlsMigrationSql>,
  Resolved<typeof expectCanSelect>,
  Resolved<typeof seedAsOwner>,
  Resolved<RlsRows<object>>,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true, true];

const tenantId = ConditionArg({ comparatorName: 'tenant_id', type: 'integer' });
export const policy = Permissive({ conditionArgs: [tenantId], cmd: Command.all });

// `rls` in defineEntity and new EntitySchema type-checks on both majors (one augmentation of MikroORM's
// EntityMetadata), with the pivotTables keys taken from the entity: a wrong key is an error.
const Tag = defineEntity({ name: 'Tag', properties: (p) => ({ id: p.integer().primary() }) });
export const Note = defineEntity({
  name: 'Note',
  properties: (p) => ({ id: p.integer().primary(), tenantId: p.integer(), tags: () => p.manyToMany(Tag) }),
  rls: { policies: [policy], force: true, pivotTables: { tags: false } },
});
// @ts-expect-error `labels` is not an m:n relation of the entity
export const WrongPivotKey = defineEntity({
  name: 'WrongPivotKey',
  properties: (p) => ({ id: p.integer().primary(), tags: () => p.manyToMany(Tag) }),
  rls: { policies: [policy], pivotTables: { labels: false } },
});
class Article {
  id!: number;
  tags = new Collection<Article>(this);
}
export const ArticleSchema = new EntitySchema<Article>({
  class: Article,
  properties: { id: { type: 'number', primary: true }, tags: { kind: 'm:n', entity: () => Article } },
  rls: { policies: [policy], pivotTables: { tags: false } },
});
export const WrongSchema = new EntitySchema<Article>({
  class: Article,
  properties: { id: { type: 'number', primary: true }, tags: { kind: 'm:n', entity: () => Article } },
  // @ts-expect-error `labels` is not an m:n relation of Article
  rls: { policies: [policy], pivotTables: { labels: false } },
});

// The runtime API's types on the installed major: the ORM's em is an RlsEntityManager whose forks keep
// MikroORM's own methods, typed by the context schema; the errors are MikroORM exceptions.
export async function usage(options: Parameters<typeof withRls>[0]): Promise<number> {
  const orm = await MikroORM.init(withRls(options));
  const em: RlsEntityManager = orm.em;
  const scoped = orm.em.forkWithRls({ tenant_id: 1 });
  const mine: number = await scoped.count(Note, {});
  const all: number = await em.bypassRls((admin) => admin.count(Note), { propagation: 'nested' });
  const rows: unknown[] = await scoped.execute('select 1');
  const sessioner = new RlsSessioner(orm, (tenant: number) => ({ tenant_id: tenant }));
  const viaSessioner: number = await sessioner.run([1], (fork) => fork.count(Note));
  try {
    await scoped.flush();
  } catch (error) {
    if (error instanceof RlsViolationError) return error.table.length;
  }
  return mine + all + rows.length + viaSessioner + (scoped.rlsContext ? 1 : 0) + (scoped.isRlsBypassed ? 1 : 0);
}

// A hand-written migration's `this.config` is what the migration helpers take, on either major.
export class HandWrittenMigration extends Migration {
  override async up(): Promise<void> {
    const rls = rlsMigration(this.config);
    for (const statement of rls.steps(rls.enableRls('note'), rls.createPolicy('note', policy, { position: 1 })).up) this.addSql(statement);
  }
}

// The test kit's checks take the application's ORM and its entities, on either major.
export async function policyCheck(orm: MikroORM): Promise<void> {
  await seedAsOwner(orm, (em) => em.create(Note, { id: 1, tenantId: 1 }));
  await expectCanSelect(orm, { as: { tenant_id: 1 }, entity: Note, ids: [1] });
}
