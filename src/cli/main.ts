#!/usr/bin/env node
import { ConfigurationLoader, MikroORM } from '@mikro-orm/core';
import { auditRls } from '../audit/audit-rls';

const USAGE = `Usage: mikro-orm-rls audit [--json]

Connects with the application's MikroORM configuration (found like the mikro-orm CLI finds it, e.g.
MIKRO_ORM_CLI_CONFIG or package.json "mikro-orm".configPaths) and reports setups that defeat row-level
security, one line each with a suggested fix. Exits 1 when anything is found, 0 otherwise.`;

async function main(args: string[]): Promise<number> {
  // Asked for, the usage goes to stdout with exit 0; after a wrong command line, to stderr with exit 2.
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const [command, ...flags] = args;
  if (command !== 'audit' || flags.some((f) => f !== '--json')) {
    console.error(USAGE);
    return 2;
  }
  // Load TypeScript configs the way the mikro-orm CLI does (ts-node, as package.json "mikro-orm" says).
  const settings = ConfigurationLoader.getSettings();
  if (settings.useTsNode !== false) ConfigurationLoader.registerTsNode(settings.tsConfigPath);
  // CommonJS projects load the config with require (so ts-node applies), as the mikro-orm CLI does.
  (ConfigurationLoader as unknown as { commonJSCompat(options: object): void }).commonJSCompat({});
  const orm = await MikroORM.init();
  try {
    const findings = await auditRls(orm);
    if (flags.includes('--json')) {
      console.log(JSON.stringify(findings, null, 2));
    } else if (findings.length === 0) {
      console.log('mikro-orm-rls audit: no problems found.');
    } else {
      for (const f of findings) console.log(`${f.code}${f.table ? ` ${f.table}` : ''}: ${f.message} Fix: ${f.fix}`);
    }
    return findings.length > 0 ? 1 : 0;
  } finally {
    await orm.close(true);
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(`mikro-orm-rls: ${(error as Error).message}`);
    process.exitCode = 2;
  },
);
