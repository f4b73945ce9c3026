/**
 * Leases offered on their own: a lock with fencing tokens over any {@link IdempotencyStore}, for
 * the "pessimistic locking" case. The token given to `fn` increases with every acquisition of the
 * resource, so downstream writes can refuse a holder whose lease ran out (`WHERE token < $new`).
 */
import { performance } from 'node:perf_hooks';
import { sleep } from '../core/async.js';
import { FlowproofError } from '../core/errors.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../core/logger.js';
import {
  assertInteger,
  assertKnownKeys,
  assertNonEmptyString,
  assertOptionsObject,
} from '../core/options.js';
import { LockNotAcquiredError } from './errors.js';
import { isUnavailable } from './idempotency.js';
import type { ClaimResult, IdempotencyStore } from './idempotency-store.js';
import { joinKey } from './scope.js';

/** Options of {@link createLock}. */
export interface LockOptions {
  /** Where leases live (any idempotency store). */
  readonly store: IdempotencyStore;
  /**
   * Lease length in milliseconds; renewed every third of it while `fn` runs.
   * @default 30000
   */
  readonly leaseMs?: number;
  /**
   * How long a released lock's record (and so its token counter) is kept, in milliseconds.
   * Tokens only increase while the record exists.
   * @default 86400000
   */
  readonly retentionMs?: number;
  /**
   * How long `withLock` waits for a held lock before failing, in milliseconds.
   * @default 0 (fail at once)
   */
  readonly waitMs?: number;
  /**
   * Pause between attempts while waiting, in milliseconds.
   * @default 50
   */
  readonly pollMs?: number;
  /**
   * A pino-compatible logger.
   * @default silent
   */
  readonly logger?: Logger;
}

/** What `fn` receives from {@link Lock.withLock}. */
export interface LockContext {
  /** The resource locked. */
  readonly resource: string;
  /** The fencing token: higher than any earlier holder's. Pass it to downstream writes. */
  readonly token: number;
  /** Aborted when the lease is lost (a renewal found it taken over). */
  readonly signal: AbortSignal;
}

/** Per-call options of {@link Lock.withLock}. */
export interface WithLockOptions {
  /** Overrides the `waitMs` option for this call. */
  readonly waitMs?: number;
}

/** Locks created by {@link createLock}. */
export interface Lock {
  /**
   * Runs `fn` while holding the lock on `resource`, then releases it.
   *
   * @throws FlowproofError `LOCK_NOT_ACQUIRED` ({@link LockNotAcquiredError}) when another holder
   * has it (after `waitMs`), `IDEMPOTENCY_STALE_OWNER` when the lease was lost while `fn` ran (its
   * release was rejected), `IDEMPOTENCY_UNAVAILABLE` when the store cannot be reached (`fn` did not
   * run); whatever `fn` throws. When only the release fails (the store became unreachable while
   * `fn` ran), `fn`'s result is returned and the failure logged: the lock frees itself when its
   * lease ends.
   * @throws TypeError when `resource` is not 1 to 255 printable ASCII characters, or `options` is
   * not an object.
   */
  withLock<R>(
    resource: string,
    fn: (lock: LockContext) => Promise<R> | R,
    options?: WithLockOptions,
  ): Promise<R>;
}

/**
 * Creates locks with fencing tokens over an idempotency store.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const locks = createLock({ store, leaseMs: 10_000, waitMs: 2_000 });
 * await locks.withLock(`seat:${seatId}`, async ({ token }) => {
 *   await db.query('UPDATE seats SET holder = $1, fence = $2 WHERE id = $3 AND fence < $2', [
 *     userId, token, seatId,
 *   ]);
 * });
 * ```
 */
export function createLock(options: LockOptions): Lock {
  assertOptionsObject(options, 'options');
  assertKnownKeys(
    options,
    ['store', 'leaseMs', 'retentionMs', 'waitMs', 'pollMs', 'logger'],
    'options',
  );
  const { store } = options;
  if (typeof store?.claim !== 'function' || typeof store.release !== 'function') {
    throw new TypeError('options.store must be an IdempotencyStore');
  }
  const leaseMs = options.leaseMs ?? 30_000;
  assertInteger(leaseMs, 'options.leaseMs', 3, 86_400_000);
  const retentionMs = options.retentionMs ?? 86_400_000;
  assertInteger(retentionMs, 'options.retentionMs', 1, 31_536_000_000);
  const defaultWaitMs = options.waitMs ?? 0;
  assertInteger(defaultWaitMs, 'options.waitMs', 0, 3_600_000);
  const pollMs = options.pollMs ?? 50;
  assertInteger(pollMs, 'options.pollMs', 1, 60_000);
  const logger = options.logger ?? silentLogger;
  assertLogger(logger, 'options.logger');

  return {
    async withLock<R>(
      resource: string,
      fn: (lock: LockContext) => Promise<R> | R,
      callOptions: WithLockOptions = {},
    ): Promise<R> {
      assertNonEmptyString(resource, 'resource');
      if (resource.length > 255 || !/^[\x20-\x7e]+$/.test(resource)) {
        throw new TypeError('resource must be 1 to 255 printable ASCII characters');
      }
      if (typeof fn !== 'function') throw new TypeError('fn must be a function');
      assertOptionsObject(callOptions, 'options');
      assertKnownKeys(callOptions, ['waitMs'], 'options');
      const waitMs = callOptions.waitMs ?? defaultWaitMs;
      assertInteger(waitMs, 'options.waitMs', 0, 3_600_000);
      const key = joinKey('flowproof.lock', resource, {});
      const deadline = performance.now() + waitMs;
      for (;;) {
        let claimed: ClaimResult;
        try {
          claimed = await store.claim({
            key,
            fingerprint: 'lock',
            leaseMs,
            retentionMs,
            reclaimStarted: true,
          });
        } catch (error) {
          if (!isUnavailable(error)) throw error;
          // The module's outage error, as run() fails closed: a lock cannot be held without it.
          logEvent(
            logger,
            'error',
            { event: 'lock.unavailable', resource, err: error },
            'The lock store is unavailable, so the lock was not taken',
          );
          throw new FlowproofError(
            'IDEMPOTENCY_UNAVAILABLE',
            'The lock store is unavailable, so the lock was not taken and fn did not run',
            { cause: error, details: { resource } },
          );
        }
        if (claimed.claimed) {
          const { token } = claimed.record;
          if (claimed.reclaimed === 'lease-expired') {
            logEvent(
              logger,
              'warn',
              { event: 'lock.lease_expired', resource, token },
              'Took over a lock whose lease had expired',
            );
          }
          return hold(store, key, resource, token, leaseMs, logger, fn);
        }
        const { record } = claimed;
        const retryAfterMs = Math.max(1, record.leaseExpiresAt - record.now);
        const remaining = deadline - performance.now();
        if (remaining <= 0) {
          logEvent(
            logger,
            'debug',
            { event: 'lock.conflict', resource, retryAfterMs },
            'Lock is held by another holder',
          );
          throw new LockNotAcquiredError(
            `The lock on ${JSON.stringify(resource)} is held`,
            retryAfterMs,
            {
              details: { resource },
            },
          );
        }
        await sleep(Math.min(pollMs, remaining, retryAfterMs));
      }
    },
  };
}

async function hold<R>(
  store: IdempotencyStore,
  key: string,
  resource: string,
  token: number,
  leaseMs: number,
  logger: Logger,
  fn: (lock: LockContext) => Promise<R> | R,
): Promise<R> {
  const controller = new AbortController();
  let finished = false;
  const lost = () =>
    new FlowproofError(
      'IDEMPOTENCY_STALE_OWNER',
      `The lease on ${JSON.stringify(resource)} was lost while it was held`,
      { details: { resource, token } },
    );
  const timer = setInterval(
    () => {
      store.heartbeat(key, token, leaseMs, false).then(
        (renewed) => {
          if (!renewed && !finished) {
            logEvent(
              logger,
              'warn',
              { event: 'lock.stale_owner', resource, token },
              'Lost a lock lease',
            );
            controller.abort(lost());
          }
        },
        (error: unknown) => {
          logEvent(
            logger,
            'warn',
            { event: 'lock.heartbeat_failed', resource, err: error },
            'Could not renew a lock lease',
          );
        },
      );
    },
    Math.max(1, Math.floor(leaseMs / 3)),
  );
  timer.unref();
  let value: R;
  try {
    value = await fn({ resource, token, signal: controller.signal });
  } catch (error) {
    finished = true;
    clearInterval(timer);
    // fn's error is the one to report; a failed or rejected release is harmless here: the lease
    // ends on its own.
    await store.release(key, token).catch(() => {});
    throw error;
  }
  finished = true;
  clearInterval(timer);
  let released: boolean;
  try {
    released = await store.release(key, token);
  } catch (error) {
    // fn's work is done: return its result (as run() does when completion fails); the lock stays
    // held until its lease ends.
    logEvent(
      logger,
      'error',
      { event: 'lock.release_failed', resource, token, err: error },
      'Could not release a lock; it is held until its lease ends',
    );
    return value;
  }
  if (!released) {
    logEvent(
      logger,
      'warn',
      { event: 'lock.stale_owner', resource, token },
      'A lock release was rejected: the lease had been lost',
    );
    throw lost();
  }
  return value;
}
