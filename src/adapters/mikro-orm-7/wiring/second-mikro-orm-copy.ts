import { AbstractSqlDriver } from '@mikro-orm/sql';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';

/**
 * Refuses a configuration whose driver is not of the MikroORM this package loaded. MikroORM 7 is ES
 * modules only and this package's CommonJS build reaches it through require(), which Node 22 answers
 * with the very modules the application imports. A require hook that compiles ES modules to CommonJS
 * instead (tsx's `npx tsx` and `node --import tsx`) hands the build a second copy of MikroORM, unless the
 * package was loaded through its ES module entry, which shares the application's modules with the build
 * first (src/esm/share-es-module-peers.mjs). Then its classes are not the application's, nothing it
 * wires would apply, and its checks of MikroORM's internals read the compiled copy. Said plainly here,
 * before those checks fail with a message about MikroORM's version.
 */
export function refuseSecondMikroOrmCopy(driver: unknown): void {
  if (typeof driver !== 'function' || driver === AbstractSqlDriver || driver.prototype instanceof AbstractSqlDriver) return;
  if (!isMikroOrmDriverClass(driver)) return;
  throw new RlsConfigurationError(
    'withRls: the configuration\'s driver comes from another copy of MikroORM than the one this package loaded. ' +
      "A require() hook that compiles ES modules to CommonJS (tsx's `npx tsx`, `node --import tsx`) does this when the package's CommonJS build " +
      "is loaded other than through its ES module entry (a require('mikro-orm-rls') in a CommonJS file of an ES module project, or a path into the package): " +
      'MikroORM 7 is then loaded twice. ' +
      "Import the package by its name (import { withRls } from 'mikro-orm-rls'), whose ES module entry shares your MikroORM with it, " +
      "or run TypeScript with tsx's ES module loader only, `node --import tsx/esm app.ts`, or compile with tsc first.",
  );
}

/** Whether a class descends from a class named AbstractSqlDriver: a MikroORM SQL driver, of whichever copy. */
function isMikroOrmDriverClass(driver: { prototype: unknown }): boolean {
  for (let proto = Object.getPrototypeOf(driver.prototype); proto; proto = Object.getPrototypeOf(proto)) {
    if ((proto as { constructor?: { name?: string } }).constructor?.name === 'AbstractSqlDriver') return true;
  }
  return false;
}
