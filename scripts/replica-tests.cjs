// tests/replica runs against a hot standby, which the global setup starts only when RLS_TEST_REPLICA=1
// (tests/support/streaming-replica.ts: root and Debian's PostgreSQL tools; .ci/run sets it, so CI always
// runs the folder). Without it both Jest configs leave the folder out, and the global setup says so: the
// files never run half-way, and none of them is skipped.

/** The folder of the replica tests, from the repository root. */
const REPLICA_TESTS = 'tests/replica/';

/** Whether this run leaves tests/replica out (RLS_TEST_REPLICA is not 1). */
const replicaTestsLeftOut = () => process.env.RLS_TEST_REPLICA !== '1';

/** Jest's testPathIgnorePatterns for the replica tests: the folder, unless RLS_TEST_REPLICA=1. */
function replicaIgnorePatterns() {
  return replicaTestsLeftOut() ? [`<rootDir>/${REPLICA_TESTS}`] : [];
}

module.exports = { REPLICA_TESTS, replicaTestsLeftOut, replicaIgnorePatterns };
