import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';
import { processSingleton } from './process-singleton.js';

// One generator per process, shared by the ESM and CommonJS builds: ids from both still increase.
const nextUlid = processSingleton('ids.ulid', 1, () => monotonicFactory(pooledRandom()));

/**
 * A PRNG for ulid drawing from a pool of cryptographically random bytes refilled 4 KiB at a time,
 * instead of one `randomFillSync` call per character (the default, and most of an id's cost).
 * ulid maps each draw to one of 32 characters with `Math.floor(draw * 32)`; a byte divided by 256
 * maps exactly 8 byte values to each, so the characters stay uniform.
 */
function pooledRandom(): () => number {
  const pool = new Uint8Array(4096);
  let next = pool.length;
  return () => {
    if (next === pool.length) {
      randomFillSync(pool);
      next = 0;
    }
    return (pool[next++] as number) / 256;
  };
}

/**
 * Returns a new ULID: 26 Crockford base-32 characters that sort by creation time. Ids created in
 * the same process are strictly increasing, even within one millisecond.
 *
 * @example
 * ```ts
 * const orderId = createId(); // '01JDQ3V8Z6X0M9K2T4B7N5C1PA'
 * ```
 */
export function createId(): string {
  return nextUlid();
}

const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/** True when `value` is a syntactically valid ULID string. */
export function isId(value: unknown): value is string {
  return typeof value === 'string' && ULID_PATTERN.test(value);
}
