import { runChunks } from '../../src/core/plan/run-chunks';

// How createPolicies runs its chunk transactions side by side (no database: the scheduling alone).

const lockConflict = (error: unknown) => (error as { code?: string }).code === '40P01';
const conflict = () => Object.assign(new Error('deadlock detected'), { code: '40P01' });
const tick = () => new Promise((resolve) => setImmediate(resolve));

it('runs two chunks at a time, starting them in their order, and returns the results in chunk order', async () => {
  const started: number[] = [];
  let running = 0;
  let most = 0;
  const runs = await runChunks([1, 2, 3, 4, 5], async (n) => {
    started.push(n);
    most = Math.max(most, ++running);
    // The first chunk takes longest: the results must still come back in chunk order.
    for (let i = 0; i < (n === 1 ? 5 : 1); i++) await tick();
    running--;
    return n * 10;
  }, 2, lockConflict);
  expect(started).toEqual([1, 2, 3, 4, 5]);
  expect(most).toBe(2);
  expect(runs.completed).toEqual([1, 2, 3, 4, 5].map((n) => ({ chunk: n, result: n * 10 })));
  expect(runs.failed).toBeUndefined();
});

it('starts no chunk after a failure, lets the running one end, and reports the failure with what completed', async () => {
  const started: number[] = [];
  const refused = new Error('column "x" does not exist');
  const runs = await runChunks([1, 2, 3, 4], async (n) => {
    started.push(n);
    if (n === 2) throw refused;
    await tick();
    await tick();
    return n;
  }, 2, lockConflict);
  // 1 and 2 start together, 2 fails at once, 1 ends after it: nothing else starts.
  expect(started).toEqual([1, 2]);
  expect(runs.completed).toEqual([{ chunk: 1, result: 1 }]);
  expect(runs.failed).toEqual({ chunk: 2, error: refused });
});

it('runs the chunks not done again one at a time when every failure was a lock conflict, and the conflict is gone', async () => {
  const attempts: number[] = [];
  let running = 0;
  let mostInRetry = 0;
  let retrying = false;
  const runs = await runChunks([1, 2, 3, 4], async (n) => {
    attempts.push(n);
    running++;
    if (retrying) mostInRetry = Math.max(mostInRetry, running);
    await tick();
    running--;
    if (n === 2 && !retrying) {
      retrying = true;
      throw conflict();
    }
    return n;
  }, 2, lockConflict);
  // 3 starts when 1 ends, before 2 fails; then 2 and 4 (never done) run again, alone.
  expect(attempts).toEqual([1, 2, 3, 2, 4]);
  expect(mostInRetry).toBe(1);
  expect(runs.completed.map((run) => run.chunk)).toEqual([1, 2, 3, 4]);
  expect(runs.failed).toBeUndefined();
});

it('reports a lock conflict that happens again with one chunk at a time (another session holds the lock), and one at a time from the start is never retried', async () => {
  const attempts: number[] = [];
  const always = async (n: number) => {
    attempts.push(n);
    if (n === 2) throw conflict();
    return n;
  };
  const twice = await runChunks([1, 2, 3], always, 2, lockConflict);
  expect(attempts).toEqual([1, 2, 3, 2]);
  expect(twice.completed.map((run) => run.chunk)).toEqual([1, 3]);
  expect(twice.failed).toMatchObject({ chunk: 2, error: { code: '40P01' } });

  attempts.length = 0;
  const once = await runChunks([1, 2, 3], always, 1, lockConflict);
  expect(attempts).toEqual([1, 2]);
  expect(once.failed).toMatchObject({ chunk: 2 });
});

it('reports a refusal beside a lock conflict, not the conflict: the refusal fails every run, the conflict only this one', async () => {
  const refused = new Error('column "no_such_column" does not exist');
  const runs = await runChunks([1, 2, 3], async (n) => {
    await tick();
    if (n === 1) throw conflict();
    if (n === 2) throw refused;
    return n;
  }, 2, lockConflict);
  expect(runs.failed).toEqual({ chunk: 2, error: refused });
  expect(runs.completed).toEqual([]);
});

it('refuses to run with fewer than one chunk at a time instead of doing nothing', async () => {
  let ran = 0;
  await expect(runChunks([1], async () => ++ran, 0, lockConflict)).rejects.toThrow('at least 1, not 0');
  expect(ran).toBe(0);
});
