import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type { PostgresUser } from './postgres-user';

/** The last few kilobytes a program printed, shown when it fails. */
export class OutputTail {
  private text = '';
  add = (chunk: Buffer | string): void => {
    this.text = (this.text + chunk.toString()).slice(-4000);
  };
  toString = (): string => this.text.trim();
}

export interface ProgramOptions {
  /** Runs the program as this user instead of this process's own (root hands the server to `postgres`). */
  user?: PostgresUser;
  /** A folder the program can enter (the caller's own working folder may be closed to it). */
  cwd: string;
  output: OutputTail;
}

function spawnProgram(command: string, args: string[], { user, cwd, output }: ProgramOptions): ChildProcess {
  // The messages are matched (below) and shown in English whatever the machine's locale.
  const options: SpawnOptions = { cwd, env: { ...process.env, LC_MESSAGES: 'C' }, stdio: ['ignore', 'pipe', 'pipe'], ...user };
  const child = spawn(command, args, options);
  child.stdout!.on('data', output.add);
  child.stderr!.on('data', output.add);
  return child;
}

/** How a child ended, for an error message. */
const ending = (code: number | null, signal: NodeJS.Signals | null) => (signal ? `was killed by ${signal}` : `exited with code ${code}`);

/** Runs a program to its end; rejects (never throws asynchronously) when it cannot start or fails. */
export function runToCompletion(command: string, args: string[], options: ProgramOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawnProgram(command, args, options);
    // Without this listener a spawn failure (EACCES, ENOENT) is an unhandled 'error' event that kills the process.
    child.once('error', (error) => reject(new Error(`${command} could not start: ${error.message}`)));
    child.once('close', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${command} ${ending(code, signal)}`))));
  });
}

/**
 * Starts the server and resolves once it accepts connections, with the running process; rejects if it
 * cannot start or exits first.
 */
export function startUntilReady(command: string, args: string[], options: ProgramOptions): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawnProgram(command, args, options);
    child.once('error', (error) => reject(new Error(`${command} could not start: ${error.message}`)));
    child.once('exit', (code, signal) => reject(new Error(`${command} ${ending(code, signal)} before accepting connections`)));
    // Read from the collected output, as the line may arrive split over two chunks.
    child.stderr!.on('data', () => {
      if (options.output.toString().includes('database system is ready to accept connections')) resolve(child);
    });
  });
}

/** Stops a server started above (SIGINT is PostgreSQL's fast shutdown) and waits until it has exited. */
export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  await exited;
}
