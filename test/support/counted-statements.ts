/**
 * A backend whose statements are counted, for tests that hold a store to one round trip per
 * operation.
 */

/** `backend` with its `query` and `execute` calls counted; its other methods run on it as they are. */
export function countedStatements<B extends object>(
  backend: B,
): { readonly backend: B; readonly calls: () => number } {
  let calls = 0;
  const proxy = new Proxy(backend, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (typeof value !== 'function') return value;
      if (key === 'query' || key === 'execute') {
        return (...args: unknown[]) => {
          calls += 1;
          return value.apply(target, args);
        };
      }
      return value.bind(target);
    },
  });
  return { backend: proxy, calls: () => calls };
}
