import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describePolicies } from '../../src';
import { renderPolicyMapHtml, STATE_COLOURS } from '../../src/core/explorer/render-html';
import { boot, type Booted } from '../fixtures/boot';
import { EXPLORER_MODEL_STATES, explorerModel } from '../fixtures/explorer-model';
import { pixelsOfColour, renderInChromium } from '../support/headless-chromium';
import { grantSchemaUsage } from '../support/test-database';

// The explorer's HTML page as a person sees it: built from a real database (read as the application
// role), rendered by Chromium, checked in the DOM Chromium built and in the pixels it painted.

jest.setTimeout(180_000);

let t: Booted;
let folder: string;
beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'rls-explorer-page-'));
  t = await boot({ entities: explorerModel() });
  await grantSchemaUsage(t.db, 'archive');
});
afterAll(async () => {
  await t?.close();
  rmSync(folder, { recursive: true, force: true });
});

/** The `data-state` of every cell of the DOM, by `schema.table` and command. */
function statesIn(dom: string): Record<string, Record<string, string>> {
  const states: Record<string, Record<string, string>> = {};
  for (const cell of dom.matchAll(/<td [^>]*data-table="([^"]+)" data-command="([^"]+)" data-state="([^"]+)"/g)) {
    (states[cell[1]] ??= {})[cell[2]] = cell[3];
  }
  return states;
}

/** The DOM's text, tags removed and entities decoded (what the page shows). */
function textOf(dom: string): string {
  return dom.replace(/<[^>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

it('shows a table per schema, each command in the colour of its state, and expressions as written', async () => {
  const map = await describePolicies(t.app as never, { live: true });
  expect({ differences: map.tables.flatMap((x) => x.differences), warnings: map.otherWarnings }).toEqual({ differences: [], warnings: [] });
  const page = join(folder, 'policies.html');
  writeFileSync(page, renderPolicyMapHtml(map));

  const { dom, screenshot } = await renderInChromium(page, { width: 1280, height: 1600 });

  expect([...dom.matchAll(/<table data-schema="([^"]+)"/g)].map((m) => m[1]).sort()).toEqual(['archive', 'public']);
  expect(dom.match(/<table[\s>]/g)).toHaveLength(2);
  expect(statesIn(dom)).toEqual(EXPLORER_MODEL_STATES);

  // The page shows the live side (PostgreSQL's text). Chromium serialises text with < > & escaped, so the escaping is only right if the decoded text holds
  // the SQL's characters once (escaped twice, it would read "&lt;" after decoding).
  const ledgerExpression = map.tables.find((x) => x.name === 'ledger')!.live!.commands[0].policies[0].using!;
  expect(ledgerExpression).toMatch(/</);
  expect(ledgerExpression).toMatch(/>/);
  expect(ledgerExpression).toMatch(/&/);
  const text = textOf(dom);
  expect(text).toContain(ledgerExpression);
  expect(text).not.toMatch(/&(lt|gt|amp);/);

  // Every state on the page gets a cell's worth of pixels at least: 4 cells allowed in ledger and 1 in
  // entry, 4 restricted, 3 refused; a cell is at least 100 x 30 pixels of background.
  const cellsPerState = { allowed: 5, restricted: 4, refused: 3 } as const;
  for (const [state, cells] of Object.entries(cellsPerState)) {
    expect({ state, substantial: pixelsOfColour(screenshot, STATE_COLOURS[state as keyof typeof cellsPerState]) > cells * 100 * 30 }).toEqual({ state, substantial: true });
  }
  expect(pixelsOfColour(screenshot, STATE_COLOURS.unprotected)).toBe(0);
});
