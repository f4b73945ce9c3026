/**
 * The idempotency store port: the few atomic primitives every backend implements. Everything else
 * (scoping, fingerprints, outcome policy, serialisation, events) lives in the module, once.
 *
 * Every time in this port is read from the store's clock, inside the store's own round trip (SQL,
 * Lua): a host whose clock is wrong cannot expire a lease early or keep one alive.
 */
import type { MigrationReport } from '../core/storage-backend.js';

/** The life-cycle state of a stored key. */
export type IdempotencyStatus = 'in_progress' | 'completed' | 'released';

/** One stored key, as the store last saw it. */
export interface IdempotencyRecord {
  /** The scoped key. */
  readonly key: string;
  /** Fingerprint of the request that claimed the key. */
  readonly fingerprint: string;
  /** `in_progress` (leased to an owner), `completed` (result stored) or `released` (claimable). */
  readonly status: IdempotencyStatus;
  /** Fencing token of the latest claim; every claim of the key gets a higher one. */
  readonly token: number;
  /** True when the owner reported that its side effect started (`markSideEffectStarted()`). */
  readonly sideEffectStarted: boolean;
  /** The stored, serialised outcome; set when `completed`. */
  readonly result: string | undefined;
  /** End of the owner's lease, in epoch milliseconds of the store's clock. */
  readonly leaseExpiresAt: number;
  /** End of retention, in epoch milliseconds of the store's clock; the record is then deletable. */
  readonly expiresAt: number;
  /** The store's clock when the record was read, in epoch milliseconds. */
  readonly now: number;
}

/** What {@link IdempotencyStore.claim} is asked to do. */
export interface ClaimRequest {
  /** The scoped key. */
  readonly key: string;
  /** Fingerprint of the request. */
  readonly fingerprint: string;
  /** Length of the lease granted on success, in milliseconds. */
  readonly leaseMs: number;
  /** How long the record is kept, in milliseconds, counted from the claim. */
  readonly retentionMs: number;
  /**
   * Also re-claim an expired lease whose owner had reported a started side effect (by default such
   * a record is returned as it is, so the caller can report an unknown outcome).
   */
  readonly reclaimStarted: boolean;
}

/**
 * Why a claim could take a key that had a record: its owner's lease ran out (`lease-expired`), its
 * owner released it (`released`), or its retention had passed (`retention-expired`).
 */
export type ReclaimReason = 'lease-expired' | 'released' | 'retention-expired';

/** The outcome of {@link IdempotencyStore.claim}. */
export type ClaimResult =
  | {
      /** The caller now owns the key. */
      readonly claimed: true;
      /** The new record; its `token` fences the caller's later writes. */
      readonly record: IdempotencyRecord;
      /** What the claim replaced; `undefined` when the key was absent. */
      readonly reclaimed: ReclaimReason | undefined;
    }
  | {
      /** Someone else's record stands. */
      readonly claimed: false;
      /** That record. */
      readonly record: IdempotencyRecord;
    };

/**
 * The port an idempotency backend implements. Each method is one atomic round trip; `claim` in
 * particular inserts, re-claims or returns the existing record in a single step (`INSERT … ON
 * CONFLICT … RETURNING`, a Lua script…).
 *
 * A claim succeeds when the key is absent, when its record's retention has passed, or when the
 * fingerprints match and the record is `released` or `in_progress` with an expired lease (and, for
 * a lease whose owner reported a started side effect, only with `reclaimStarted`). Otherwise the
 * existing record is returned unchanged. `complete`, `release` and `heartbeat` are compare-and-set
 * on the fencing token and the `in_progress` status: a stale owner's write changes nothing.
 *
 * @typeParam Tx - what {@link IdempotencyStore.transaction} hands to its callback (the backend bound
 * to the transaction, for the application's own writes).
 */
export interface IdempotencyStore<Tx = unknown> {
  /** Which engine this is, e.g. `postgres`. */
  readonly kind: string;
  /** Applies the store's pending migrations (component `idempotency`). Safe to run concurrently. */
  migrate(): Promise<MigrationReport>;
  /** Claims `request.key`, or returns the record that stands in the way. */
  claim(request: ClaimRequest): Promise<ClaimResult>;
  /**
   * Stores `result` and marks the record `completed`, kept for `retentionMs` from now. Returns
   * false (and changes nothing) when `token` is not the record's current token or the record is
   * not `in_progress`.
   */
  complete(key: string, token: number, result: string, retentionMs: number): Promise<boolean>;
  /** Marks the record `released` (claimable again). Returns false like `complete`. */
  release(key: string, token: number): Promise<boolean>;
  /**
   * Extends the lease to `leaseMs` from now and, with `sideEffectStarted`, records that the owner's
   * side effect started. Returns false like `complete`.
   */
  heartbeat(
    key: string,
    token: number,
    leaseMs: number,
    sideEffectStarted: boolean,
  ): Promise<boolean>;
  /** Reads a record; `undefined` when absent or past retention. */
  get(key: string): Promise<IdempotencyRecord | undefined>;
  /**
   * Deletes up to `limit` records past their retention (never one whose lease is still running),
   * and returns how many it deleted. A record re-claimed concurrently is not deleted.
   */
  deleteExpired(limit: number): Promise<number>;
  /**
   * Runs `fn` in one transaction of the underlying backend: a store bound to the transaction and
   * the bound backend itself, for the application's writes. Absent on stores without transactions.
   */
  transaction?<T>(fn: (store: IdempotencyStore<Tx>, tx: Tx) => Promise<T>): Promise<T>;
  /** Releases what the store opened itself (the backend, when the store owns it). Idempotent. */
  close(): Promise<void>;
}
