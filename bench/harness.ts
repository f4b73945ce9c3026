/**
 * A thin layer over tinybench: every suite names a baseline (the competitor or the raw primitive)
 * and the runner prints each task's throughput as a ratio of it, all measured in one process.
 */

/** One measured function. */
export interface BenchTask {
  /** Shown in the table; unique within the suite. */
  readonly name: string;
  /** One call of the work; async functions are awaited. */
  readonly fn: () => unknown;
}

/** A side-by-side comparison. */
export interface BenchSuite {
  /** What is compared, e.g. `validation: order pipeline, 4 stages`. */
  readonly name: string;
  /** What one operation is (`orders`, `keys`…); shown after "/s". */
  readonly unit: string;
  /** Operations done by one call of a task (for batched tasks). @default 1 */
  readonly opsPerCall?: number;
  /** Name of the task the ratios are relative to. */
  readonly baseline: string;
  /**
   * A second task to compare every task to (a competitor when the baseline is a raw primitive):
   * its per-round ratios get a column of their own.
   */
  readonly alsoVs?: string;
  /** The tasks, baseline included. */
  readonly tasks: readonly BenchTask[];
  /** Runs once before the suite. */
  readonly setup?: () => Promise<void> | void;
  /** Runs once after the suite. */
  readonly teardown?: () => Promise<void> | void;
  /** Milliseconds to sample each task. @default 1000 */
  readonly time?: number;
  /**
   * Calls of each task per round even when they take longer than the round's time (slow tasks:
   * a database flow of several round trips). @default 64
   */
  readonly minIterations?: number;
}

/** What a `bench/*.bench.ts` file exports by default. */
export type BenchModule = readonly BenchSuite[] | (() => Promise<readonly BenchSuite[]>);

/** Identity helper for type inference. */
export function defineSuite(suite: BenchSuite): BenchSuite {
  for (const [option, name] of [
    ['baseline', suite.baseline],
    ['alsoVs', suite.alsoVs],
  ] as const) {
    if (name !== undefined && !suite.tasks.some((task) => task.name === name)) {
      throw new TypeError(`suite "${suite.name}": ${option} "${name}" is not one of its tasks`);
    }
  }
  return suite;
}
