/**
 * Keyed hashing: HMAC-SHA-256 under a secret key, for lookups and blind indexes. An unkeyed hash
 * of low-entropy personal data (an email, a phone number, a date of birth) is reversed by trying
 * every candidate; without the key, a keyed hash cannot be.
 */
import { createHmac, type KeyObject } from 'node:crypto';
import { describeValue } from '../core/errors.js';
import { readable, readObject } from '../core/options.js';

/** The smallest key a keyed hasher accepts, in bytes. */
export const MIN_HASH_KEY_BYTES = 32;

/** Options of {@link createKeyedHasher}. */
export interface KeyedHasherOptions {
  /** The secret key: at least 32 bytes (a `Uint8Array`, or base64 text of one). */
  readonly key: Uint8Array | string;
  /**
   * Applied to each value before hashing, so equal values in different forms hash alike (e.g.
   * `(email) => email.trim().toLowerCase()`). Default: none.
   */
  readonly normalize?: (value: string) => string;
}

/** What {@link createKeyedHasher} returns. */
export interface KeyedHasher {
  /**
   * The value's keyed hash as base64url text (43 characters). `context` (e.g. `users.email`)
   * separates uses of one key: the same value hashes differently in different contexts.
   */
  hash(value: string, context?: string): string;
}

/**
 * A keyed hasher (HMAC-SHA-256). Equal values (after `normalize`) in the same context hash to the
 * same text, so the hash can be stored in an indexed column and looked up with `WHERE … = $1`.
 *
 * @example
 * ```ts
 * const emails = createKeyedHasher({ key: process.env.EMAIL_INDEX_KEY!, normalize: (e) => e.trim().toLowerCase() });
 * const emailIndex = emails.hash('Ana@Example.com', 'users.email');
 * ```
 * @throws TypeError when `key` is shorter than 32 bytes, `normalize` is not a function, or an
 * option is unknown; `hash` throws a TypeError when `normalize` does not return a string.
 */
export function createKeyedHasher(options: KeyedHasherOptions): KeyedHasher {
  const read = readObject(options, 'options', 'key normalize');
  const key = hashKeyBytes(read.key, 'options.key');
  const normalize = read.normalize as KeyedHasherOptions['normalize'];
  if (normalize !== undefined && typeof normalize !== 'function') {
    throw new TypeError('normalize must be a function');
  }
  return {
    hash(value, context = '') {
      if (typeof value !== 'string') throw new TypeError('value must be a string');
      if (typeof context !== 'string') throw new TypeError('context must be a string');
      if (normalize === undefined) return keyedHash(key, value, context);
      const normalized: unknown = normalize(value);
      if (typeof normalized !== 'string') {
        throw new TypeError(
          `options.normalize must return a string, got ${describeValue(normalized)}`,
        );
      }
      return keyedHash(key, normalized, context);
    },
  };
}

/**
 * HMAC-SHA-256 of `value` in `context` under `key`, as base64url. The context and value are
 * length-prefixed so that no (context, value) pair can collide with another.
 *
 * @internal
 */
export function keyedHash(key: Uint8Array | KeyObject, value: string, context: string): string {
  return createHmac('sha256', key)
    .update(`${context.length}:${context}:`)
    .update(value)
    .digest('base64url');
}

/** The bytes of a secret key given as bytes or base64 text, checked for length. @internal */
export function hashKeyBytes(key: unknown, name: string): Uint8Array {
  let bytes: Uint8Array | undefined;
  if (readable(name, () => key instanceof Uint8Array)) bytes = key as Uint8Array;
  else if (typeof key === 'string' && /^[A-Za-z0-9+/_-]+={0,2}$/.test(key)) {
    bytes = Buffer.from(key, key.includes('-') || key.includes('_') ? 'base64url' : 'base64');
  }
  if (bytes === undefined || bytes.byteLength < MIN_HASH_KEY_BYTES) {
    // The message never includes the key itself.
    throw new TypeError(
      `${name} must be a secret of at least ${MIN_HASH_KEY_BYTES} bytes (a Uint8Array or base64 text)`,
    );
  }
  return Uint8Array.from(bytes);
}
