import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';

// A page a person looks at is checked the way a person sees it: Debian's Chromium (`apt-get install
// chromium`; .ci/run installs it) loads the file headless and returns the DOM after it rendered, and a
// screenshot, whose pixels the test reads. tests/browser runs only with RLS_TEST_BROWSER=1
// (scripts/browser-tests.cjs), so a machine without Chromium runs the rest of the suite.

const run = promisify(execFile);

/** The environment variable naming the Chromium binary, when it is none of CANDIDATES. */
export const CHROMIUM_ENV = 'RLS_TEST_CHROMIUM';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The Chromium binary: RLS_TEST_CHROMIUM, else Debian's; a clear error when there is none. */
export function chromiumBinary(): string {
  const named = process.env[CHROMIUM_ENV];
  if (named) {
    if (!existsSync(named)) throw new Error(`${CHROMIUM_ENV}=${named}: no such file. Point it at a Chromium binary, or unset it to use /usr/bin/chromium.`);
    return named;
  }
  const found = CANDIDATES.find((path) => existsSync(path));
  if (!found) {
    throw new Error(
      `tests/browser needs Chromium and found none of ${CANDIDATES.join(', ')}: install Debian's (apt-get install chromium), ` +
        `set ${CHROMIUM_ENV} to a Chromium binary, or run without RLS_TEST_BROWSER=1 to leave these tests out.`,
    );
  }
  return found;
}

/** A decoded RGBA screenshot. */
export interface Screenshot {
  readonly width: number;
  readonly height: number;
  /** 4 bytes per pixel, rows top to bottom. */
  readonly rgba: Buffer;
}

export interface RenderedPage {
  /** The document as Chromium serialised it after loading it. */
  readonly dom: string;
  readonly screenshot: Screenshot;
}

/**
 * Loads `htmlFile` in headless Chromium twice (once for the DOM, once for a `width` x `height` screenshot),
 * with a profile of its own that is deleted after. No network: the page must be self-contained.
 */
export async function renderInChromium(htmlFile: string, size = { width: 1280, height: 1600 }): Promise<RenderedPage> {
  const binary = chromiumBinary();
  const scratch = mkdtempSync(join(tmpdir(), 'rls-chromium-'));
  // --no-sandbox: CI runs as root, where Chromium refuses its sandbox. The page is our own file.
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run', `--user-data-dir=${join(scratch, 'profile')}`];
  const url = pathToFileURL(htmlFile).href;
  try {
    const dump = await run(binary, [...flags, '--dump-dom', url], { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
    const png = join(scratch, 'screenshot.png');
    await run(binary, [...flags, `--window-size=${size.width},${size.height}`, `--screenshot=${png}`, url], { timeout: 60_000 });
    if (!existsSync(png)) throw new Error(`Chromium (${binary}) wrote no screenshot of ${htmlFile}.`);
    const decoded = PNG.sync.read(readFileSync(png));
    return { dom: dump.stdout, screenshot: { width: decoded.width, height: decoded.height, rgba: decoded.data } };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** `#rrggbb` as [r, g, b]. */
export function rgbOf(hex: string): [number, number, number] {
  const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!match) throw new Error(`"${hex}" is not a #rrggbb colour.`);
  return [parseInt(match[1], 16), parseInt(match[2], 16), parseInt(match[3], 16)];
}

/** How many pixels of the screenshot have exactly this colour. */
export function pixelsOfColour(screenshot: Screenshot, hex: string): number {
  const [r, g, b] = rgbOf(hex);
  let count = 0;
  for (let i = 0; i < screenshot.rgba.length; i += 4) {
    if (screenshot.rgba[i] === r && screenshot.rgba[i + 1] === g && screenshot.rgba[i + 2] === b) count++;
  }
  return count;
}
