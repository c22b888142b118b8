#!/usr/bin/env node
import { loadInstalledAdapter, loadInstalledCliConfigLoader } from '../adapters/installed-adapter';
import { describeAuditTarget } from '../core/audit/audit-target';
import { writeFileSync } from 'node:fs';
import { renderPolicyMapHtml } from '../core/explorer/render-html';
import { renderPolicyMapMarkdown } from '../core/explorer/render-markdown';
import { renderPolicyMapText } from '../core/explorer/render-text';
import { parseCliArguments, type PoliciesFormat } from './cli-arguments';

async function audit(json: boolean): Promise<number> {
  // The application's configuration, found and loaded the way the installed major's mikro-orm CLI does.
  const orm = await loadInstalledCliConfigLoader().ormFromCliConfig();
  try {
    const { target, findings } = await loadInstalledAdapter().auditRlsReport(orm);
    const header = describeAuditTarget(target);
    if (json) {
      // stdout stays one JSON document for machines; the header is for the person reading the terminal.
      for (const line of header) console.error(line);
      console.log(JSON.stringify(findings, null, 2));
    } else {
      for (const line of header) console.log(line);
      if (findings.length === 0) console.log('mikro-orm-rls audit: no problems found.');
      for (const f of findings) console.log(`${f.code}${f.table ? ` ${f.table}` : ''}: ${f.message} Fix: ${f.fix}`);
    }
    return findings.length > 0 ? 1 : 0;
  } finally {
    await orm.close(true);
  }
}

async function policies(live: boolean, format: PoliciesFormat): Promise<number> {
  const orm = await loadInstalledCliConfigLoader().ormFromCliConfig();
  try {
    const map = await loadInstalledAdapter().describePolicies(orm, { live });
    if (format.kind === 'json') console.log(JSON.stringify(map, null, 2));
    else if (format.kind === 'markdown') console.log(renderPolicyMapMarkdown(map));
    else if (format.kind === 'text') console.log(renderPolicyMapText(map));
    else {
      writeFileSync(format.file, renderPolicyMapHtml(map));
      console.log(`mikro-orm-rls policies: wrote ${format.file} (${map.tables.length} table(s)).`);
    }
    // An explorer: warnings and differences are shown, not failed on (the audit fails on them).
    return 0;
  } finally {
    await orm.close(true);
  }
}

async function main(args: string[]): Promise<number> {
  const request = parseCliArguments(args);
  if (request.kind === 'help') {
    console.log(request.usage);
    return 0;
  }
  if (request.kind === 'error') {
    console.error(`${request.message}\n\n${request.usage}`);
    return 2;
  }
  if (request.kind === 'policies') return policies(request.live, request.format);
  return audit(request.json);
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(`mikro-orm-rls: ${(error as Error).message}`);
    process.exitCode = 2;
  },
);
