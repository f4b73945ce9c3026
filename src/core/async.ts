/**
 * Small async primitives shared by backends and modules.
 *
 * @internal
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { FlowproofError } from './errors.js';

/**
 * Rejects with `BACKEND_TIMEOUT` when `promise` has not settled within `ms`. The timer never keeps
 * the process alive. A late result is discarded; a late rejection is swallowed (it was reported
 * as the timeout).
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  if (!Number.isFinite(ms) || ms <= 0) return promise;
  // One promise and one timer per call (no Promise.race, no finally): this wraps every statement.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      promise.catch(() => {});
      reject(
        new FlowproofError('BACKEND_TIMEOUT', `${what} did not finish within ${ms} ms`, {
          details: { timeoutMs: ms },
        }),
      );
    }, ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** A FIFO mutual-exclusion lock for async work inside one process. */
export interface Mutex {
  /** Runs `fn` once every earlier holder has finished. */
  run<T>(fn: () => Promise<T> | T): Promise<T>;
  /**
   * {@link Mutex.run}, remembering which code descends from `fn`, so that {@link Mutex.heldHere}
   * can tell when that code asks for the lock again (it would wait for itself). For transactions.
   */
  runHolding<T>(fn: () => Promise<T>): Promise<T>;
  /** True when the calling code descends from the {@link Mutex.runHolding} holding the lock now. */
  heldHere(): boolean;
  /** True while some holder runs. */
  readonly locked: boolean;
}

/**
 * Which {@link Mutex.runHolding} the running code descends from. A fresh token per holding, so
 * code left over from an ended one is never mistaken for the holder. Enabled only while some lock
 * is held that way: an enabled AsyncLocalStorage costs every promise of the process a little
 * work, and the hot paths run outside transactions.
 */
const holderScope = new AsyncLocalStorage<object>();
let holdings = 0;

/** Creates a {@link Mutex}. */
export function createMutex(): Mutex {
  let tail: Promise<unknown> = Promise.resolve();
  let holders = 0;
  let holder: object | undefined;
  const run = <T>(fn: () => Promise<T> | T): Promise<T> => {
    holders += 1;
    const result = tail.then(fn).finally(() => {
      holders -= 1;
    });
    tail = result.catch(() => {});
    return result;
  };
  return {
    get locked() {
      return holders > 0;
    },
    run,
    runHolding: (fn) =>
      run(() => {
        const token = {};
        holder = token;
        holdings += 1;
        return holderScope.run(token, fn).finally(() => {
          holder = undefined;
          holdings -= 1;
          if (holdings === 0) holderScope.disable();
        });
      }),
    heldHere: () => holder !== undefined && holderScope.getStore() === holder,
  };
}

/**
 * `TRANSACTION_UNSUPPORTED` for a nested transaction (a savepoint) started while a sibling of the
 * same transaction still runs: savepoints of one transaction nest or follow each other, and a
 * rollback of one would undo or orphan the other's work.
 */
export function concurrentSavepointsError(backend: string): FlowproofError {
  return new FlowproofError(
    'TRANSACTION_UNSUPPORTED',
    'A nested transaction was started while another nested transaction of the same transaction is still running; await them one at a time',
    { details: { backend, reason: 'concurrent-savepoints' } },
  );
}

/**
 * `TRANSACTION_UNSUPPORTED` for code that uses `backend` outside the transaction it runs inside:
 * the work would queue behind the transaction, which waits for the work. Refused, not deadlocked.
 */
export function reentrantUseError(backend: string, label: string): FlowproofError {
  return new FlowproofError(
    'TRANSACTION_UNSUPPORTED',
    `This ${label} was used outside the transaction the calling code runs in; that work would wait for the transaction to end, which waits for the work. Inside a transaction use the backend (or store) it passes to its callback, e.g. runInTransaction(…, { join: store.withBackend(tx) })`,
    { details: { backend, reason: 'reentrant' } },
  );
}

/** The longest delay a Node.js timer keeps: a longer one fires at once (with a warning). */
export const MAX_TIMER_MS = 2_147_483_647;

/** Resolves after `ms` milliseconds, or rejects with the signal's reason when it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
