import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { MikroORM } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import type { DatabaseSchema } from '@mikro-orm/sql';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';
import { writeTransactionalAsPlanned, type MigrationFileGenerator } from '../../../core/plan/non-transactional-migration';
import { parseSnapshot, serializeSnapshot, snapshotOf, type RlsSnapshot } from '../../../core/plan/rls-snapshot';
import { splitSqlStatements } from '../../../core/plan/split-statements';
import { planWithOrm } from './plan-with-orm';
import { RlsSchemaGenerator } from './rls-schema-generator';
import { withoutNativeRls } from './without-native-rls';

interface SchemaDiff {
  up: string[];
  down: string[];
}

/** Members of MikroORM 7's Migrator that are private in its typings (plain methods in its JavaScript; see internals.ts). */
interface MigratorInternals {
  getSchemaDiff(blank: boolean, initial: boolean): Promise<SchemaDiff>;
  getSnapshotPath(): Promise<string>;
  hasSnapshot(): Promise<boolean>;
  /** The generator that writes migration files (protected in the typings). */
  readonly generator: MigrationFileGenerator;
}

const nativeSchemaDiff = (Migrator.prototype as unknown as MigratorInternals).getSchemaDiff;

/**
 * MikroORM 7's Migrator, plus policies, as on MikroORM 6: `migration:create` writes the policy plan into
 * the same migration as the schema diff (a policy-only change makes a migration too), `--initial`
 * includes policies, `migration:check` fails when only policies differ, and every migration's way down
 * restores the policies exactly. With MikroORM's snapshot on, the RLS state a migration leaves is kept
 * next to it in `.snapshot-<db>.rls.json` (the file MikroORM 6 projects have), and the next migration
 * starts from it instead of the catalog.
 *
 * Registered as an extension named `Migrator` (the class's `name`): MikroORM 7 adds its own Migrator
 * after the configured extensions unless one of them is called `Migrator`. A migration too large for one
 * transaction is written as several (see `migrationStatements`).
 */
export class RlsMigrator extends Migrator {
  private nextRlsSnapshot?: RlsSnapshot;
  /** A blank migration is written by hand: what it does to policies is known only once it ran. */
  private forgetRlsSnapshot = false;
  private nextFileTransactional = true;

  static override register(orm: MikroORM): void {
    orm.config.registerExtension('@mikro-orm/migrator', () => new RlsMigrator(orm.em as never));
  }

  private get internals(): MigratorInternals {
    return this as unknown as MigratorInternals;
  }

  /** The generator MikroORM's Migrator took from the configuration (the same cached instance). */
  private get rlsGenerator(): RlsSchemaGenerator {
    const generator = this.config.getExtension('@mikro-orm/schema-generator');
    if (!(generator instanceof RlsSchemaGenerator)) {
      throw new RlsConfigurationError(
        "mikro-orm-rls: the ORM's schema generator is not RlsSchemaGenerator, so migrations would leave policies out. " +
          'Configure the ORM with withRls(...) and do not register another schema generator after it.',
      );
    }
    return generator;
  }

  /** Next to `.snapshot-<db>.json`: `.snapshot-<db>.rls.json`. */
  private async rlsSnapshotPath(): Promise<string> {
    return (await this.internals.getSnapshotPath()).replace(/\.json$/, '.rls.json');
  }

  /** MikroORM compares with its snapshot when snapshots are on and one exists; so do we. */
  private async readRlsSnapshot(): Promise<RlsSnapshot | undefined> {
    if (!(await this.internals.hasSnapshot())) return undefined;
    const path = await this.rlsSnapshotPath();
    return existsSync(path) ? parseSnapshot(readFileSync(path, 'utf8'), path) : undefined;
  }

  /**
   * With migrations not applied yet, the database is behind the snapshot: MikroORM's diff of the live
   * database to the entities brings it where the new migration starts (`safe`: nothing dropped).
   */
  private async catchUpSchema(): Promise<string[] | undefined> {
    if ((await this.getPending()).length === 0) return undefined;
    const { up } = await this.rlsGenerator.getUpdateSchemaMigrationSQL({ wrap: false, safe: true, dropTables: false });
    return splitSqlStatements(up);
  }

  /** @internal Called by MikroORM's Migrator for create, `--initial` and (here) check. */
  async rlsSchemaDiff(blank: boolean, initial: boolean): Promise<SchemaDiff> {
    const schemaDiff = await this.rlsGenerator.withoutRlsPlan(() => nativeSchemaDiff.call(this, blank, initial));
    if (blank) {
      this.forgetRlsSnapshot = true;
      return schemaDiff;
    }
    const snapshot = initial ? undefined : await this.readRlsSnapshot();
    const plan = await planWithOrm(this.em, schemaDiff, { initial, snapshot, catchUpSchema: () => this.catchUpSchema() });
    this.nextRlsSnapshot = snapshotOf(plan.declared, plan.partitions);
    this.nextFileTransactional = plan.migration.transactional;
    writeTransactionalAsPlanned(this.internals.generator, () => this.nextFileTransactional);
    return { up: plan.migration.up, down: plan.migration.down };
  }

  /** MikroORM 7's check asks the generator directly, without the policies: it asks for the whole migration instead. */
  override async checkSchema(): Promise<boolean> {
    if (!(await this.internals.hasSnapshot())) await this.init();
    const diff = await this.rlsSchemaDiff(false, false);
    return diff.up.some((statement) => statement.trim().length > 0);
  }

  protected override async storeCurrentSchema(schema?: DatabaseSchema): Promise<void> {
    // An introspected schema (snapshotOnMigrate) holds the live policies: the snapshot keeps none, as the
    // one `migration:create` writes, so both compare the same way.
    await super.storeCurrentSchema(withoutNativeRls(schema));
    // The next migration:create / check then compares with the catalog, where the hand-written migration ran.
    if (this.forgetRlsSnapshot) rmSync(await this.rlsSnapshotPath(), { force: true });
    if (this.options.snapshot === false || !this.nextRlsSnapshot) return;
    writeFileSync(await this.rlsSnapshotPath(), serializeSnapshot(this.nextRlsSnapshot));
  }
}

// See the class comment: MikroORM 7 looks for an extension of this name before adding its own Migrator.
Object.defineProperty(RlsMigrator, 'name', { value: 'Migrator' });

// `getSchemaDiff` is private in MikroORM's typings, so it is extended here rather than with `override`.
Object.defineProperty(RlsMigrator.prototype, 'getSchemaDiff', {
  value(this: RlsMigrator, blank: boolean, initial: boolean): Promise<SchemaDiff> {
    return this.rlsSchemaDiff(blank, initial);
  },
});
