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
