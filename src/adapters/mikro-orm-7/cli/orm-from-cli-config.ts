import type { MikroORM } from '@mikro-orm/core';
import { RlsAdapterAssumptionError } from '../../../core/errors/rls-adapter-assumption-error';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';

type CliHelper = typeof import('@mikro-orm/cli').CLIHelper;

/** The members of `@mikro-orm/cli`'s CLIHelper (internal in its typings) that the `mikro-orm` CLI itself uses to load the config. */
export const CLI_HELPER_MEMBERS = ['getSettings', 'registerTypeScriptSupport', 'getORM'] as const;

const isMissingCli = (error: unknown) => {
  const code = (error as { code?: string }).code;
  return (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') && /@mikro-orm\/cli/.test((error as Error).message);
};

function cliHelper(): CliHelper {
  let helper: CliHelper | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    helper = (require('@mikro-orm/cli') as typeof import('@mikro-orm/cli')).CLIHelper;
  } catch (error) {
    if (!isMissingCli(error)) throw error;
    throw new RlsConfigurationError(
      'mikro-orm-rls audit loads the MikroORM 7 configuration the way the mikro-orm CLI does, with @mikro-orm/cli, which is not installed. ' +
        'Install it next to MikroORM (npm i -D -E @mikro-orm/cli@<your @mikro-orm/core version>) and run the audit again.',
      { cause: error },
    );
  }
  const missing = CLI_HELPER_MEMBERS.filter((name) => typeof (helper as unknown as Record<string, unknown> | undefined)?.[name] !== 'function');
  if (missing.length > 0) {
    throw new RlsAdapterAssumptionError("@mikro-orm/cli's CLIHelper loads the configuration with getSettings, registerTypeScriptSupport and getORM", `CLIHelper has no ${missing.join(', ')}`);
  }
  return helper!;
}

/**
 * The ORM of the application's MikroORM 7 configuration, found and loaded as the `mikro-orm` CLI does
 * (its `configure` and `getORM`): the TypeScript loader it would pick (oxc, swc, tsx, jiti, ...) unless
 * package.json "mikro-orm".preferTs is false, the config paths, MIKRO_ORM_CLI_CONFIG and the other
 * MIKRO_ORM_* variables, `require` in CommonJS projects. For `mikro-orm-rls audit`.
 *
 * @throws {RlsConfigurationError} when `@mikro-orm/cli` is not installed.
 */
export async function ormFromCliConfig(): Promise<MikroORM> {
  const cli = cliHelper();
  const settings = cli.getSettings();
  if (settings.preferTs !== false) {
    const typeScript = await cli.registerTypeScriptSupport(settings.tsConfigPath, settings.tsLoader);
    // What the mikro-orm CLI does when no TypeScript loader is installed: JavaScript configs only.
    if (!typeScript) process.env.MIKRO_ORM_CLI_PREFER_TS ??= '0';
  }
  return (await cli.getORM()) as unknown as MikroORM;
}
