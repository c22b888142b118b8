import { compactPattern, compactSource, sourceHas } from '../../src/core/adapter/source-text';
import { spread, stripped } from '../support/relayout-source';

// The matcher the adapters' start-up checks read MikroORM's source with: layout never matters, a
// changed token does. The original line is MikroORM 7.2.1's EntityManager.fork as published.

const ORIGINAL = 'const fork = new em.constructor(em.config, em.driver, em.metadata, options.useContext, eventManager);';
const FORK = /new em\.constructor\(em\.config, em\.driver\b/;

it('matches the published text', () => {
  expect(sourceHas(ORIGINAL, FORK)).toBe(true);
});

it('matches the text tsx prints (no spaces next to punctuation) and a text spread over lines', () => {
  expect(stripped(ORIGINAL)).toContain('new em.constructor(em.config,em.driver,');
  expect(FORK.test(stripped(ORIGINAL))).toBe(false); // what failed under npx tsx
  expect(sourceHas(stripped(ORIGINAL), FORK)).toBe(true);
  expect(sourceHas(spread(ORIGINAL), FORK)).toBe(true);
});

it('does not match a really changed text', () => {
  expect(sourceHas(ORIGINAL.replace('em.driver', 'em.getDriver()'), FORK)).toBe(false);
  expect(sourceHas(stripped(ORIGINAL.replace('em.config', 'this.config')), FORK)).toBe(false);
  // two words stay two words: `newem` is not `new em`
  expect(sourceHas('newem.constructor(em.config,em.driver)', FORK)).toBe(false);
});

it('keeps one space between words and none elsewhere, in the text and in the pattern', () => {
  expect(compactSource('async  *stream(query,\n  params = [] ) {')).toBe('async*stream(query,params=[]){');
  expect(compactPattern(/^async \*stream\(query, params = \[\]/).source).toBe('^async ?\\*stream\\(query, ?params ?= ?\\[\\]');
  expect(sourceHas("let sql = 'start transaction'", /sql = 'start transaction'/)).toBe(true);
  expect(sourceHas("let sql='starttransaction'", /sql = 'start transaction'/)).toBe(false);
});
