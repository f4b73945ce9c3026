/**
 * Request fingerprints: SHA-256 over a canonical JSON encoding, so the same request gives the same
 * fingerprint whatever the order of its object keys.
 */
import { createHash } from 'node:crypto';
import { describeValue } from '../core/errors.js';

/**
 * Encodes `value` as canonical JSON: object keys sorted (by UTF-16 code units, as RFC 8785 does),
 * no whitespace, numbers in their shortest round-trip form, `undefined` object members dropped.
 * `Date` becomes its ISO-8601 string and binary data (`Uint8Array`, `ArrayBuffer`) its base64
 * text; anything else JSON cannot carry is refused.
 *
 * @throws TypeError when `value` holds a function, symbol, bigint, non-finite number, a cycle, or a
 * class instance other than `Date` and binary data.
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true, null] }); // '{"a":[true,null],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  return encode(value, '$', new Set());
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
  return createHash('sha256')
    .update(value === undefined ? 'null' : canonicalJson(value))
    .digest('hex');
}

function encode(value: unknown, path: string, seen: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) {
        throw new TypeError(`${path} is ${value}, which has no JSON encoding`);
      }
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw new TypeError(`${path} is an invalid Date`);
        return JSON.stringify(value.toISOString());
      }
      if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('base64'));
      if (value instanceof ArrayBuffer) {
        return JSON.stringify(Buffer.from(value).toString('base64'));
      }
      if (seen.has(value)) throw new TypeError(`${path} refers back to itself (a cycle)`);
      seen.add(value);
      try {
        if (Array.isArray(value)) {
          return `[${value.map((item, i) => (item === undefined ? 'null' : encode(item, `${path}[${i}]`, seen))).join(',')}]`;
        }
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) {
          throw new TypeError(
            `${path} is an instance of ${value.constructor?.name ?? 'a class'}; pass plain data (pick the request parts with the fingerprint option)`,
          );
        }
        const entries: string[] = [];
        for (const key of Object.keys(value).sort()) {
          const member = (value as Record<string, unknown>)[key];
          if (member === undefined) continue;
          entries.push(`${JSON.stringify(key)}:${encode(member, `${path}.${key}`, seen)}`);
        }
        return `{${entries.join(',')}}`;
      } finally {
        seen.delete(value);
      }
    }
    default:
      throw new TypeError(`${path} is ${describeValue(value)}, which has no JSON encoding`);
  }
}
