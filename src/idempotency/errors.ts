/**
 * The idempotency errors that carry data beyond a code. Every other idempotency failure is a plain
 * {@link FlowproofError} with one of the `IDEMPOTENCY_*` codes.
 */
import { FlowproofError, type FlowproofErrorOptions, registerErrorClass } from '../core/errors.js';

/**
 * `IDEMPOTENCY_IN_PROGRESS`: another call holds the key's lease. `retryAfterMs` says when trying
 * again is worth it (HTTP sends it as `Retry-After`).
 *
 * @example
 * ```ts
 * if (error instanceof IdempotencyInProgressError) await sleep(error.retryAfterMs);
 * ```
 */
export class IdempotencyInProgressError extends FlowproofError {
  /** Milliseconds after which a retry may find the first call finished (at least 1). */
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number, options: FlowproofErrorOptions = {}) {
    super('IDEMPOTENCY_IN_PROGRESS', message, {
      ...options,
      details: { ...options.details, retryAfterMs },
    });
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * `LOCK_NOT_ACQUIRED`: another holder has the lock. `retryAfterMs` is the time left on its lease
 * (at least 1).
 *
 * @example
 * ```ts
 * if (error instanceof LockNotAcquiredError) setTimeout(retry, error.retryAfterMs);
 * ```
 */
export class LockNotAcquiredError extends FlowproofError {
  /** Milliseconds until the current holder's lease ends, unless it is renewed. */
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number, options: FlowproofErrorOptions = {}) {
    super('LOCK_NOT_ACQUIRED', message, {
      ...options,
      details: { ...options.details, retryAfterMs },
    });
    this.retryAfterMs = retryAfterMs;
  }
}

// `instanceof` holds across copies of flowproof (the ESM and CommonJS builds).
registerErrorClass(IdempotencyInProgressError, 'IdempotencyInProgressError');
registerErrorClass(LockNotAcquiredError, 'LockNotAcquiredError');
