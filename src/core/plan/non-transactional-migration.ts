import { RlsConfigurationError } from '../errors/rls-configuration-error';

// The head of the class MikroORM's migration generators write (TypeScript and JavaScript, MikroORM 6 and 7).
const CLASS_HEAD = /^((?:export\s+)?class\s+\w+\s+extends\s+Migration\s*\{\n)/m;

/**
 * A migration file as MikroORM's generator wrote it, made to run outside one transaction: its class says
 * `isTransactional()` is false, so MikroORM runs each `addSql` on its own, and each of those holds one
 * bounded transaction (see `migrationStatements`). A comment says why, for whoever reviews the file.
 *
 * @throws {RlsConfigurationError} when the file has no class extending `Migration` (a custom generator).
 */
export function nonTransactionalMigrationFile(code: string): string {
  if (!CLASS_HEAD.test(code)) {
    throw new RlsConfigurationError(
      'mikro-orm-rls: this migration holds too many locks for one transaction, so it must run as several, but the ' +
        "migration generator's file has no `class ... extends Migration {` to say so (isTransactional() returning false). " +
        "Use MikroORM's own generator (migrations.emit 'ts' or 'js'), or add that method to the class by hand.",
    );
  }
  const typed = /^export\s+class/m.test(code);
  const override = /\boverride\s/.test(code) ? 'override ' : '';
  const method = [
    '  // mikro-orm-rls: too many locks for one transaction on a server with default settings',
    '  // (max_locks_per_transaction), so each addSql below is one transaction, run in order: if one fails,',
    '  // the ones before it stay applied (see "Large migrations" in the mikro-orm-rls README).',
    `  ${override}isTransactional()${typed ? ': boolean' : ''} {`,
    '    return false;',
    '  }',
    '',
  ].join('\n');
  return code.replace(CLASS_HEAD, `$1\n${method}`);
}

/** What MikroORM's migration generators have in common, on both majors. */
export interface MigrationFileGenerator {
  generateMigrationFile(className: string, diff: { up: string[]; down: string[] }): string | Promise<string>;
}

const wrapped = new WeakSet<MigrationFileGenerator>();

/**
 * Makes `generator` write each file as {@link nonTransactionalMigrationFile} whenever `transactional()`
 * says no (the plan of the migration being created). Idempotent: a generator is wrapped once.
 */
export function writeTransactionalAsPlanned(generator: MigrationFileGenerator, transactional: () => boolean): void {
  if (wrapped.has(generator)) return;
  wrapped.add(generator);
  const write = generator.generateMigrationFile.bind(generator);
  generator.generateMigrationFile = async (className, diff) => {
    const code = await write(className, diff);
    return transactional() ? code : nonTransactionalMigrationFile(code);
  };
}
