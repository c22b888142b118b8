// tests/browser loads pages in headless Chromium (tests/support/headless-chromium.ts), which only a machine
// with Chromium has (Debian: apt-get install chromium; .ci/run installs it and sets RLS_TEST_BROWSER=1, so
// CI always runs the folder). Without RLS_TEST_BROWSER=1 both Jest configs leave the folder out, and the
// global setup says so: none of its files is skipped half-way.

/** The folder of the browser tests, from the repository root. */
const BROWSER_TESTS = 'tests/browser/';

/** Whether this run leaves tests/browser out (RLS_TEST_BROWSER is not 1). */
const browserTestsLeftOut = () => process.env.RLS_TEST_BROWSER !== '1';

/** Jest's testPathIgnorePatterns for the browser tests: the folder, unless RLS_TEST_BROWSER=1. */
function browserIgnorePatterns() {
  return browserTestsLeftOut() ? [`<rootDir>/${BROWSER_TESTS}`] : [];
}

module.exports = { BROWSER_TESTS, browserTestsLeftOut, browserIgnorePatterns };
