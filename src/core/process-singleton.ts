/**
 * Process-wide state shared by every copy of flowproof loaded in one process.
 *
 * An application that `require`s flowproof in one file and `import`s it in another loads the
 * CommonJS and the ESM build: two copies of every module. State that must be one per process (the
 * flow context's `AsyncLocalStorage`, warn-once flags, the error classes `instanceof` is used
 * with) therefore lives on `globalThis` under a registered symbol, created by whichever copy loads
 * first and picked up by the others.
 *
 * Each value is registered under its name and a shape version. A copy whose value has another
 * shape (a future major, say) bumps the version and gets its own value instead of misreading an
 * old one.
 */

/**
 * Returns the process-wide value registered as `name` at `version`, creating it with `create`
 * when no copy of flowproof has yet.
 *
 * @param name - what the value is, e.g. `context.storage`; unique within flowproof.
 * @param version - the value's shape version: bump it whenever the shape changes incompatibly.
 * @internal
 */
export function processSingleton<T>(name: string, version: number, create: () => T): T {
  const key = Symbol.for(`flowproof.${name}@${version}`);
  // Neither enumerable (it stays out of globalThis listings) nor writable: no copy replaces it.
  if (!Object.hasOwn(globalThis, key)) Object.defineProperty(globalThis, key, { value: create() });
  return (globalThis as Record<symbol, T>)[key] as T;
}
