/** What became of the chunks {@link runChunks} was given. */
export interface ChunkRuns<C, R> {
  /** The chunks that completed, in their order, with what each returned. */
  readonly completed: readonly { readonly chunk: C; readonly result: R }[];
  /** The chunk whose failure is reported (see {@link runChunks}), if any: no chunk starts after a failure. */
  readonly failed?: { readonly chunk: C; readonly error: unknown };
}

interface Round<R> {
  readonly done: Map<number, R>;
  readonly failures: { readonly index: number; readonly error: unknown }[];
}

/** Runs the chunks at `indices` in their order, `atOnce` at a time; after a failure none starts, the running ones end. */
async function round<C, R>(chunks: readonly C[], indices: readonly number[], run: (chunk: C) => Promise<R>, atOnce: number): Promise<Round<R>> {
  const done = new Map<number, R>();
  const failures: Round<R>['failures'] = [];
  let next = 0;
  const worker = async () => {
    while (failures.length === 0 && next < indices.length) {
      const index = indices[next++];
      try {
        done.set(index, await run(chunks[index]));
      } catch (error) {
        failures.push({ index, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(atOnce, indices.length) }, worker));
  return { done, failures };
}

/**
 * Runs `run` on every chunk, in their order, `atOnce` at a time (each run is a transaction of its own:
 * PostgreSQL works on two with two cores while the client prepares the next). After a failure no chunk
 * starts, and the ones running end, so that what stays applied is known when the error is made.
 *
 * Two chunks side by side can wait on each other where one at a time never would: a policy of one reads
 * a table the other changes (a deadlock, or a lock timeout while waiting). So when every failure is such
 * a lock conflict (`isLockConflict`), the chunks not done run again, one at a time; a conflict with
 * another session then fails again and is the one reported. Among failures, the first that is not a lock
 * conflict is reported; else the first.
 */
export async function runChunks<C, R>(chunks: readonly C[], run: (chunk: C) => Promise<R>, atOnce: number, isLockConflict: (error: unknown) => boolean): Promise<ChunkRuns<C, R>> {
  if (!Number.isInteger(atOnce) || atOnce < 1) throw new RangeError(`Internal error: chunks run at once must be a whole number of at least 1, not ${atOnce}.`);
  const all = chunks.map((_, index) => index);
  const first = await round(chunks, all, run, atOnce);
  let { failures } = first;
  const { done } = first;
  if (atOnce > 1 && failures.length > 0 && failures.every((f) => isLockConflict(f.error))) {
    const again = await round(chunks, all.filter((index) => !done.has(index)), run, 1);
    for (const [index, result] of again.done) done.set(index, result);
    failures = again.failures;
  }
  // A refusal that fails every run is the one to report, not a lock conflict beside it that a run alone gets past.
  const inOrder = [...failures].sort((a, b) => a.index - b.index);
  const failed = inOrder.find((f) => !isLockConflict(f.error)) ?? inOrder[0];
  return {
    completed: all.filter((index) => done.has(index)).map((index) => ({ chunk: chunks[index], result: done.get(index) as R })),
    ...(failed && { failed: { chunk: chunks[failed.index], error: failed.error } }),
  };
}
