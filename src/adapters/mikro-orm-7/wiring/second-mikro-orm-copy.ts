import { AbstractSqlDriver } from '@mikro-orm/sql';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';

/**
 * Refuses a configuration whose driver is not of the MikroORM this package loaded. MikroORM 7 is ES
 * modules only and this package's CommonJS build reaches it through require(), which Node 22 answers
 * with the very modules the application imports. A require hook that compiles ES modules to CommonJS
 * instead (tsx's `node --import tsx` and `npx tsx`, whose hook covers require() too) hands this package
 * a second copy of MikroORM: its classes are not the application's, so nothing it wires would apply,
 * and its checks of MikroORM's internals read the compiled copy. Said plainly here, before those checks
 * fail with a message about MikroORM's version.
 */
export function refuseSecondMikroOrmCopy(driver: unknown): void {
  if (typeof driver !== 'function' || driver === AbstractSqlDriver || driver.prototype instanceof AbstractSqlDriver) return;
  if (!isMikroOrmDriverClass(driver)) return;
  throw new RlsConfigurationError(
    'withRls: the configuration\'s driver comes from another copy of MikroORM than the one this package loaded. ' +
      'A require() hook that compiles ES modules to CommonJS does this (tsx\'s `node --import tsx` and `npx tsx`): MikroORM 7 is then loaded twice. ' +
      'Run TypeScript with tsx\'s ES module loader only, `node --import tsx/esm app.ts` (tests: `node --import tsx/esm --test`), or compile with tsc first.',
  );
}

/** Whether a class descends from a class named AbstractSqlDriver: a MikroORM SQL driver, of whichever copy. */
function isMikroOrmDriverClass(driver: { prototype: unknown }): boolean {
  for (let proto = Object.getPrototypeOf(driver.prototype); proto; proto = Object.getPrototypeOf(proto)) {
    if ((proto as { constructor?: { name?: string } }).constructor?.name === 'AbstractSqlDriver') return true;
  }
  return false;
}
