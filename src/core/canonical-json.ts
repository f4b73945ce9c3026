/**
 * Canonical JSON: one text per value, whatever order its object keys were created in, so a hash
 * or a signature over it means the same thing to every writer and every verifier.
 *
 * Object keys are sorted by UTF-16 code units (the order of `Array.prototype.sort`), arrays keep
 * their order, and numbers, strings, booleans and `null` are written as `JSON.stringify` writes
 * them. No whitespace.
 */
import { unstorableText } from './options.js';

/**
 * `value` as canonical JSON text.
 *
 * It must be JSON data: plain objects, arrays, finite numbers, strings, booleans and `null`.
 * Everything else — `undefined` as a value, `NaN`, `Infinity`, `BigInt`, functions, symbols,
 * class instances such as `Date` or `Map`, cycles — is refused rather than silently changed, as
 * are strings or keys holding the NUL character or a lone surrogate (PostgreSQL cannot store
 * them). An object member whose value is `undefined` is refused too: leave the key out.
 *
 * @param name - the value's name in error messages, e.g. `entry.changes`.
 * @throws TypeError naming `name` and the path of the first value that is not JSON data.
 */
export function canonicalJson(value: unknown, name: string): string {
  return encode(value, () => name, []);
}

/** The path of the value being encoded, built only when an error names it. */
type Path = () => string;

function encode(value: unknown, path: Path, seen: object[]): string {
  switch (typeof value) {
    case 'string': {
      const problem = unstorableText(value);
      if (problem !== undefined) throw new TypeError(`${path()} ${problem}`);
      return JSON.stringify(value);
    }
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${path()} must be JSON data; got ${value}`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      return encodeObject(value, path, seen);
    default:
      throw new TypeError(`${path()} must be JSON data; got ${typeof value}`);
  }
}

function encodeObject(value: object, path: Path, seen: object[]): string {
  if (seen.includes(value)) throw new TypeError(`${path()} must be JSON data; got a cycle`);
  seen.push(value);
  let text: string;
  if (Array.isArray(value)) {
    text = `[${value.map((item, i) => encode(item, () => `${path()}[${i}]`, seen)).join(',')}]`;
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const kind = (value as object).constructor?.name ?? 'a class';
      throw new TypeError(`${path()} must be JSON data; got an instance of ${kind}`);
    }
    const record = value as Record<string, unknown>;
    text = '{';
    for (const key of Object.keys(record).sort()) {
      const problem = unstorableText(key);
      if (problem !== undefined) {
        throw new TypeError(`${path()} key ${JSON.stringify(key)} ${problem}`);
      }
      if (text.length > 1) text += ',';
      text += `${JSON.stringify(key)}:${encode(record[key], () => memberPath(path(), key), seen)}`;
    }
    text += '}';
  }
  seen.pop();
  return text;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function memberPath(path: string, key: string): string {
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}
