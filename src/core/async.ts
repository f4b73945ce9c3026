/**
 * Small async primitives shared by backends and modules.
 *
 * @internal
 */
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
  /** True while some holder runs. */
  readonly locked: boolean;
}

/** Creates a {@link Mutex}. */
export function createMutex(): Mutex {
  let tail: Promise<unknown> = Promise.resolve();
  let holders = 0;
  return {
    get locked() {
      return holders > 0;
    },
    run<T>(fn: () => Promise<T> | T): Promise<T> {
      holders += 1;
      const result = tail.then(fn).finally(() => {
        holders -= 1;
      });
      tail = result.catch(() => {});
      return result;
    },
  };
}

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
