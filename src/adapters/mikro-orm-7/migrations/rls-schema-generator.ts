import type { MikroORM } from '@mikro-orm/core';
import { SqlSchemaGenerator, type DatabaseSchema } from '@mikro-orm/sql';
import { diffRls } from '../../../core/diff/diff-rls';
import { splitSqlStatements } from '../../../core/plan/split-statements';
import { rlsSettingsOf } from '../../../core/settings/rls-settings';
import { defaultSchemaOf, planWithOrm } from './plan-with-orm';
import { createSchemaSql, dropSchemaSql, updateSchemaSql } from '../../../core/plan/schema-generator-sql';
import { withUndeclaredPartitioningUnmanaged } from './undeclared-partitioning';
import { withoutNativeRls } from './without-native-rls';

type CreateOptions = Parameters<SqlSchemaGenerator['getCreateSchemaSQL']>[0];
type UpdateOptions = Parameters<SqlSchemaGenerator['getUpdateSchemaSQL']>[0];
type DropOptions = Parameters<SqlSchemaGenerator['getDropSchemaSQL']>[0];
type CompareOptions = { fromSchema?: DatabaseSchema } & Record<string, unknown>;
type Compared = { fromSchema: DatabaseSchema; toSchema: DatabaseSchema };

/**
 * MikroORM 7's schema generator with this package's policies instead of its native ones:
 * - native never compares policies or RLS flags (stripped from both sides, see `withoutNativeRls`);
 * - `schema:create` / `schema:fresh` / `orm.schema.create()` add the declared policies after the tables;
 * - `schema:update` / `orm.schema.update()` drop the policies of altered tables first and bring every
 *   policy to the declared state after, with PostgreSQL's canonical text, ALTER POLICY when possible;
 * - `schema:drop` / `orm.schema.drop()` (and so `refresh()`) drop thousands of tables in bounded
 *   transactions, not MikroORM's one (see `dropSchemaSql`).
 * The Migrator ({@link RlsMigrator}) reads MikroORM's part alone (`withoutRlsPlan`) and plans the policies
 * itself, with the snapshot and an exact way down.
 */
export class RlsSchemaGenerator extends SqlSchemaGenerator {
  private nativeOnly = 0;

  static override register(orm: MikroORM): void {
    orm.config.registerExtension('@mikro-orm/schema-generator', () => new RlsSchemaGenerator(orm.em as never));
  }

  /** Runs `work` with this generator's SQL left as MikroORM writes it (without policies): for the Migrator. */
  async withoutRlsPlan<T>(work: () => Promise<T>): Promise<T> {
    this.nativeOnly++;
    try {
      return await work();
    } finally {
      this.nativeOnly--;
    }
  }

  override getTargetSchema(schema?: string, includeWildcardSchema?: boolean): DatabaseSchema {
    return withoutNativeRls(super.getTargetSchema(schema, includeWildcardSchema));
  }

  override async getCreateSchemaSQL(options: CreateOptions = {}): Promise<string> {
    const sql = await super.getCreateSchemaSQL(options);
    if (this.nativeOnly > 0) return sql;
    return createSchemaSql(sql, diffRls(rlsSettingsOf(this.config).tables, []), defaultSchemaOf(this.em as never));
  }

  override async getUpdateSchemaSQL(options: UpdateOptions = {}): Promise<string> {
    const sql = await super.getUpdateSchemaSQL(options);
    if (this.nativeOnly > 0) return sql;
    const plan = await planWithOrm(this.em as never, { up: splitSqlStatements(sql), down: [] });
    return updateSchemaSql(plan, (s) => (s === '' ? '\n' : `${s};\n`));
  }

  override async getDropSchemaSQL(options: DropOptions = {}): Promise<string> {
    const sql = await super.getDropSchemaSQL(options);
    if (this.nativeOnly > 0) return sql;
    return dropSchemaSql(sql, rlsSettingsOf(this.config).tables, defaultSchemaOf(this.em as never));
  }
}

// `prepareSchemaForComparison` is private in MikroORM's typings (a plain method in its JavaScript, see
// internals.ts): extended on the prototype rather than with `override`. Every comparison of the
// generator and of the Migrator (create, check) goes through it: native RLS state leaves both sides, and
// partitioning the entities do not declare stays unmanaged both ways (see undeclared-partitioning.ts).
const prepare = (SqlSchemaGenerator.prototype as unknown as { prepareSchemaForComparison(o: CompareOptions): Promise<Compared> }).prepareSchemaForComparison;
Object.defineProperty(RlsSchemaGenerator.prototype, 'prepareSchemaForComparison', {
  async value(this: RlsSchemaGenerator, options: CompareOptions): Promise<Compared> {
    const { fromSchema, toSchema } = await prepare.call(this, options);
    withUndeclaredPartitioningUnmanaged(fromSchema, toSchema);
    return { fromSchema: withoutNativeRls(fromSchema), toSchema: withoutNativeRls(toSchema) };
  },
});
