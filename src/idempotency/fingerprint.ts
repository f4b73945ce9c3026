/**
 * Request fingerprints: SHA-256 over a canonical JSON encoding, so the same request gives the same
 * fingerprint whatever the order of its object keys.
 */
import * as crypto from 'node:crypto';
import { describeValue } from '../core/errors.js';

/**
 * Encodes `value` as canonical JSON: object keys sorted (by UTF-16 code units, as RFC 8785 does),
 * no whitespace, numbers in their shortest round-trip form, `undefined` object members dropped.
 * `Date` becomes its ISO-8601 string and binary data (`Uint8Array`, `ArrayBuffer`) its base64
 * text; anything else JSON cannot carry is refused.
 *
 * @throws TypeError when `value` holds a function, symbol, bigint, non-finite number, a cycle, or a
 * class instance other than `Date` and binary data, or cannot be read (a revoked proxy, a getter
 * that throws).
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true, null] }); // '{"a":[true,null],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  try {
    return encode(value, []);
  } catch (error) {
    if (!(error instanceof EncodingError)) {
      // A revoked proxy, a getter that threw, nesting deeper than the stack: no encoding either.
      throw new TypeError(
        'value cannot be encoded as JSON: reading it failed (a revoked proxy, a getter that throws, or nesting too deep)',
        { cause: error },
      );
    }
    const path = error.path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${part}`));
    throw new TypeError(`$${path.join('')} ${error.message}`);
  }
}

/**
 * The fingerprint of `value`: lowercase hex SHA-256 of {@link canonicalJson}. `undefined`
 * fingerprints like `null`.
 *
 * @throws TypeError like {@link canonicalJson}.
 * @example
 * ```ts
 * fingerprint({ amount: 100, currency: 'EUR' }) === fingerprint({ currency: 'EUR', amount: 100 }); // true
 * ```
 */
export function fingerprint(value: unknown): string {
  return sha256Hex(value === undefined ? 'null' : canonicalJson(value));
}

/**
 * Lowercase hex SHA-256 of `text`. `crypto.hash` (Node.js ≥ 20.12) skips the Hash object that
 * `createHash` allocates, which is most of the cost on short texts.
 *
 * @internal
 */
export const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text).digest('hex');

/**
 * A value with no canonical encoding; `path` is filled in on the way back up, so the hot path
 * never builds path strings.
 */
class EncodingError extends Error {
  readonly path: (string | number)[] = [];
}

function encode(value: unknown, ancestors: object[]): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value))
        throw new EncodingError(`is ${value}, which has no JSON encoding`);
      // For finite numbers, String() is JSON's shortest round-trip form.
      return String(value);
    case 'object': {
      if (value === null) return 'null';
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw new EncodingError('is an invalid Date');
        return JSON.stringify(value.toISOString());
      }
      if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('base64'));
      if (value instanceof ArrayBuffer) {
        return JSON.stringify(Buffer.from(value).toString('base64'));
      }
      // Requests are shallow: a linear scan of the ancestors beats a Set.
      if (ancestors.includes(value)) throw new EncodingError('refers back to itself (a cycle)');
      ancestors.push(value);
      let text: string;
      if (Array.isArray(value)) {
        text = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) text += ',';
          const item: unknown = value[i];
          text += item === undefined ? 'null' : encodeMember(item, i, ancestors);
        }
        text += ']';
      } else {
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) {
          throw new EncodingError(
            `is an instance of ${value.constructor?.name ?? 'a class'}; pass plain data (pick the request parts with the fingerprint option)`,
          );
        }
        text = '{';
        for (const key of Object.keys(value).sort()) {
          const member = (value as Record<string, unknown>)[key];
          if (member === undefined) continue;
          if (text.length > 1) text += ',';
          text += `${JSON.stringify(key)}:${encodeMember(member, key, ancestors)}`;
        }
        text += '}';
      }
      ancestors.pop();
      return text;
    }
    default:
      throw new EncodingError(`is ${describeValue(value)}, which has no JSON encoding`);
  }
}

function encodeMember(value: unknown, key: string | number, ancestors: object[]): string {
  try {
    return encode(value, ancestors);
  } catch (error) {
    if (error instanceof EncodingError) error.path.unshift(key);
    throw error;
  }
}
