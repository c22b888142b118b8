import { RlsConfigurationError } from '../core/errors/rls-configuration-error';
import type * as PublicApi from './public-api/rls-public-api';

/**
 * What an adapter's index exports: both majors' indexes export the same names
 * (tests/unit/adapter-exports.test.ts compares them), so the package's entry points can re-export
 * whichever one is loaded.
 */
export type RlsAdapterModule = typeof PublicApi;

/** The MikroORM majors this package has an adapter for, with the oldest version each is tested with. */
export const SUPPORTED_MIKRO_ORM = { 6: '6.6.16', 7: '7.2.1' } as const;

/** The version of the `@mikro-orm/core` the application resolves (the one MikroORM itself loads). */
export function installedMikroOrmVersion(): string {
  // Both majors export ./package.json; reading it loads no MikroORM code.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('@mikro-orm/core/package.json') as { version: string }).version;
}

/**
 * Loads the adapter of the installed MikroORM major (`src/adapters/mikro-orm-<major>`); only that one is
 * loaded, so a MikroORM 7 application never loads the MikroORM 6 adapter and vice versa.
 *
 * @throws {RlsConfigurationError} when `@mikro-orm/core` is missing or of a major without an adapter.
 */
export function loadInstalledAdapter(version: string = installedMikroOrmVersionOrThrow()): RlsAdapterModule {
  // A literal path per major, so that bundlers and the build see both adapters.
  /* eslint-disable @typescript-eslint/no-require-imports */
  return supportedMajor(version) === 6 ? (require('./mikro-orm-6') as RlsAdapterModule) : (require('./mikro-orm-7') as RlsAdapterModule);
  /* eslint-enable @typescript-eslint/no-require-imports */
}

/** How the `mikro-orm-rls` CLI loads the application's configuration on the installed major (as its `mikro-orm` CLI does). */
export type CliConfigLoader = typeof import('./mikro-orm-6/cli/orm-from-cli-config');

/**
 * The installed major's way of loading the application's configuration for the `mikro-orm-rls` CLI
 * (MikroORM 6: ts-node and ConfigurationLoader; MikroORM 7: `@mikro-orm/cli`'s loader).
 *
 * @throws {RlsConfigurationError} as {@link loadInstalledAdapter}.
 */
export function loadInstalledCliConfigLoader(version: string = installedMikroOrmVersionOrThrow()): CliConfigLoader {
  /* eslint-disable @typescript-eslint/no-require-imports */
  return supportedMajor(version) === 6
    ? (require('./mikro-orm-6/cli/orm-from-cli-config') as CliConfigLoader)
    : (require('./mikro-orm-7/cli/orm-from-cli-config') as CliConfigLoader);
  /* eslint-enable @typescript-eslint/no-require-imports */
}

function supportedMajor(version: string): 6 | 7 {
  const major = Number(version.split('.')[0]);
  if (major === 6 || major === 7) return major;
  throw new RlsConfigurationError(
    `mikro-orm-rls supports MikroORM 6 (${SUPPORTED_MIKRO_ORM[6]} or later 6.x) and MikroORM 7 (${SUPPORTED_MIKRO_ORM[7]} or later 7.x), ` +
      `but the installed @mikro-orm/core is ${version}. Install a supported MikroORM (every @mikro-orm/* package at the same version), ` +
      'or a mikro-orm-rls release that supports this one.',
  );
}

function installedMikroOrmVersionOrThrow(): string {
  try {
    return installedMikroOrmVersion();
  } catch (cause) {
    throw new RlsConfigurationError(
      `mikro-orm-rls could not find @mikro-orm/core (${(cause as Error).message.split('\n')[0]}). ` +
        'Install MikroORM next to it: @mikro-orm/core and @mikro-orm/postgresql, 6.6.16+ or 7.2.1+, at the same version.',
      { cause },
    );
  }
}
