/**
 * An in-process LRU of completed results, so a duplicate of a recently completed key is answered
 * without a round trip. Completed records never change until their retention ends, so a cached
 * entry stays correct for as long as the record it copies; entries expire no later than that.
 *
 * Recency is approximate: a hit moves its entry to the back of the eviction order only when the
 * entry sits in the older half, so hits on recent entries cost a lookup and no Map rewrite. An
 * entry in the newer half is at least `maxEntries / 2` insertions away from eviction anyway.
 *
 * @internal
 */

/** Longest canonical request kept in an entry; longer ones are checked by their fingerprint. */
const MAX_KEPT_REQUEST = 512;

interface Entry {
  readonly fingerprint: string;
  /** The canonical request, when at most {@link MAX_KEPT_REQUEST} characters long. */
  readonly request: string | undefined;
  readonly payload: string;
  /** `performance.now()` deadline: monotonic, unaffected by the host's wall clock. */
  readonly expiresAt: number;
  /** When the entry last moved to the back, counted in moves. */
  position: number;
}

/** @internal */
export class ResultCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  /** Moves to the back so far; an entry's distance from the back is `#moves - entry.position`. */
  #moves = 0;

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
    // Map iteration order is the eviction order: re-inserting moves the entry to the back.
    if (this.#moves - entry.position > this.#maxEntries / 2) {
      this.#entries.delete(key);
      entry.position = ++this.#moves;
      this.#entries.set(key, entry);
    }
    return entry;
  }

  /**
   * Caches `payload` for at most `remainingMs` (the record's remaining retention), with what a
   * duplicate's request is checked against: `request` (canonical JSON) when short, else its
   * `fingerprint`.
   */
  set(
    key: string,
    request: string,
    fingerprint: string,
    payload: string,
    remainingMs: number,
  ): void {
    const ttl = Math.min(this.#ttlMs, remainingMs);
    if (ttl <= 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, {
      fingerprint,
      request: request.length <= MAX_KEPT_REQUEST ? request : undefined,
      payload,
      expiresAt: performance.now() + ttl,
      position: ++this.#moves,
    });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}
