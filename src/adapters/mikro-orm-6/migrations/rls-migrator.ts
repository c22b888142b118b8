import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { MikroORM } from '@mikro-orm/core';
import { replaceExtension } from './register-extension';
import { Migrator } from '@mikro-orm/migrations';
import type { SqlSchemaGenerator } from '@mikro-orm/knex';
import { planWithOrm } from './plan-with-orm';
import { writeTransactionalAsPlanned, type MigrationFileGenerator } from '../../../core/plan/non-transactional-migration';
import { parseSnapshot, serializeSnapshot, snapshotOf, type RlsSnapshot } from '../../../core/plan/rls-snapshot';
import { splitSqlStatements } from '../../../core/plan/split-statements';

interface SchemaDiff {
  up: string[];
  down: string[];
}

/** Members of MikroORM's Migrator that are private in its typings but are the documented way to extend it. */
interface MigratorInternals {
  getSchemaDiff(blank: boolean, initial: boolean): Promise<SchemaDiff>;
  readonly snapshotPath: string;
  readonly options: { snapshot?: boolean };
  readonly em: MikroORM['em'];
  /** The generator that writes migration files (MikroORM's TS or JS one, or `migrations.generator`). */
  readonly generator: MigrationFileGenerator;
  /** The plain schema generator MikroORM's Migrator builds for itself (no policies). */
  readonly schemaGenerator: SqlSchemaGenerator;
}

/**
 * MikroORM's Migrator, plus policies: `migration:create` writes the policy diff into the same migration
 * as the schema diff (a policy-only change makes a migration too), `--initial` includes policies, and
 * `migration:check` fails when only policies differ. Partitions of entity tables, which only the
 * database knows, are read from its catalog when the migration is created and get their table's policies. Installed by `withRls()` when
 * `@mikro-orm/migrations` is installed; registered under MikroORM's own extension name, so the CLI uses it.
 * A migration too large for one transaction is written as several (see `migrationStatements`).
 */
export class RlsMigrator extends Migrator {
  private nextRlsSnapshot?: RlsSnapshot;
  /** A blank migration is written by hand: what it does to policies is known only once it ran. */
  private forgetRlsSnapshot = false;
  private nextFileTransactional = true;

  static override register(orm: MikroORM): void {
    replaceExtension(orm, '@mikro-orm/migrator', () => new RlsMigrator(orm.em as never));
  }

  private get internals(): MigratorInternals {
    return this as unknown as MigratorInternals;
  }

  /** Next to `.snapshot-<db>.json`: `.snapshot-<db>.rls.json`. */
  private get rlsSnapshotPath(): string {
    return this.internals.snapshotPath.replace(/\.json$/, '.rls.json');
  }

  /** MikroORM compares with its snapshot when snapshots are on and one exists; so do we. */
  private readRlsSnapshot(): RlsSnapshot | undefined {
    const { options, snapshotPath } = this.internals;
    if (options.snapshot === false || !existsSync(snapshotPath) || !existsSync(this.rlsSnapshotPath)) return undefined;
    return parseSnapshot(readFileSync(this.rlsSnapshotPath, 'utf8'), this.rlsSnapshotPath);
  }

  /**
   * With migrations not applied yet, the database is behind the snapshot: MikroORM's diff of the live
   * database to the entities brings it where the new migration starts (`safe`: nothing dropped).
   */
  private async catchUpSchema(): Promise<string[] | undefined> {
    if ((await this.getPendingMigrations()).length === 0) return undefined;
    const { up } = await this.internals.schemaGenerator.getUpdateSchemaMigrationSQL({ wrap: false, safe: true, dropTables: false });
    return splitSqlStatements(up);
  }

  /** @internal Called through MikroORM's Migrator for create, initial and check. */
  async rlsSchemaDiff(blank: boolean, initial: boolean, schemaDiff: SchemaDiff): Promise<SchemaDiff> {
    if (blank) {
      this.forgetRlsSnapshot = true;
      return schemaDiff;
    }
    const snapshot = initial ? undefined : this.readRlsSnapshot();
    const plan = await planWithOrm(this.internals.em, schemaDiff, { initial, snapshot, catchUpSchema: () => this.catchUpSchema() });
    this.nextRlsSnapshot = snapshotOf(plan.declared, plan.partitions);
    this.nextFileTransactional = plan.migration.transactional;
    writeTransactionalAsPlanned(this.internals.generator, () => this.nextFileTransactional);
    return { up: plan.migration.up, down: plan.migration.down };
  }

  protected override async storeCurrentSchema(...args: Parameters<Migrator['storeCurrentSchema']>): Promise<void> {
    await super.storeCurrentSchema(...args);
    // The next migration:create / check then compares with the catalog, where the hand-written migration ran.
    if (this.forgetRlsSnapshot) rmSync(this.rlsSnapshotPath, { force: true });
    if (this.internals.options.snapshot === false || !this.nextRlsSnapshot) return;
    writeFileSync(this.rlsSnapshotPath, serializeSnapshot(this.nextRlsSnapshot));
  }
}

// `getSchemaDiff` is private in MikroORM's typings, so it is extended here rather than with `override`.
const schemaDiffOf = (Migrator.prototype as unknown as MigratorInternals).getSchemaDiff;
Object.defineProperty(RlsMigrator.prototype, 'getSchemaDiff', {
  async value(this: RlsMigrator, blank: boolean, initial: boolean): Promise<SchemaDiff> {
    return this.rlsSchemaDiff(blank, initial, await schemaDiffOf.call(this, blank, initial));
  },
});
