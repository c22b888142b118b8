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

// What tsx's require() hook (esbuild) printed for MikroORM 7.2.1's DatabaseDriver.getConnection and
// AbstractSqlConnection.execute in a CommonJS project: double quotes, no semicolon before a `}`.
const GET_CONNECTION = `getConnection(type = 'write') {
        if (type === 'write' || this.replicas.length === 0) {
            return this.connection;
        }`;
const GET_CONNECTION_BY_ESBUILD = 'getConnection(type="write"){if(type==="write"||this.replicas.length===0){return this.connection}';

it('matches the text esbuild prints: strings in double quotes, no semicolon before a closing brace', () => {
  for (const text of [GET_CONNECTION, GET_CONNECTION_BY_ESBUILD]) {
    expect(sourceHas(text, /return this\.connection;/)).toBe(true);
    expect(sourceHas(text, /getConnection\(type = 'write'\)/)).toBe(true);
    expect(sourceHas(text, /if \(type === 'write' \|\| this\.replicas\.length === 0\) \{/)).toBe(true);
  }
  expect(sourceHas("async execute(query, params = [], method = 'all', ctx, loggerContext)", /method = 'all', ctx/)).toBe(true);
  expect(sourceHas('async execute(query,params=[],method="all",ctx,loggerContext)', /method = 'all', ctx/)).toBe(true);
});

it('still tells a changed token: another string, a semicolon that is neither there nor before a brace', () => {
  expect(sourceHas(GET_CONNECTION_BY_ESBUILD.replace('"write"', '"read"'), /getConnection\(type = 'write'\)/)).toBe(false);
  expect(sourceHas('return this.connection.next}', /return this\.connection;/)).toBe(false);
  expect(sourceHas('return this.connection + 1;', /return this\.connection;/)).toBe(false);
  // a `;` inside a character class stays a character
  expect(compactPattern(/a[;]b/).source).toBe('a[;]b');
  expect(compactPattern(/a;b/).source).toBe('a(?:;|(?=\\}))b');
});
