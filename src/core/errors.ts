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
  /**
   * Structured facts about the failure (never secrets or personal data). Copied into a JSON-safe
   * form: a `bigint` becomes its decimal string, a `Date` its ISO string, a non-finite number
   * `null`; `undefined`, functions and symbols are left out; cycles and unreadable values are
   * replaced by a marker string.
   */
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
 * Marks each flowproof error class with a name that is the same in every copy of flowproof (the
 * ESM and the CommonJS build, duplicate installs), so `instanceof` holds across copies.
 */
const ERROR_CLASS: unique symbol = Symbol.for('flowproof.error-class@1') as never;

/**
 * The base class of every error flowproof raises deliberately.
 *
 * `instanceof FlowproofError` (and `instanceof` its subclasses) holds for errors raised by any copy
 * of flowproof in the process: code loaded through `require` and code loaded through `import`
 * raise errors that pass either build's check.
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
  /** @internal The class's name in every copy of flowproof; subclasses declare their own. */
  static readonly [ERROR_CLASS]: string = 'FlowproofError';

  /** Stable, documented identifier of the failure; safe to branch on. */
  readonly code: FlowproofErrorCode;
  /**
   * Structured facts about the failure; empty when there are none. Always JSON-safe: values JSON
   * cannot hold are converted when the error is made (see {@link FlowproofErrorOptions.details}).
   */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: FlowproofErrorCode, message: string, options: FlowproofErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FlowproofError';
    this.code = code;
    this.details = jsonSafeDetails(options.details);
  }

  /**
   * True when `value` is an instance of this class, made by this copy of flowproof or another one
   * (the other module format, a duplicate install).
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class `instanceof` asked about.
    return isInstanceAcrossCopies(this, value);
  }

  /** A JSON-safe view for logs and problem responses; the cause is left out. */
  toJSON(): FlowproofErrorJson {
    return { name: this.name, code: this.code, message: this.message, details: this.details };
  }
}

/**
 * `value instanceof errorClass`, where `value` may come from another copy of flowproof: true when
 * a class in its prototype chain has the same {@link ERROR_CLASS} name as `errorClass`.
 */
function isInstanceAcrossCopies(errorClass: object, value: unknown): boolean {
  if (Function.prototype[Symbol.hasInstance].call(errorClass, value)) return true;
  // A subclass of the application's own has no name of its own: only its own instances match.
  if (!Object.hasOwn(errorClass, ERROR_CLASS)) return false;
  const name = (errorClass as Record<typeof ERROR_CLASS, unknown>)[ERROR_CLASS];
  try {
    let prototype =
      typeof value === 'object' && value !== null ? Object.getPrototypeOf(value) : null;
    for (; prototype !== null; prototype = Object.getPrototypeOf(prototype)) {
      const owner = Object.getOwnPropertyDescriptor(prototype, 'constructor')?.value;
      if (
        typeof owner === 'function' &&
        Object.hasOwn(owner, ERROR_CLASS) &&
        owner[ERROR_CLASS] === name
      ) {
        return true;
      }
    }
  } catch {
    // A revoked proxy or a hostile getPrototypeOf trap: not a flowproof error.
  }
  return false;
}

/**
 * Gives `errorClass` the name by which other copies of flowproof recognise it, for `instanceof`
 * across copies. Every exported subclass of {@link FlowproofError} calls it once.
 *
 * @internal
 */
export function registerErrorClass(
  errorClass: abstract new (...args: never[]) => FlowproofError,
  name: string,
): void {
  Object.defineProperty(errorClass, ERROR_CLASS, { value: name });
}

/**
 * Narrows `error` to a {@link FlowproofError}, optionally of one code. Works across copies of
 * flowproof (the ESM and CommonJS builds, duplicate installs). Never throws, whatever `error` is.
 */
export function isFlowproofError<C extends FlowproofErrorCode>(
  error: unknown,
  code?: C,
): error is FlowproofError & Readonly<Record<'code', C>> {
  try {
    if (error instanceof FlowproofError) return code === undefined || error.code === code;
    // A copy of flowproof that predates cross-copy `instanceof`: recognised by its shape.
    if (typeof error !== 'object' || error === null) return false;
    const candidate = error as { name?: unknown; code?: unknown };
    return (
      candidate.name === 'FlowproofError' &&
      typeof candidate.code === 'string' &&
      (code === undefined || candidate.code === code)
    );
  } catch {
    // A revoked proxy, or a getter that throws: whatever it is, it is not a usable error.
    return false;
  }
}

/** Longest chain of nested objects kept in error details; deeper values are replaced. */
const MAX_DETAILS_DEPTH = 16;

/**
 * Copies `details` into a frozen, JSON-safe object, so `JSON.stringify(error)` never throws and
 * logs the same facts the code saw. Nothing is refused (an error made while reporting another
 * must not hide it); values JSON cannot hold are converted: a `bigint` becomes its decimal string,
 * a `Date` its ISO string (`null` when invalid), a non-finite number `null`; `undefined`,
 * functions and symbols are left out (`null` in arrays); a repeated reference (a cycle) becomes
 * `'[Circular]'`, a value nested deeper than 16 levels `'[Too deep]'`, and an object that cannot
 * be read (a revoked proxy, a throwing getter) `'[Unreadable]'`.
 */
function jsonSafeDetails(details: unknown): Readonly<Record<string, unknown>> {
  if (details === undefined || details === null) return Object.freeze({});
  const safe = toJsonSafe(details, new Set(), 0);
  return Object.freeze(
    typeof safe === 'object' && safe !== null && !Array.isArray(safe) ? safe : { value: safe },
  ) as Readonly<Record<string, unknown>>;
}

function toJsonSafe(value: unknown, ancestors: Set<object>, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return null;
  const object = value as object;
  if (ancestors.has(object)) return '[Circular]';
  if (depth >= MAX_DETAILS_DEPTH) return '[Too deep]';
  try {
    if (object instanceof Date) {
      return Number.isNaN(object.getTime()) ? null : object.toISOString();
    }
    ancestors.add(object);
    if (Array.isArray(object)) {
      return object.map((item) => toJsonSafe(item, ancestors, depth + 1) ?? null);
    }
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(object)) {
      const item = toJsonSafe((object as Record<string, unknown>)[key], ancestors, depth + 1);
      // defineProperty, not assignment: a `__proto__` key is data here, not the prototype.
      if (item !== undefined) {
        Object.defineProperty(copy, key, {
          value: item,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
    }
    return copy;
  } catch {
    return '[Unreadable]';
  } finally {
    ancestors.delete(object);
  }
}

/** Describes a value for an error message without dumping it (it may hold personal data). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  try {
    if (Array.isArray(value)) return 'an array';
    if (value instanceof Date) return 'a Date';
  } catch {
    return 'an unreadable object (a revoked proxy?)';
  }
  return 'an object';
}
