import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pixelsOfColour, renderInChromium } from '../support/headless-chromium';

// The harness the HTML pages are checked with: what it returns is what Chromium drew, so a page's
// test can trust a colour it counts and a text it reads (and a page that draws nothing fails).

jest.setTimeout(120_000);

let folder: string;
beforeAll(() => (folder = mkdtempSync(join(tmpdir(), 'rls-browser-'))));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

it('returns the DOM after the page ran and a screenshot holding the colours it painted, in proportion', async () => {
  const page = join(folder, 'page.html');
  writeFileSync(
    page,
    `<!doctype html><html><head><style>body { margin: 0; background: #ffffff; } div { height: 100px; }
     .a { background: #1a7f37; width: 400px; } .b { background: #cf222e; width: 100px; }</style></head>
     <body><div class="a"></div><div class="b"></div><p id="late"></p>
     <script>document.getElementById('late').textContent = 'written by the ' + 'page';</script></body></html>`,
  );
  const { dom, screenshot } = await renderInChromium(page, { width: 800, height: 600 });
  expect(dom).toContain('<p id="late">written by the page</p>');
  expect({ width: screenshot.width, height: screenshot.height }).toEqual({ width: 800, height: 600 });
  expect(pixelsOfColour(screenshot, '#1a7f37')).toBe(400 * 100);
  expect(pixelsOfColour(screenshot, '#cf222e')).toBe(100 * 100);
  // The rest is the white page, less the paragraph's text the script wrote (a few hundred pixels of glyphs).
  const white = pixelsOfColour(screenshot, '#ffffff');
  const text = 800 * 600 - 400 * 100 - 100 * 100 - white;
  expect(text).toBeGreaterThan(100);
  expect(text).toBeLessThan(5_000);
});
