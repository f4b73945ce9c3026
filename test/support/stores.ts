/**
 * Idempotency stores for fault-injection tests: a working store with some of its methods
 * replaced, e.g. by one that fails as an unreachable backend does.
 */
import type { IdempotencyStore } from '../../src/idempotency/idempotency-store.js';

/**
 * `store` with the methods in `overrides` replaced; every other method of the port calls through
 * to `store`. The methods are forwarded one by one because the stores are classes, and class
 * methods do not survive an object spread.
 *
 * The optional `transaction` is not forwarded: the result has one only when `overrides` supplies
 * it.
 */
export function overrideStore(
  store: IdempotencyStore,
  overrides: Partial<IdempotencyStore>,
): IdempotencyStore {
  return {
    kind: store.kind,
    migrate: () => store.migrate(),
    claim: (request) => store.claim(request),
    complete: (...args) => store.complete(...args),
    release: (...args) => store.release(...args),
    heartbeat: (...args) => store.heartbeat(...args),
    get: (key) => store.get(key),
    deleteExpired: (limit) => store.deleteExpired(limit),
    close: () => store.close(),
    ...overrides,
  };
}
