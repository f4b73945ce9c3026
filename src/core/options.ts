/**
 * Early, precise checks of option objects. Programmer mistakes throw `TypeError` naming the option,
 * never a {@link FlowproofError}: they are bugs to fix, not conditions to handle at run time.
 */
import { describeValue } from './errors.js';

/** Throws a `TypeError` naming `name` unless `value` is a plain object (or undefined when optional). */
export function assertOptionsObject<T>(
  value: T,
  name: string,
): asserts value is unknown extends T ? T & Record<string, unknown> : T & object {
  if (typeof value !== 'object' || value === null || isArrayOrUnreadable(value)) {
    throw new TypeError(`${name} must be an object, got ${describeValue(value)}`);
  }
}

/** True for an array, and for an object that cannot be read (a revoked proxy). */
function isArrayOrUnreadable(value: object): boolean {
  try {
    Object.keys(value);
    return Array.isArray(value);
  } catch {
    return true;
  }
}

/** Throws unless `value` is a non-empty string. */
export function assertNonEmptyString(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${name} must be a non-empty string, got ${describeValue(value)}`);
  }
}

/** Throws unless `value` is a finite integer within `[min, max]`. */
export function assertInteger(
  value: unknown,
  name: string,
  min = Number.MIN_SAFE_INTEGER,
  max = Number.MAX_SAFE_INTEGER,
): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(
      `${name} must be an integer between ${min} and ${max}, got ${typeof value === 'number' ? value : describeValue(value)}`,
    );
  }
}

/** Throws unless `value` is a function. */
export function assertFunction(
  value: unknown,
  name: string,
): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') {
    throw new TypeError(`${name} must be a function, got ${describeValue(value)}`);
  }
}

/**
 * Checks a SQL identifier fragment supplied by configuration (schema, table prefix). They are
 * interpolated into DDL, so only a conservative character set is accepted.
 */
export function assertSqlIdentifier(value: unknown, name: string, allowEmpty = false): string {
  if (typeof value !== 'string' || (!allowEmpty && value.length === 0)) {
    throw new TypeError(`${name} must be a string, got ${describeValue(value)}`);
  }
  if (value.length > 0 && !/^[A-Za-z_][A-Za-z0-9_]{0,39}$/.test(value)) {
    throw new TypeError(
      `${name} must start with a letter or underscore and contain only letters, digits and underscores (at most 40), got "${value}"`,
    );
  }
  return value;
}

/**
 * Checks the `{ backend, ownsBackend }` options every module store factory takes: the backend must
 * be of `kind` (made by `factory`), and `ownsBackend` a boolean when given.
 *
 * @throws TypeError naming the option.
 */
export function assertStoreOptions<B extends { readonly kind: string }>(
  options: { readonly backend: B; readonly ownsBackend?: boolean },
  kind: B['kind'],
  label: string,
  factory: string,
): { backend: B; ownsBackend: boolean } {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['backend', 'ownsBackend'], 'options');
  const { backend, ownsBackend } = options;
  if ((backend as { kind?: unknown } | undefined)?.kind !== kind) {
    throw new TypeError(`options.backend must be a ${label} backend (${factory}())`);
  }
  if (ownsBackend !== undefined && typeof ownsBackend !== 'boolean') {
    throw new TypeError('options.ownsBackend must be a boolean');
  }
  return { backend, ownsBackend: ownsBackend ?? false };
}

/**
 * Throws a `TypeError` naming every key of `value` that is not in `known`, so a misspelled option
 * (`leasMs` for `leaseMs`) is refused instead of silently ignored. `name` is the option object's
 * path in messages (`options`, `options.http`).
 */
export function assertKnownKeys(value: object, known: readonly string[], name: string): void {
  let allKnown = true;
  for (const key in value) {
    if (Object.hasOwn(value, key) && !known.includes(key)) {
      allKnown = false;
      break;
    }
  }
  if (allKnown) return;
  const unknown = Object.keys(value).filter((key) => !known.includes(key));
  if (unknown.length === 0) return;
  const listed = unknown.map((key) => `${name}.${key}`).join(', ');
  throw new TypeError(
    `unknown option${unknown.length > 1 ? 's' : ''} ${listed}; expected one of: ${known.join(', ')}`,
  );
}

/** NUL or any surrogate: text without one needs no closer look. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what it looks for.
const SUSPECT = /[\u0000\ud800-\udfff]/;

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why `text` cannot be stored alike by every backend, as the end of a sentence naming it, or
 * `undefined` when it can: PostgreSQL's `text` and `jsonb` hold neither the NUL character
 * (U+0000) nor a lone UTF-16 surrogate.
 */
export function unstorableText(text: string): string | undefined {
  // Most text holds neither character: one plain scan settles it before the precise checks.
  if (!SUSPECT.test(text)) return undefined;
  if (text.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (LONE_SURROGATE.test(text)) return 'must be well-formed Unicode (it holds a lone surrogate)';
  return undefined;
}

/**
 * What `read` returns, or a `TypeError` naming `name` with what it threw as `cause`
 * when the value cannot be read (a revoked proxy, a getter or proxy trap that throws).
 */
export function readable<T>(name: string, read: () => T): T {
  try {
    return read();
  } catch (cause) {
    throw unreadable(name, cause);
  }
}

/** A `TypeError` saying that `name` cannot be read, with what reading it threw as `cause`. */
export function unreadable(name: string, cause: unknown): TypeError {
  return new TypeError(`${name} cannot be read`, { cause });
}

/**
 * A null-prototype copy of the own enumerable properties of the object `value`, each
 * read once. Throws a `TypeError` naming `name` when it is not a (non-array) object, cannot be
 * read, or has a key outside `known` (space-separated names, which keeps the pure entry small).
 */
export function readObject(value: unknown, name: string, known?: string): Record<string, unknown> {
  const keys = readable(
    name,
    () =>
      typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value),
  );
  if (!keys) throw new TypeError(`${name} must be an object, got ${describeValue(value)}`);
  const copy: Record<string, unknown> = Object.create(null);
  for (const key of keys) {
    copy[key] = readable(`${name}.${key}`, () => (value as Record<string, unknown>)[key]);
  }
  if (known) assertKnownKeys(copy, known.split(' '), name);
  return copy;
}

/** Throws a `TypeError` naming `name` unless `signal` is undefined or an `AbortSignal`. */
export function assertSignal(
  signal: unknown,
  name = 'options.signal',
): asserts signal is AbortSignal | undefined {
  if (signal !== undefined && !readable(name, () => signal instanceof AbortSignal)) {
    throw new TypeError(`${name} must be an AbortSignal, got ${describeValue(signal)}`);
  }
}
