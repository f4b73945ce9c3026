/**
 * Request fingerprints: SHA-256 over a canonical JSON encoding, so the same request gives the same
 * fingerprint whatever the order of its object keys.
 */
import * as crypto from 'node:crypto';
import { canonicalJson as encodeCanonicalJson } from '../core/canonical-json.js';

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
  return encodeCanonicalJson(value, '$', 'fingerprint');
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
