import type { BenchDatabase } from '../dataset';
import type { Row } from '../report';
import type { Timing } from '../rounds';

// What the benchmark's MikroORM 6 process (bench/main.ts) and its MikroORM 7 child (bench/v7/main.ts)
// hand each other, as JSON files.

/** The parent's order: the data set it built (and keeps serving until the child is done), and the timing. */
export interface MikroOrm7PartInput {
  db: BenchDatabase;
  timing: Timing;
}

/** A MikroORM 7 variant's row; `vsBaseline` and `vsSameShape` are against the MikroORM 7 variants. */
export interface V7Row extends Row {
  /**
   * Throughput relative to MikroORM 7's native session context of the same transaction shape on the
   * same workload: (n7) for the variants without em.transactional, (n7+tx) for those with it.
   */
  vsNative: number;
}

export interface MikroOrm7Part {
  /** The child's Node.js and the MikroORM it loaded. */
  node: string;
  mikroOrm: string;
  variants: Record<string, string>;
  rows: V7Row[];
}
