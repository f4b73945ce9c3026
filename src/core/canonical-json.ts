/**
 * Canonical JSON: one text per value, whatever order its object keys were created in, so a hash
 * or a signature over it means the same thing to every writer and every verifier.
 *
 * Object keys are sorted by UTF-16 code units (the order of `Array.prototype.sort`, as RFC 8785
 * does), arrays keep their order, numbers are written in their shortest round-trip form and
 * strings, booleans and `null` as `JSON.stringify` writes them. No whitespace.
 */
import { describeValue } from './errors.js';
import { unstorableText } from './options.js';

/**
 * What {@link canonicalJson} accepts beyond JSON data:
 * - `stored` (values kept and read back, such as audit records): nothing — `undefined` (as a
 *   value or an object member), `Date`, binary data and every other class instance are refused
 *   rather than silently changed, as are strings or keys holding the NUL character or a lone
 *   surrogate, which PostgreSQL cannot store;
 * - `fingerprint` (values only hashed, such as requests): `undefined` object members are dropped
 *   and `undefined` array items written as `null`, a `Date` becomes its ISO-8601 text and binary
 *   data (`Uint8Array`, `ArrayBuffer`) its base64 text;
 * - `document` (values read back by people, such as lineage trees): as `fingerprint`, but object
 *   keys keep their own order (the order a calculation named its inputs in). Not canonical: use
 *   it only where nothing hashes or compares the text.
 */
export type CanonicalJsonMode = 'stored' | 'fingerprint' | 'document';

/**
 * How deep objects and arrays may nest. Deeper values are refused with a `TypeError` naming them,
 * before the engine's stack runs out (a `RangeError` that would name nothing).
 */
export const MAX_JSON_DEPTH = 1000;

/**
 * `value` as canonical JSON text. Besides what `mode` refuses, functions, symbols, `BigInt`,
 * non-finite numbers, cycles and nesting deeper than {@link MAX_JSON_DEPTH} levels are refused
 * in every mode.
 *
 * @param name - the value's name in error messages, e.g. `entry.changes` or `$`.
 * @throws TypeError naming `name` and the path of the first value with no canonical encoding, or
 * saying the value could not be read (a revoked proxy, a getter that throws).
 */
export function canonicalJson(
  value: unknown,
  name: string,
  mode: CanonicalJsonMode = 'stored',
): string {
  try {
    return encode(value, [], mode === 'stored', mode !== 'document');
  } catch (error) {
    if (!(error instanceof EncodingError)) {
      throw new TypeError(
        `${name} cannot be encoded as JSON: reading it failed (a revoked proxy or a getter that throws)`,
        { cause: error },
      );
    }
    const path = error.path.map(pathPart).join('');
    throw new CanonicalJsonError(`${name}${path} ${error.message}`, path);
  }
}

/**
 * The `TypeError` {@link canonicalJson} throws for a value with no encoding; `path` says where in
 * the value it is (`.items[2].price`, empty for the value itself), for callers that report it in
 * their own error's details.
 */
export class CanonicalJsonError extends TypeError {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'TypeError';
  }
}

/**
 * A value with no canonical encoding; `path` is filled in on the way back up, so the hot path
 * never builds path strings.
 */
class EncodingError extends Error {
  readonly path: (string | number)[] = [];
}

function encode(value: unknown, ancestors: object[], strict: boolean, sorted: boolean): string {
  switch (typeof value) {
    case 'string': {
      const problem = strict ? unstorableText(value) : undefined;
      if (problem !== undefined) throw new EncodingError(problem);
      return JSON.stringify(value);
    }
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new EncodingError(`must be JSON data; got ${value}`);
      // For finite numbers, String() is JSON's shortest round-trip form.
      return String(value);
    case 'object':
      if (value === null) return 'null';
      return encodeObject(value, ancestors, strict, sorted);
    default:
      throw new EncodingError(`must be JSON data; got ${describeValue(value)}`);
  }
}

function encodeObject(
  value: object,
  ancestors: object[],
  strict: boolean,
  sorted: boolean,
): string {
  if (!strict) {
    if (value instanceof Date) {
      if (Number.isNaN(value.getTime())) throw new EncodingError('is an invalid Date');
      return JSON.stringify(value.toISOString());
    }
    if (value instanceof Uint8Array || value instanceof ArrayBuffer) {
      return JSON.stringify(Buffer.from(value as Uint8Array).toString('base64'));
    }
  }
  // Values are shallow: a linear scan of the ancestors beats a Set.
  if (ancestors.includes(value)) throw new EncodingError('must be JSON data; got a cycle');
  if (ancestors.length >= MAX_JSON_DEPTH) {
    throw new EncodingError(`must nest at most ${MAX_JSON_DEPTH} levels deep`);
  }
  ancestors.push(value);
  let text: string;
  if (Array.isArray(value)) {
    text = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) text += ',';
      const item: unknown = value[i];
      text += item === undefined && !strict ? 'null' : member(item, i, ancestors, strict, sorted);
    }
    text += ']';
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const kind = value.constructor?.name ?? 'a class';
      throw new EncodingError(`must be JSON data; got an instance of ${kind}`);
    }
    text = '{';
    const keys = Object.keys(value);
    for (const key of sorted ? keys.sort() : keys) {
      const item = (value as Record<string, unknown>)[key];
      if (item === undefined && !strict) continue;
      const problem = strict ? unstorableText(key) : undefined;
      if (problem !== undefined) throw new EncodingError(`key ${JSON.stringify(key)} ${problem}`);
      if (text.length > 1) text += ',';
      text += `${JSON.stringify(key)}:${member(item, key, ancestors, strict, sorted)}`;
    }
    text += '}';
  }
  ancestors.pop();
  return text;
}

function member(
  value: unknown,
  key: string | number,
  ancestors: object[],
  strict: boolean,
  sorted: boolean,
): string {
  try {
    return encode(value, ancestors, strict, sorted);
  } catch (error) {
    if (error instanceof EncodingError) error.path.unshift(key);
    throw error;
  }
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function pathPart(part: string | number): string {
  if (typeof part === 'number') return `[${part}]`;
  return IDENTIFIER.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`;
}
