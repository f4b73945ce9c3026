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

/**
 * A task running `count` calls of `fn` at once. An `async` function, as every task should be:
 * tinybench calls a plain function once, unawaited, to find out whether it returns a promise, and
 * that stray call would run in the middle of another task's (a transaction on a shared
 * connection, say).
 */
export function inFlight(count: number, fn: () => unknown): () => Promise<unknown> {
  return async () => Promise.all(Array.from({ length: count }, fn));
}

/** The median of `values` (NaN when empty). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Two decimals, or two significant digits below 0.1 (a ratio of 0.0023 is not 0.00). */
export function ratioText(ratio: number): string {
  return ratio >= 0.1 ? ratio.toFixed(2) : ratio.toPrecision(2);
}
