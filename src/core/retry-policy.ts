/**
 * Retry policies, shared by saga steps and compensations and the outbox relay. The options are
 * p-retry's names and meanings. Sagas let p-retry run the attempts (its budget, its `AbortError`,
 * its `shouldRetry`) but wait between them with their own timer, recorded in the step log first, so
 * a restart neither forgets a waiting retry nor retries early; the outbox relay records each
 * message's next attempt time in its store.
 */
import { AbortError } from 'p-retry';
import { MAX_TIMER_MS } from './async.js';
import { assertFunction, assertInteger, assertKnownKeys, assertOptionsObject } from './options.js';

/** How a failed operation is retried. The names and meanings are p-retry's. */
export interface RetryPolicy {
  /** Retries after the first attempt (so `retries + 1` attempts at most). */
  readonly retries?: number;
  /** The backoff's growth per retry. @default 2 */
  readonly factor?: number;
  /** The wait before the first retry, in milliseconds. @default 1000 */
  readonly minTimeout?: number;
  /** The longest wait, in milliseconds. @default 60000 */
  readonly maxTimeout?: number;
  /** Multiplies each wait by a random factor between 1 and 2 (jitter). @default true */
  readonly randomize?: boolean;
  /**
   * Whether `error` is worth another attempt. Errors thrown as p-retry's `AbortError` or
   * flowproof's `NonRetryableError` never are. @default every other error is
   */
  readonly shouldRetry?: (error: unknown) => boolean;
}

/** A policy with every option filled in. */
export interface ResolvedRetryPolicy {
  readonly retries: number;
  readonly factor: number;
  readonly minTimeout: number;
  readonly maxTimeout: number;
  readonly randomize: boolean;
  readonly shouldRetry: ((error: unknown) => boolean) | undefined;
}

const KEYS = ['retries', 'factor', 'minTimeout', 'maxTimeout', 'randomize', 'shouldRetry'] as const;

/** Steps: a few retries, as an external call that fails four times running is not flaky. */
export const DEFAULT_STEP_RETRY: ResolvedRetryPolicy = Object.freeze({
  retries: 3,
  factor: 2,
  minTimeout: 1_000,
  maxTimeout: 60_000,
  randomize: true,
  shouldRetry: undefined,
});
/** Compensations: more, since a compensation that gives up leaves the saga to a human. */
export const DEFAULT_COMPENSATION_RETRY: ResolvedRetryPolicy = Object.freeze({
  ...DEFAULT_STEP_RETRY,
  retries: 10,
});

/**
 * An error a step throws to fail at once, without its remaining retries (a declined card, an
 * invalid request). p-retry's `AbortError` is honoured the same way.
 */
export class NonRetryableError extends AbortError {
  constructor(message: string | Error) {
    super(message);
  }
}

/** Throws `TypeError` naming the option unless `value` is a valid {@link RetryPolicy}. */
export function assertRetryPolicy(value: unknown, name: string): asserts value is RetryPolicy {
  assertOptionsObject(value, name);
  assertKnownKeys(value, KEYS, name);
  const policy = value as RetryPolicy;
  if (policy.retries !== undefined) assertInteger(policy.retries, `${name}.retries`, 0, 1000);
  if (policy.minTimeout !== undefined) {
    assertInteger(policy.minTimeout, `${name}.minTimeout`, 0, MAX_TIMER_MS);
  }
  if (policy.maxTimeout !== undefined) {
    assertInteger(policy.maxTimeout, `${name}.maxTimeout`, 0, MAX_TIMER_MS);
  }
  if (
    policy.factor !== undefined &&
    (typeof policy.factor !== 'number' || !Number.isFinite(policy.factor) || policy.factor < 1)
  ) {
    throw new TypeError(`${name}.factor must be a finite number of at least 1`);
  }
  if (policy.randomize !== undefined && typeof policy.randomize !== 'boolean') {
    throw new TypeError(`${name}.randomize must be a boolean`);
  }
  if (policy.shouldRetry !== undefined) assertFunction(policy.shouldRetry, `${name}.shouldRetry`);
  if ((policy.minTimeout ?? 0) > (policy.maxTimeout ?? MAX_TIMER_MS)) {
    throw new TypeError(`${name}.minTimeout must not exceed ${name}.maxTimeout`);
  }
}

/** `policy` over `defaults`. */
export function resolveRetryPolicy(
  policy: RetryPolicy | undefined,
  defaults: ResolvedRetryPolicy,
): ResolvedRetryPolicy {
  if (policy === undefined) return defaults;
  const maxTimeout = policy.maxTimeout ?? Math.max(defaults.maxTimeout, policy.minTimeout ?? 0);
  return Object.freeze({
    retries: policy.retries ?? defaults.retries,
    factor: policy.factor ?? defaults.factor,
    minTimeout: Math.min(policy.minTimeout ?? defaults.minTimeout, maxTimeout),
    maxTimeout,
    randomize: policy.randomize ?? defaults.randomize,
    shouldRetry: policy.shouldRetry ?? defaults.shouldRetry,
  });
}

/**
 * The wait before retry number `retry` (1 for the first retry): p-retry's formula,
 * `min(maxTimeout, minTimeout × factor^(retry−1) × (randomize ? 1..2 : 1))`.
 */
export function retryDelay(
  policy: ResolvedRetryPolicy,
  retry: number,
  random = Math.random,
): number {
  const jitter = policy.randomize ? 1 + random() : 1;
  const raw = policy.minTimeout * policy.factor ** Math.max(0, retry - 1) * jitter;
  return Math.round(Math.min(policy.maxTimeout, raw));
}

/** Whether `error` may be retried under `policy` (never for an `AbortError`). */
export function isRetryable(policy: ResolvedRetryPolicy, error: unknown): boolean {
  if (error instanceof AbortError || (error as { name?: unknown })?.name === 'AbortError') {
    return false;
  }
  if (!policy.shouldRetry) return true;
  try {
    return policy.shouldRetry(error) === true;
  } catch {
    // A predicate that throws cannot vouch for a retry.
    return false;
  }
}
