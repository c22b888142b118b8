/** What an attack got, as text: its result as JSON, or `refused: <message>` when it threw. */
export const outcome = <T>(work: PromiseLike<T>): Promise<string> =>
  Promise.resolve(work).then(
    (value) => JSON.stringify(value),
    (e: Error) => `refused: ${e.message}`,
  );

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `work`, or a failure after `ms`: with a pool of 1, work that waits for a second connection would hang. */
export const within = <T>(work: PromiseLike<T>, ms = 3000): Promise<T> =>
  Promise.race([
    Promise.resolve(work),
    sleep(ms).then((): never => {
      throw new Error('hung: waited for the pool');
    }),
  ]);
