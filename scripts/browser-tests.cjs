// tests/browser loads pages in headless Chromium (tests/support/headless-chromium.ts), which only a machine
// with Chromium has (Debian: apt-get install chromium; .ci/run installs it and sets RLS_TEST_BROWSER=1, so
// CI always runs the folder). Without RLS_TEST_BROWSER=1 both Jest configs leave the folder out.
const { optInFolder } = require('./opt-in-folder.cjs');

/** The folder of the browser tests, from the repository root. */
const BROWSER_TESTS = 'tests/browser/';

const browser = optInFolder('RLS_TEST_BROWSER', BROWSER_TESTS);

module.exports = { BROWSER_TESTS, browserTestsLeftOut: browser.leftOut, browserIgnorePatterns: browser.ignorePatterns };
