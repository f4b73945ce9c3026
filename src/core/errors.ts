/**
 * Every failure flowproof reports on purpose is a {@link FlowproofError} with a stable `code`.
 *
 * Codes never change once released; messages may. Tests and applications branch on `code`.
 * The full table lives in docs/errors.md, and a test keeps that table and this union in step.
 */

/**
 * Every error code flowproof can raise. Module-specific codes are added here as modules land, so
 * one union documents the whole library.
 */
export type FlowproofErrorCode =
  // core
  | 'VALIDATION_FAILED'
  | 'INVALID_CONTEXT'
  // storage backends
  | 'BACKEND_UNAVAILABLE'
  | 'BACKEND_TIMEOUT'
  | 'BACKEND_MISCONFIGURED'
  | 'BACKEND_ERROR'
  | 'BACKEND_CLOSED'
  | 'SCHEMA_OUTDATED'
  | 'SCHEMA_TOO_NEW'
  | 'MIGRATION_FAILED'
  | 'TRANSACTION_UNSUPPORTED'
  // validation
  | 'PIPELINE_REJECTED'
  | 'PIPELINE_STAGE_FAILED'
  | 'PIPELINE_FIELD_LOST'
  | 'PIPELINE_DEAD_LETTER_FAILED'
  | 'INTEGRATION_RESPONSE_INVALID'
  | 'SCHEMA_COLUMN_MISMATCH'
  // idempotency
  | 'IDEMPOTENCY_KEY_INVALID'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_IN_PROGRESS'
  | 'IDEMPOTENCY_OUTCOME_UNKNOWN'
  | 'IDEMPOTENCY_STALE_OWNER'
  | 'IDEMPOTENCY_UNAVAILABLE'
  | 'LOCK_NOT_ACQUIRED'
  // state machine
  | 'STATE_TRANSITION_DENIED'
  | 'VERSION_CONFLICT'
  | 'MACHINE_VERSION_MISMATCH'
  | 'ENTITY_NOT_FOUND'
  | 'ENTITY_EXISTS';

/** Options accepted by {@link FlowproofError}. */
export interface FlowproofErrorOptions {
  /** The underlying error, kept for debugging and exposed as `error.cause`. */
  readonly cause?: unknown;
  /** Structured, JSON-safe facts about the failure (never secrets or personal data). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The JSON form of a {@link FlowproofError}. */
export interface FlowproofErrorJson {
  /** Always `FlowproofError`. */
  readonly name: string;
  /** The error's code. */
  readonly code: FlowproofErrorCode;
  /** The error's message. */
  readonly message: string;
  /** The error's details. */
  readonly details: Readonly<Record<string, unknown>>;
}

/**
 * The base class of every error flowproof raises deliberately.
 *
 * @example
 * ```ts
 * try {
 *   await store.migrate();
 * } catch (error) {
 *   if (isFlowproofError(error, 'BACKEND_UNAVAILABLE')) retryLater();
 *   else throw error;
 * }
 * ```
 */
export class FlowproofError extends Error {
  /** Stable, documented identifier of the failure; safe to branch on. */
  readonly code: FlowproofErrorCode;
  /** Structured facts about the failure; empty when there are none. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: FlowproofErrorCode, message: string, options: FlowproofErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FlowproofError';
    this.code = code;
    this.details = Object.freeze({ ...options.details });
  }

  /** A JSON-safe view for logs and problem responses; the cause is left out. */
  toJSON(): FlowproofErrorJson {
    return { name: this.name, code: this.code, message: this.message, details: this.details };
  }
}

/**
 * Narrows `error` to a {@link FlowproofError}, optionally of one code. Works across module copies
 * (duplicate installs) by checking the shape, not only the prototype chain.
 */
export function isFlowproofError<C extends FlowproofErrorCode>(
  error: unknown,
  code?: C,
): error is FlowproofError & Readonly<Record<'code', C>> {
  if (error instanceof FlowproofError) return code === undefined || error.code === code;
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { name?: unknown; code?: unknown };
  return (
    candidate.name === 'FlowproofError' &&
    typeof candidate.code === 'string' &&
    (code === undefined || candidate.code === code)
  );
}

/**
 * Describes a value for an error message without dumping it (it may hold personal data). Never
 * throws: an object that cannot be inspected (a revoked proxy) is `an object`.
 */
export function describeValue(value: unknown): string {
  if (typeof value !== 'object') return typeof value;
  if (value === null) return 'null';
  try {
    if (Array.isArray(value)) return 'an array';
    if (value instanceof Date) return 'a Date';
  } catch {}
  return 'an object';
}
