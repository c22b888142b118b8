// What both consumer tests (scripts/consumer-test.mjs on MikroORM 6, scripts/consumer-test-v7.mjs on
// MikroORM 7) share: running a project's commands with their output kept for failures, the timings, the
// environment of a user's shell, the install line with the tarball in place of the name, and `npm pack`.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export class StepFailed extends Error {}

export const timings = [];
export const failures = [];

/** The command running now, so that a signal can stop it and let the clean-up run. */
let current;
/** The signal that stopped the test, if one did. */
let stoppedBy;

/** Runs `command args` and resolves to its exit status (or the reason it did not exit) and its output. */
export function spawnCaptured(command, args, { cwd, env, timeoutSeconds }) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutSeconds * 1000 });
    current = child;
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', (error) => resolve({ status: null, why: error.message, output }));
    child.on('close', (status, signal) => {
      current = undefined;
      const why = signal ? `killed by ${signal}${stoppedBy ? '' : `, maybe at the ${timeoutSeconds} s limit`}` : `exit code ${status}`;
      resolve({ status, why, output: output.trim() });
    });
  });
}

/** Runs `command args` in `cwd`; throws StepFailed, after printing the command and its output, unless it exits 0. */
export async function run(step, command, args, { cwd, env = consumerEnv(), timeoutSeconds = 300, quiet = false } = {}) {
  if (stoppedBy) throw new StepFailed(`${step}: not run, stopped by ${stoppedBy}`);
  const started = Date.now();
  const shown = [command, ...args].map((arg) => (arg.length > 200 ? '<script>' : arg)).join(' ');
  process.stdout.write(`\n--- ${step}\n$ ${shown}   (in ${cwd})\n`);
  const { status, why, output } = await spawnCaptured(command, args, { cwd, env, timeoutSeconds });
  const seconds = (Date.now() - started) / 1000;
  timings.push([step, seconds]);
  if (status !== 0) {
    console.error(`FAILED: ${step} (${why}, after ${seconds.toFixed(1)} s)\n${indent(lastLines(output, 200))}`);
    throw new StepFailed(`${step}: ${why}`);
  }
  console.log(`${quiet || !output ? '' : `${indent(lastLines(output, 20))}\n`}ok (${seconds.toFixed(1)} s)`);
  return output;
}

/** Throws StepFailed with `message` (and prints it) unless `condition` holds. */
export function check(step, condition, message) {
  if (condition) return;
  console.error(`FAILED: ${step}\n${indent(message)}`);
  throw new StepFailed(`${step}: ${message.split('\n')[0]}`);
}

export const indent = (text) => text.replace(/^/gm, '    ');
export function lastLines(text, count) {
  const lines = text.split('\n');
  return lines.length <= count ? text : [`[... ${lines.length - count} earlier lines left out]`, ...lines.slice(-count)].join('\n');
}

/**
 * The environment of the project's commands: without what `npm run` adds (node_modules/.bin folders of
 * the repository on PATH, npm_* variables) and without variables that would point Node, ts-node or
 * MikroORM elsewhere.
 */
export function consumerEnv(extra = {}) {
  const env = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(name) || ['INIT_CWD', 'NODE_PATH', 'NODE_OPTIONS'].includes(name) || /^(MIKRO_ORM_|TS_NODE_)/.test(name)) continue;
    env[name] = value;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((entry) => !/node_modules[\\/]\.bin$/.test(entry) && !/[\\/]@npmcli[\\/]run-script[\\/]/.test(entry))
    .join(delimiter);
  return { ...env, FORCE_COLOR: '0', NO_COLOR: '1', ...extra };
}

/** `npm i ...` from a line as a user types it, with `mikro-orm-rls` replaced by the tarball. */
export function installArgs(line, tarball) {
  const [npm, ...args] = line.split(' ');
  if (npm !== 'npm') throw new Error(`Not an npm command line: ${line}`);
  return args.map((arg) => (arg === 'mikro-orm-rls' ? tarball : arg));
}


/** `npm pack` of the repository (its prepack script builds and checks dist); returns the tarball's path. */
export async function pack(repo, work) {
  const destination = join(work, 'pack');
  mkdirSync(destination);
  await run('npm pack (prepack: build, check package.json paths)', 'npm', ['pack', '--pack-destination', destination], { cwd: repo, env: process.env });
  const tarballs = readdirSync(destination).filter((f) => f.endsWith('.tgz'));
  check('npm pack', tarballs.length === 1, `Expected one tarball in ${destination}, found: ${tarballs.join(', ') || 'none'}`);
  return join(destination, tarballs[0]);
}

// A signal stops the running command; its step fails and the clean-up runs before the exit.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stoppedBy = signal;
    current?.kill(signal);
  });
}
