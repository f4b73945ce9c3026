/**
 * An in-process LRU of completed results, so a duplicate of a recently completed key is answered
 * without a round trip. Completed records never change until their retention ends, so a cached
 * entry stays correct for as long as the record it copies; entries expire no later than that.
 *
 * @internal
 */
import { performance } from 'node:perf_hooks';

interface Entry {
  readonly fingerprint: string;
  readonly payload: string;
  /** `performance.now()` deadline: monotonic, unaffected by the host's wall clock. */
  readonly expiresAt: number;
}

/** @internal */
export class ResultCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;

  constructor(maxEntries: number, ttlMs: number) {
    this.#maxEntries = maxEntries;
    this.#ttlMs = ttlMs;
  }

  get(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= performance.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    // Refresh recency: Map iteration order is the LRU order.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry;
  }

  /** Caches `payload` for at most `remainingMs` (the record's remaining retention). */
  set(key: string, fingerprint: string, payload: string, remainingMs: number): void {
    const ttl = Math.min(this.#ttlMs, remainingMs);
    if (ttl <= 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, { fingerprint, payload, expiresAt: performance.now() + ttl });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}
