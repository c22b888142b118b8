export const AUDIT_USAGE = `Usage: mikro-orm-rls audit [--json]
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

export const POLICIES_USAGE = `Usage: mikro-orm-rls policies [--live] [--json | --markdown | --html FILE]
       mikro-orm-rls policies --help

The policy explorer. For every table with declared policies: which commands (select, insert, update,
delete) are allowed to whom under which expressions (permissive and restrictive policies, roles, USING
and WITH CHECK), ENABLE/FORCE, and warnings (writes without SELECT, FOR ALL widening SELECT, tables
without RLS that reference RLS tables, policies that read no context variable). Connects with the
application's MikroORM configuration, like audit. Changes nothing.

Options:
  --live         read the database's policies and flags too, and mark where they differ from the declarations
  --json         print the data as JSON (what describePolicies(orm) returns)
  --markdown     print Markdown, e.g. for a pull request
  --html FILE    write a self-contained HTML page to FILE (a table per schema, a colour per state)
  -h, --help     print this help and exit

Exit status: 0, also when there are warnings or differences (it describes; \`mikro-orm-rls audit\` fails
on problems), 2 on a usage or connection error.`;

export const USAGE = `${AUDIT_USAGE}

${POLICIES_USAGE}`;

/** How `policies` prints what it found. */
export type PoliciesFormat = { readonly kind: 'text' } | { readonly kind: 'json' } | { readonly kind: 'markdown' } | { readonly kind: 'html'; readonly file: string };

/** What the command line asks for. */
export type CliRequest =
  | { readonly kind: 'help'; readonly usage: string }
  | { readonly kind: 'audit'; readonly json: boolean }
  | { readonly kind: 'policies'; readonly live: boolean; readonly format: PoliciesFormat }
  | { readonly kind: 'error'; readonly message: string; readonly usage: string };

const HELP = new Set(['-h', '--help', 'help']);

const listOf = (flags: readonly string[]) => flags.map((f) => `"${f}"`).join(', ');

function parseAudit(flags: readonly string[]): CliRequest {
  const unknown = flags.filter((f) => f !== '--json');
  if (unknown.length > 0) {
    return { kind: 'error', usage: AUDIT_USAGE, message: `mikro-orm-rls audit: unknown option${unknown.length > 1 ? 's' : ''} ${listOf(unknown)}; it takes --json and --help.` };
  }
  return { kind: 'audit', json: flags.includes('--json') };
}

function parsePolicies(flags: readonly string[]): CliRequest {
  const error = (message: string): CliRequest => ({ kind: 'error', usage: POLICIES_USAGE, message: `mikro-orm-rls policies: ${message}` });
  const formats: PoliciesFormat[] = [];
  const unknown: string[] = [];
  let live = false;
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i];
    if (flag === '--live') live = true;
    else if (flag === '--json') formats.push({ kind: 'json' });
    else if (flag === '--markdown') formats.push({ kind: 'markdown' });
    else if (flag === '--html' || flag.startsWith('--html=')) {
      const file = flag === '--html' ? flags[++i] : flag.slice('--html='.length);
      if (file === undefined || file === '' || file.startsWith('--')) return error('--html needs the file to write, e.g. --html policies.html.');
      formats.push({ kind: 'html', file });
    } else unknown.push(flag);
  }
  if (unknown.length > 0) return error(`unknown option${unknown.length > 1 ? 's' : ''} ${listOf(unknown)}; it takes --live, --json, --markdown, --html FILE and --help.`);
  if (formats.length > 1) return error('choose one of --json, --markdown and --html FILE.');
  return { kind: 'policies', live, format: formats[0] ?? { kind: 'text' } };
}

/** Reads `mikro-orm-rls <command> [flags]`; anything it does not know is an error that says what to run instead. */
export function parseCliArguments(args: readonly string[]): CliRequest {
  const [command, ...flags] = args;
  if (command === undefined) return { kind: 'error', usage: USAGE, message: 'mikro-orm-rls: no command given; run "audit" or "policies".' };
  if (HELP.has(command)) return { kind: 'help', usage: USAGE };
  if (command !== 'audit' && command !== 'policies') {
    return { kind: 'error', usage: USAGE, message: `mikro-orm-rls: unknown command "${command}"; the commands are "audit" and "policies".` };
  }
  const usage = command === 'audit' ? AUDIT_USAGE : POLICIES_USAGE;
  if (flags.some((f) => HELP.has(f))) return { kind: 'help', usage };
  return command === 'audit' ? parseAudit(flags) : parsePolicies(flags);
}
