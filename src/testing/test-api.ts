import assert from 'node:assert/strict';
import type { CrossProcessTarget } from './backend-conformance.js';
import { type ProcessFulfilled, runInProcesses } from './multi-process.js';

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

/**
 * Imports the conformance target a child process runs against: the export `exportName` of
 * `module`, which must have a `factory` function. CommonJS modules imported from ESM expose their
 * exports under `default` too.
 *
 * @throws TypeError when there is no such target.
 * @internal
 */
export async function importTarget<T extends { readonly factory: unknown }>(
  module: string,
  exportName: string,
  kind: string,
): Promise<T> {
  const imported = (await import(module)) as Record<string, unknown>;
  const target = (imported[exportName] ??
    (imported.default as Record<string, unknown> | undefined)?.[exportName]) as T | undefined;
  if (!target || typeof target.factory !== 'function') {
    throw new TypeError(`${module} does not export ${kind} named ${exportName}`);
  }
  return target;
}

/** What {@link caseRunner} gives a suite. */
export interface CaseRunner<S extends { close(): Promise<void> }> {
  /** Stores the running test opened; each is closed when the test ends. */
  readonly opened: S[];
  /** Declares a test that closes the stores it opened, however it ends. */
  it(title: string, fn: () => Promise<void>, timeout?: number): unknown;
  /** {@link CaseRunner.it} when `enabled`, otherwise a skipped test naming `reason`. */
  itIf(
    enabled: boolean,
    reason: string,
    title: string,
    fn: () => Promise<void>,
    timeout?: number,
  ): unknown;
}

/**
 * The test declarations every store suite uses: tests that close what they opened, and tests
 * skipped with their reason where the target lacks a capability.
 *
 * @internal
 */
export function caseRunner<S extends { close(): Promise<void> }>(
  test: ConformanceTestApi,
  name: string,
): CaseRunner<S> {
  const opened: S[] = [];
  const it = (title: string, fn: () => Promise<void>, timeout?: number) =>
    test.it(
      title,
      async () => {
        try {
          await fn();
        } finally {
          await Promise.all(opened.splice(0).map((s) => s.close().catch(() => {})));
        }
      },
      timeout,
    );
  const itIf = (
    enabled: boolean,
    reason: string,
    title: string,
    fn: () => Promise<void>,
    timeout?: number,
  ) => (enabled ? it(title, fn, timeout) : test.it.skip(skipTitle(title, name, reason), () => {}));
  return { opened, it, itIf };
}

/**
 * Asserts that `promise` rejects with a `TypeError` whose message mentions `name`.
 *
 * @internal
 */
export async function assertTypeErrorNaming(
  promise: Promise<unknown>,
  name: string,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof TypeError, `expected a TypeError naming ${name}, got ${error}`);
    assert.ok(error.message.includes(name), `"${error.message}" does not name ${name}`);
    return true;
  });
}

/**
 * Runs the worker `exportName` of the suite module `suite` in the target's child processes, with
 * `args` plus where the target is, and returns what each returned, asserting each succeeded.
 *
 * @internal
 */
export async function runTargetWorkers<R>(
  suite: string,
  exportName: string,
  target: CrossProcessTarget,
  args: object,
  timeoutMs: number,
): Promise<R[]> {
  const results = await runInProcesses<R>({
    module: suite,
    exportName,
    count: target.processes ?? 4,
    execArgv: target.execArgv ?? [],
    timeoutMs,
    args: { ...args, module: target.module, exportName: target.exportName },
  });
  return results.map((r) => {
    assert.equal(r.status, 'fulfilled', `a process failed: ${JSON.stringify(r)}`);
    return (r as ProcessFulfilled<R>).value;
  });
}
