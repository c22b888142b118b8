import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// `npm run demo` as a user runs it on a machine without DATABASE_URL: it must start an embedded
// PostgreSQL, migrate, seed, serve, print curl commands that work, and stop cleanly on Ctrl-C.

jest.setTimeout(180_000);

const repo = join(__dirname, '..', '..');
const dataDir = mkdtempSync(join(tmpdir(), 'mikro-orm-rls-demo-'));
let demo: ChildProcess;
let output = '';
let exited: Promise<number | null>;

interface Curl {
  method: string;
  headers: Record<string, string>;
  body?: string;
  url: string;
}

/** Reads the `curl` lines the demo printed: -X, -H and -d options, then the URL. */
function printedCurls(text: string): Curl[] {
  return text
    .split('\n')
    .filter((line) => line.trim().startsWith('curl '))
    .map((line) => {
      const tokens = [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]).slice(1);
      const curl: Curl = { method: 'GET', headers: {}, url: '' };
      for (let i = 0; i < tokens.length; i++) {
        if (tokens[i] === '-s') continue;
        else if (tokens[i] === '-X') curl.method = tokens[++i];
        else if (tokens[i] === '-H') {
          const [name, ...value] = tokens[++i].split(':');
          curl.headers[name.trim()] = value.join(':').trim();
        } else if (tokens[i] === '-d') curl.body = tokens[++i];
        else curl.url = tokens[i];
      }
      return curl;
    });
}

const run = async (c: Curl) => {
  const res = await fetch(c.url, { method: c.method, headers: c.headers, body: c.body });
  return { status: res.status, body: (await res.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
};

beforeAll(async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', DEMO_DATA_DIR: dataDir, FORCE_COLOR: '0' };
  delete env.DATABASE_URL;
  demo = spawn('npm', ['run', 'demo'], { cwd: repo, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  demo.stdout!.on('data', (chunk) => (output += chunk));
  demo.stderr!.on('data', (chunk) => (output += chunk));
  exited = new Promise((resolve) => demo.once('exit', resolve));
  const deadline = Date.now() + 150_000;
  while (!/Ctrl-C stops/.test(output)) {
    if (Date.now() > deadline || demo.exitCode !== null) throw new Error(`The demo did not become ready:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
});

afterAll(async () => {
  if (demo && demo.exitCode === null && demo.signalCode === null) process.kill(-demo.pid!, 'SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

it('says it uses an embedded PostgreSQL and prints six curl commands', () => {
  expect(output).toMatch(/demo ready on http:\/\/127\.0\.0\.1:\d+ \(PostgreSQL: embedded/);
  expect(printedCurls(output)).toHaveLength(6);
});

it('the printed curl commands show isolation, refusal and bypass', async () => {
  const [alice, bob, aliceForeign, aliceCreate, anonymous, admin] = printedCurls(output);
  const titles = (body: { title: string }[]) => body.map((i) => i.title);
  expect(titles((await run(alice)).body)).toEqual(['Acme roadmap', 'Acme payroll']);
  expect(titles((await run(bob)).body)).toEqual(['Globex secret plan']);
  expect((await run(aliceForeign)).status).toBe(404);
  const created = await run(aliceCreate);
  expect(created).toMatchObject({ status: 201, body: { title: 'Acme launch', account: 1 } });
  expect(titles((await run(bob)).body)).toEqual(['Globex secret plan']);
  expect((await run(anonymous)).status).toBe(401);
  expect(titles((await run(admin)).body)).toEqual(['Acme roadmap', 'Acme payroll', 'Globex secret plan', 'Acme launch']);
});

it('Ctrl-C stops the server and the embedded database cleanly', async () => {
  // Ctrl-C in a terminal signals the whole process group (npm and the demo); npm itself exits on it.
  process.kill(-demo.pid!, 'SIGINT');
  await exited;
  const deadline = Date.now() + 30_000;
  while ((!/demo stopped/.test(output) || existsSync(join(dataDir, 'postmaster.pid'))) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(output).toMatch(/demo stopped/);
  expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false);
  expect(output).not.toMatch(/Error/);
});
