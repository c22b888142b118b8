import { readFileSync, writeFileSync } from 'node:fs';
import { measureDdl } from '../ddl/ddl-part';
import type { DdlPartInput } from '../ddl/ddl-section';

// The MikroORM 7 part of the bench's DDL section, started by bench/ddl/ddl-section.ts on the Node 22 of
// v7/ (as bench/v7/main.ts is): the same measuring loop on the same server, with MikroORM 7.

async function main(): Promise<void> {
  const [inputFile, outputFile] = process.argv.slice(2);
  if (!inputFile || !outputFile) throw new Error('Usage: bench/v7/ddl-main.ts <input.json> <output.json> (bench/main.ts starts it; run npm run bench).');
  const { ownerUrl, plan } = JSON.parse(readFileSync(inputFile, 'utf8')) as DdlPartInput;
  writeFileSync(outputFile, JSON.stringify(await measureDdl(7, ownerUrl, plan)));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
