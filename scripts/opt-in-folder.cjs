// A test folder that needs something a plain machine lacks runs only when its variable is 1: without it
// both Jest configs leave the folder out (and the global setup says so), so none of its files is skipped
// half-way. scripts/replica-tests.cjs and scripts/browser-tests.cjs name the two such folders.

/**
 * The folder `folder` (from the repository root, ending in `/`), run only with `variable=1`.
 * @returns {{ leftOut(): boolean, ignorePatterns(): string[] }}
 */
function optInFolder(variable, folder) {
  const leftOut = () => process.env[variable] !== '1';
  return { leftOut, ignorePatterns: () => (leftOut() ? [`<rootDir>/${folder}`] : []) };
}

module.exports = { optInFolder };
