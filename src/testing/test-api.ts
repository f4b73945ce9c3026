/** The slice of a test framework the conformance suites need; vitest, jest, node:test and mocha fit. */
export interface ConformanceTestApi {
  /** Groups tests. */
  describe(name: string, fn: () => void): unknown;
  /** Declares a test; `skip` declares one that is shown as skipped. */
  it: {
    (name: string, fn: () => Promise<void>, timeout?: number): unknown;
    /** Declares a skipped test. */
    skip(name: string, fn: () => Promise<void> | void): unknown;
  };
}

/** The title of a skipped test, naming why it was skipped. */
export function skipTitle(title: string, backend: string, reason: string): string {
  return `${title} (skipped on ${backend}: ${reason})`;
}
