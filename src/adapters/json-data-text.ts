/**
 * Checks shared by the module stores on the JSON data and bounds they are asked to write, so
 * memory, SQLite and PostgreSQL answer a bad value the same way, before anything is written.
 *
 * @internal
 */

/** Longest delay or lease a store takes: about 100 years. */
export const MAX_MS = 100 * 365 * 24 * 3_600_000;

/** @throws TypeError naming `name` unless `values` is an array of strings. */
export function assertStrings(values: readonly string[], name: string): void {
  if (!Array.isArray(values) || values.some((v) => typeof v !== 'string')) {
    throw new TypeError(`${name} must be an array of strings`);
  }
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * A value as JSON text. It must be JSON data (plain objects, arrays, finite numbers,
 * strings, booleans, `null`): what `JSON.stringify` would drop or change silently (`undefined`,
 * `NaN`, `Infinity`, functions, class instances such as `Date`) is refused, as is what it cannot
 * encode at all (`BigInt`, cycles). The NUL character (U+0000) and lone UTF-16 surrogates are
 * refused in strings and keys: PostgreSQL's `jsonb` cannot hold them, and a value must be storable
 * by every store alike.
 *
 * @throws TypeError naming `name` and the first value that is not JSON data.
 */
export function jsonDataText(value: unknown, name: string): string {
  try {
    return JSON.stringify(value, function check(this: unknown, key: string, item: unknown) {
      // `this[key]` is the value before a `toJSON()` (Date) turned it into a string.
      const raw = key === '' ? value : (this as Record<string, unknown>)[key];
      const at = key === '' ? name : `${name} (at key ${JSON.stringify(key)})`;
      if (key.includes('\u0000') || (typeof raw === 'string' && raw.includes('\u0000'))) {
        throw new TypeError(`${at} must not contain the NUL character (U+0000)`);
      }
      if (LONE_SURROGATE.test(key) || (typeof raw === 'string' && LONE_SURROGATE.test(raw))) {
        throw new TypeError(`${at} must be well-formed Unicode (it holds a lone surrogate)`);
      }
      if (isJsonData(raw)) return item;
      throw new TypeError(`${at} must be JSON data; got ${describeNonJson(raw)}`);
    });
  } catch (error) {
    if (error instanceof TypeError && error.message.startsWith(name)) throw error;
    // The engine's own refusal (BigInt, a cycle), worded as ours.
    throw new TypeError(`${name} must be JSON data (${(error as Error).message})`);
  }
}

function isJsonData(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null || Array.isArray(value)) return true;
      const proto = Object.getPrototypeOf(value);
      return proto === Object.prototype || proto === null;
    }
    default:
      return false;
  }
}

function describeNonJson(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'object' && value !== null) {
    return `an instance of ${(value as object).constructor?.name ?? 'a class'}`;
  }
  return typeof value;
}
