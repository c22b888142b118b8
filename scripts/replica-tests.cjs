// tests/replica runs against a hot standby, which the global setup starts only when RLS_TEST_REPLICA=1
// (tests/support/streaming-replica.ts: root and Debian's PostgreSQL tools; .ci/run sets it, so CI always
// runs the folder). Without it both Jest configs leave the folder out, and the global setup says so.
const { optInFolder } = require('./opt-in-folder.cjs');

/** The folder of the replica tests, from the repository root. */
const REPLICA_TESTS = 'tests/replica/';

const replica = optInFolder('RLS_TEST_REPLICA', REPLICA_TESTS);

module.exports = { REPLICA_TESTS, replicaTestsLeftOut: replica.leftOut, replicaIgnorePatterns: replica.ignorePatterns };
