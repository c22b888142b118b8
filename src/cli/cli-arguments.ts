export const USAGE = `Usage: mikro-orm-rls audit [--json]
       mikro-orm-rls audit --help

Connects with the application's MikroORM configuration (found like the mikro-orm CLI finds it, e.g.
MIKRO_ORM_CLI_CONFIG or package.json "mikro-orm".configPaths) and reports setups that defeat row-level
security, one line each with a suggested fix. The first line names the database and the role checked;
audit the role your application connects as (MikroORM's MIKRO_ORM_USER and MIKRO_ORM_PASSWORD, or
MIKRO_ORM_CLIENT_URL, override the configuration's). Changes nothing.

Options:
  --json      print the findings as a JSON array on stdout (the database and role go to stderr)
  -h, --help  print this help and exit

Exit status: 0 when nothing is found, 1 when something is, 2 on a usage or connection error.`;

/** What the command line asks for. */
export type CliRequest = { readonly kind: 'help' } | { readonly kind: 'audit'; readonly json: boolean } | { readonly kind: 'error'; readonly message: string };

const HELP = new Set(['-h', '--help', 'help']);

/** Reads `mikro-orm-rls <command> [flags]`; anything it does not know is an error that says what to run instead. */
export function parseCliArguments(args: readonly string[]): CliRequest {
  const [command, ...flags] = args;
  if (command === undefined) return { kind: 'error', message: 'mikro-orm-rls: no command given.' };
  if (HELP.has(command)) return { kind: 'help' };
  if (command !== 'audit') return { kind: 'error', message: `mikro-orm-rls: unknown command "${command}"; the only command is "audit".` };
  if (flags.some((f) => HELP.has(f))) return { kind: 'help' };
  const unknown = flags.filter((f) => f !== '--json');
  if (unknown.length > 0) {
    const list = unknown.map((f) => `"${f}"`).join(', ');
    return { kind: 'error', message: `mikro-orm-rls audit: unknown option${unknown.length > 1 ? 's' : ''} ${list}; it takes --json and --help.` };
  }
  return { kind: 'audit', json: flags.includes('--json') };
}
