/**
 * A `pg.Pool` whose waiters keep their flow context. When every connection is checked out, a
 * `pool.connect(callback)` or `pool.query(text, values, callback)` waits in the pool's queue and
 * is served from another caller's `release()`: its callback, and the pool's `acquire` and
 * `connect` events for it, would run in THAT caller's context (or in the context of whoever
 * opened the connection). Promises need no help: the code after `await pool.query(…)` runs in
 * the context that awaited.
 */
import { AsyncResource } from 'node:async_hooks';
import { assertOptionsObject } from '../../core/options.js';

/** The parts of a `pg.Pool` (pg-pool 3) that {@link bindPoolToContext} wraps, typed structurally. */
export interface ContextBindablePool {
  /** `pool.connect(callback?)`. */
  connect(...args: never[]): unknown;
  /** `pool.query(text, values?, callback?)`. */
  query(...args: never[]): unknown;
}

/** What pg-pool 3 has inside; used only when present, so events degrade rather than break. */
interface PoolInternals {
  connect: (this: unknown, ...args: unknown[]) => unknown;
  query: (this: unknown, ...args: unknown[]) => unknown;
  _pendingQueue?: unknown[];
  _acquireClient?: (
    this: unknown,
    client: unknown,
    pendingItem: unknown,
    ...rest: unknown[]
  ) => unknown;
  [BOUND]?: true;
}

const BOUND = Symbol.for('flowproof.pg-pool.bound-to-context');

/**
 * Makes `pool` run each waiter's callbacks and `acquire`/`connect` events in the flow context of
 * the code that called `connect` or `query`, even when the pool is exhausted and the waiter is
 * served by another caller's release. Patches the pool in place (its `connect` and `query`,
 * and, for the events, pg-pool's checkout step) and returns it; calling it again does nothing.
 *
 * Needed only for callback-style code and pool events: `await pool.query(…)` keeps the context
 * by itself.
 *
 * @throws TypeError when `pool` has no `connect` and `query` methods.
 * @example
 * ```ts
 * import pg from 'pg';
 * const pool = bindPoolToContext(new pg.Pool({ connectionString, max: 10 }));
 * pool.on('acquire', () => log.debug({ correlationId: getContext()?.correlationId }, 'checkout'));
 * pool.query('SELECT 1', [], (error, result) => {
 *   // getContext() is the caller's, even when the pool was exhausted
 * });
 * ```
 */
export function bindPoolToContext<P extends ContextBindablePool>(pool: P): P {
  assertOptionsObject(pool, 'pool');
  const internals = pool as unknown as PoolInternals;
  if (typeof internals.connect !== 'function' || typeof internals.query !== 'function') {
    throw new TypeError('pool must be a pg.Pool (an object with connect and query methods)');
  }
  if (internals[BOUND]) return pool;
  const { connect, query, _acquireClient: acquireClient } = internals;
  const queue = Array.isArray(internals._pendingQueue) ? internals._pendingQueue : undefined;
  // The waiter each queued checkout belongs to, so the checkout (events included) runs in it.
  const waiters = new WeakMap<object, AsyncResource>();

  internals.connect = function connectInContext(this: unknown, ...args: unknown[]) {
    const waiter = new AsyncResource('flowproof.pg.pool-checkout');
    const queued = queue?.length ?? 0;
    const [callback] = args;
    const result =
      typeof callback === 'function'
        ? connect.call(this, waiter.bind(callback as (...a: unknown[]) => unknown))
        : connect.call(this, ...args);
    // pg-pool queues the checkout synchronously when no connection is free.
    const pending = queue !== undefined && queue.length > queued ? queue.at(-1) : undefined;
    if (typeof pending === 'object' && pending !== null) waiters.set(pending, waiter);
    return result;
  };
  internals.query = function queryInContext(this: unknown, ...args: unknown[]) {
    const last = args.length - 1;
    const callback = args[last];
    if (last > 0 && typeof callback === 'function') {
      args[last] = AsyncResource.bind(callback as (...a: unknown[]) => unknown);
    }
    return query.apply(this, args);
  };
  if (typeof acquireClient === 'function') {
    internals._acquireClient = function acquireInContext(
      this: unknown,
      client,
      pendingItem,
      ...rest
    ) {
      const waiter =
        typeof pendingItem === 'object' && pendingItem !== null
          ? waiters.get(pendingItem)
          : undefined;
      return waiter === undefined
        ? acquireClient.call(this, client, pendingItem, ...rest)
        : waiter.runInAsyncScope(acquireClient, this, client, pendingItem, ...rest);
    };
  }
  Object.defineProperty(internals, BOUND, { value: true });
  return pool;
}
