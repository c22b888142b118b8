import { installedMikroOrmVersion, loadInstalledAdapter } from '../../src/adapters/installed-adapter';
import { RlsConfigurationError } from '../../src/core/errors';
import * as root from '../../src';
import { mikroOrmTreeOfThisRun, pinnedMikroOrmVersion } from '../support/mikro-orm-tree';

// The package's entry points load the adapter of the installed @mikro-orm/core major, and only that one.

const tree = mikroOrmTreeOfThisRun();

it('reads the version of the @mikro-orm/core this run installs', () => {
  expect(installedMikroOrmVersion()).toBe(pinnedMikroOrmVersion(tree));
});

it(`loads the adapter of the installed major (${tree === 'v7' ? 'mikro-orm-7' : 'mikro-orm-6'}), and the root exports are that adapter's`, () => {
  const expected = tree === 'v7' ? require('../../src/adapters/mikro-orm-7') : require('../../src/adapters/mikro-orm-6');
  const adapter = loadInstalledAdapter();
  expect(adapter).toBe(expected);
  for (const name of ['withRls', 'RlsEntityManager', 'RlsViolationError', 'createPolicies', 'dropPolicies', 'RlsSessioner', 'auditRls', 'auditRlsReport'] as const) {
    expect({ name, same: root[name] === adapter[name] }).toEqual({ name, same: true });
  }
});

it('loads the MikroORM 6 adapter for any 6.x and the MikroORM 7 one for 7.x of the same tree only', () => {
  // The adapter of the other major cannot load in this tree (its MikroORM is not installed), so only
  // the installed major's versions are asked for here.
  const [major] = pinnedMikroOrmVersion(tree).split('.');
  expect(loadInstalledAdapter(`${major}.99.0`)).toBe(loadInstalledAdapter());
});

it.each(['5.9.4', '8.0.0', '0.1.0', 'not-a-version'])('refuses @mikro-orm/core %s with an error that names it and the supported majors', (version) => {
  let thrown: unknown;
  try {
    loadInstalledAdapter(version);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(RlsConfigurationError);
  expect((thrown as Error).message).toContain(`the installed @mikro-orm/core is ${version}`);
  expect((thrown as Error).message).toMatch(/MikroORM 6 \(6\.6\.16 or later 6\.x\) and MikroORM 7 \(7\.2\.1 or later 7\.x\)/);
});
