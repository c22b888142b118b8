import type { MikroORM } from '@mikro-orm/core';
import { replaceExtension } from './register-extension';
import { SqlSchemaGenerator } from '@mikro-orm/postgresql';
import { diffRls } from '../../../core/diff/diff-rls';
import { rlsSettingsOf } from '../../../core/settings/rls-settings';
import { defaultSchemaOf, planWithOrm } from './plan-with-orm';
import { splitSqlStatements } from '../../../core/plan/split-statements';
import { createSchemaSql, dropSchemaSql, updateSchemaSql } from '../../../core/plan/schema-generator-sql';

type CreateOptions = Parameters<SqlSchemaGenerator['getCreateSchemaSQL']>[0];
type UpdateOptions = Parameters<SqlSchemaGenerator['getUpdateSchemaSQL']>[0];
type DropOptions = Parameters<SqlSchemaGenerator['getDropSchemaSQL']>[0];

/**
 * MikroORM's schema generator, plus policies, so `schema:create`, `schema:update`, `schema:fresh` and
 * `orm.schema.*` leave every table with its declared policies: creating adds them after the tables,
 * updating drops the policies of altered tables first and brings all policies to the declared state after.
 * Updating covers the tables' partitions too (read from the catalog); creating starts from nothing, where
 * no partition exists yet. At scale the SQL comes in bounded transactions (see `createSchemaSql`); so does
 * dropping, whose tables MikroORM drops in one transaction (see `dropSchemaSql`).
 */
export class RlsSchemaGenerator extends SqlSchemaGenerator {
  static override register(orm: MikroORM): void {
    replaceExtension(orm, '@mikro-orm/schema-generator', () => new RlsSchemaGenerator(orm.em as never));
  }

  override async getCreateSchemaSQL(options: CreateOptions = {}): Promise<string> {
    const sql = await super.getCreateSchemaSQL(options);
    return createSchemaSql(sql, diffRls(rlsSettingsOf(this.config).tables, []), defaultSchemaOf(this.config, this.platform as never));
  }

  override async getUpdateSchemaSQL(options: UpdateOptions = {}): Promise<string> {
    const sql = await super.getUpdateSchemaSQL(options);
    const plan = await planWithOrm(this.em as never, { up: splitSqlStatements(sql), down: [] });
    return updateSchemaSql(plan, (s) => `${s};\n`);
  }

  override async getDropSchemaSQL(options: DropOptions = {}): Promise<string> {
    const sql = await super.getDropSchemaSQL(options);
    return dropSchemaSql(sql, rlsSettingsOf(this.config).tables, defaultSchemaOf(this.config, this.platform as never));
  }
}
