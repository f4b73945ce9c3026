/**
 * The retention-store port: what a backend implements to keep erasure requests (with each
 * location's stored identifiers, progress and receipt), legal holds, and the erasure ledger that
 * survives backup restores.
 *
 * Rows hold no personal data beyond the data subject's id (an opaque application id such as
 * `user-42`) and, while a request is open, the identifiers each location resolved; the retention
 * module clears those when the request ends.
 *
 * Times are epoch milliseconds of the **store's** clock. JSON columns are text the retention module
 * builds and the store keeps byte for byte.
 *
 * Adapters: `createMemoryRetentionStore`, `createSqliteRetentionStore`,
 * `createPostgresRetentionStore`. Certify your own with `describeRetentionStoreConformance` from
 * `flowproof/testing`.
 */
import type { MigrationReport, StorageBackend } from '../core/storage-backend.js';

/** The migration component name retention stores record their schema under. */
export const RETENTION_STORE_COMPONENT = 'retention';

/**
 * Where an erasure request stands.
 *
 * - `resolving`: accepted; the locations' identifiers are being resolved and stored.
 * - `pending`: in its grace period (cancellable); nothing erased yet.
 * - `running`: the locations are being erased.
 * - `completed`: every location ended erased, anonymized or retained under its policy.
 * - `partial`: every location ended, and at least one could not erase (`unsupported`) or failed
 *   for good.
 * - `cancelled`: withdrawn during the grace period.
 */
export type ErasureStatus =
  | 'resolving'
  | 'pending'
  | 'running'
  | 'completed'
  | 'partial'
  | 'cancelled';

/** Statuses of requests still open. */
export const OPEN_ERASURE_STATUSES: readonly ErasureStatus[] = Object.freeze([
  'resolving',
  'pending',
  'running',
]);

/** A new erasure request, as the retention module hands it to the store. */
export interface NewErasureRequest {
  /** A ULID made by the retention module; unique across the store. */
  readonly id: string;
  /** The data subject's id. */
  readonly subject: string;
  /**
   * What the request covers: `''` for everything the data map holds about the subject, or the
   * sorted, comma-joined data types (`marketing_consent`) of a narrower request. At most one open
   * request exists per subject and scope.
   */
  readonly scope: string;
  /** Where the request came from (`user_request`, `support`, `consent_withdrawal`). */
  readonly source: string;
  /** Why, or `null`. */
  readonly reason: string | null;
  /** Who asked: JSON text of an audit actor, or `null`. */
  readonly actor: string | null;
  /** The grace period, ms: erasure starts at `receivedAt + graceMs`. */
  readonly graceMs: number;
  /** When it is due, ms after `receivedAt` (the legal deadline). */
  readonly dueInMs: number;
}

/** A stored erasure request. */
export interface ErasureRequestRow {
  /** The request's id (a ULID). */
  readonly id: string;
  /** The data subject's id. */
  readonly subject: string;
  /** See {@link NewErasureRequest.scope}. */
  readonly scope: string;
  /** Where the request came from. */
  readonly source: string;
  /** Why, or `null`. */
  readonly reason: string | null;
  /** Who asked (JSON text), or `null`. */
  readonly actor: string | null;
  /** Where it stands. */
  readonly status: ErasureStatus;
  /** When the store accepted it (epoch ms, the store's clock). */
  readonly receivedAt: number;
  /** When erasure may start: the end of the grace period (epoch ms). */
  readonly eraseAfter: number;
  /** The deadline (epoch ms), moved by extensions. */
  readonly dueAt: number;
  /** JSON text: the extensions granted, oldest first (the module's format), or `null`. */
  readonly extensions: string | null;
  /** When it reached `completed`, `partial` or `cancelled` (epoch ms), or `null`. */
  readonly finishedAt: number | null;
  /** Bumped by every update; updates compare and set on it. */
  readonly version: number;
}

/** What {@link RetentionStore.createRequest} returns. */
export interface CreatedErasureRequest {
  /** The new request, or the open request of the same subject and scope that already existed. */
  readonly row: ErasureRequestRow;
  /** `false` when an open request for the subject and scope already existed. */
  readonly created: boolean;
}

/** Fields {@link RetentionStore.updateRequest} may change. */
export interface ErasureRequestPatch {
  /** The new status. A final status (`completed`, `partial`, `cancelled`) also sets `finishedAt`. */
  readonly status?: ErasureStatus;
  /** The new end of the grace period (epoch ms). */
  readonly eraseAfter?: number;
  /** The new deadline (epoch ms). */
  readonly dueAt?: number;
  /** The new extensions (JSON text). */
  readonly extensions?: string | null;
}

/**
 * Where one location of a request stands.
 *
 * - `pending`: identifiers stored (or none needed); not started.
 * - `started`: its erasure flow has been started.
 * - `failed`: its erasure flow failed for good (dead-lettered); `error` says why. A redrive moves
 *   it back to `started`.
 * - `done`: it has its receipt.
 */
export type ErasureLocationStatus = 'pending' | 'started' | 'failed' | 'done';

/** One location of one request. */
export interface ErasureLocationRow {
  /** The request. */
  readonly requestId: string;
  /** The location's name in the data map. */
  readonly location: string;
  /** Where it stands. */
  readonly status: ErasureLocationStatus;
  /**
   * JSON text: the identifiers the location resolved for the subject when the request was made
   * (or when the location joined the map), or `null` once cleared at the end of the request.
   */
  readonly identifiers: string | null;
  /** JSON text of the receipt once `done`, else `null`. Written once, never changed. */
  readonly receipt: string | null;
  /** JSON text of the last error record when `failed`, else `null`. */
  readonly error: string | null;
  /** When the location was added to the request (epoch ms). */
  readonly addedAt: number;
  /** When its receipt was written (epoch ms), or `null`. */
  readonly settledAt: number | null;
}

/** What {@link RetentionStore.settleLocation} returns. */
export interface SettledLocation {
  /** The location's row with its receipt: the receipt given, or the one written before. */
  readonly row: ErasureLocationRow;
  /** `false` when the location already had a receipt (the given one was not written). */
  readonly settled: boolean;
}

/** A legal hold as the retention module hands it to the store: on a subject, a data type, or both. */
export interface NewLegalHold {
  /** A ULID made by the retention module. */
  readonly id: string;
  /** The held data subject, or `null` for a hold on a data type. */
  readonly subject: string | null;
  /**
   * The held data type, or `null` for a hold on a subject (both: that subject's data of that
   * type). Stores refuse a hold with neither (a `TypeError`): it would cover nothing.
   */
  readonly dataType: string | null;
  /** Why (a case number, a litigation reference). */
  readonly reason: string;
  /** Who answers for it (a person or team). */
  readonly owner: string;
}

/** A stored legal hold. */
export interface LegalHoldRow extends NewLegalHold {
  /** When it was placed (epoch ms, the store's clock). */
  readonly placedAt: number;
  /** When it was released (epoch ms), or `null` while active. */
  readonly releasedAt: number | null;
  /** Why it was released, or `null`. */
  readonly releaseReason: string | null;
}

/** What {@link RetentionStore.activeHolds} matches. */
export interface HoldLookup {
  /** Holds on this subject (any data type, or one of `dataTypes`). */
  readonly subject?: string;
  /** Holds on any of these data types (any subject, or `subject`). */
  readonly dataTypes?: readonly string[];
}

/** One erased subject in the ledger: no personal data besides the subject's id. */
export interface ErasureLedgerEntry {
  /** The request that erased it (a ULID; the ledger's key and order). */
  readonly requestId: string;
  /** The data subject's id. */
  readonly subject: string;
  /** The request's scope (`''` for everything). */
  readonly scope: string;
  /** When the erasure finished (epoch ms). */
  readonly erasedAt: number;
}

/** A page of requests by deadline. */
export interface DeadlineQuery {
  /** Open requests due strictly before this time (epoch ms). */
  readonly dueBefore: number;
  /** Only after this position (deadline, then id), from the previous page's last row. */
  readonly after?: {
    /** That row's deadline (epoch ms). */
    readonly dueAt: number;
    /** That row's id. */
    readonly id: string;
  };
  /** At most this many, earliest deadline first. */
  readonly limit: number;
}

/**
 * The port. Each operation is atomic on its own.
 *
 * @typeParam Tx - what {@link RetentionStore.withBackend} takes: the store's backend bound to a
 * transaction.
 */
export interface RetentionStore<Tx = unknown> {
  /** The backend kind, e.g. `postgres`. */
  readonly kind: string;
  /** The backend the store works on. */
  readonly backend: StorageBackend;
  /** Creates or upgrades the store's tables (component `retention`). Safe to call concurrently. */
  migrate(): Promise<MigrationReport>;
  /** The store's clock. */
  now(): Promise<Date>;
  /**
   * The same store over `backend`, a backend bound to a transaction: what it writes commits or
   * rolls back with that transaction.
   *
   * @throws TypeError when `backend` is not a backend of the store's kind.
   */
  withBackend(backend: Tx): RetentionStore<Tx>;

  /**
   * Stores a new request in status `resolving`, `receivedAt` the store's now, `eraseAfter` =
   * `receivedAt + graceMs`, `dueAt` = `receivedAt + dueInMs`; or, when an open request of the same
   * subject and scope exists (also one created by another process at the same moment), returns it
   * with `created: false`. A request whose `id` is stored already (a retried call whose reply was
   * lost) is returned as stored, also with `created: false`.
   */
  createRequest(request: NewErasureRequest): Promise<CreatedErasureRequest>;
  /** The request, or `undefined`. */
  getRequest(id: string): Promise<ErasureRequestRow | undefined>;
  /**
   * Applies `patch` when the request's version is still `expectedVersion`; returns the updated row
   * (version + 1), or `undefined` when the version moved on (or the request does not exist).
   */
  updateRequest(
    id: string,
    expectedVersion: number,
    patch: ErasureRequestPatch,
  ): Promise<ErasureRequestRow | undefined>;
  /**
   * Requests in one of `statuses` (and, when given, with `eraseAfter` at or before `eraseBy`), in
   * id order after `afterId`, at most `limit`.
   */
  requestsByStatus(query: {
    readonly statuses: readonly ErasureStatus[];
    readonly eraseBy?: number;
    readonly afterId?: string;
    readonly limit: number;
  }): Promise<readonly ErasureRequestRow[]>;
  /** A subject's requests, newest first (at most `limit`). */
  requestsOfSubject(subject: string, limit: number): Promise<readonly ErasureRequestRow[]>;
  /** Open requests due before a time, earliest deadline first. */
  requestsDueBefore(query: DeadlineQuery): Promise<readonly ErasureRequestRow[]>;

  /**
   * Adds locations to a request (status `pending`, `addedAt` the store's now). A location the
   * request already has is left as it is (its identifiers are not replaced). Returns how many were
   * added.
   *
   * @throws FlowproofError `RETENTION_REQUEST_NOT_FOUND` when the request does not exist.
   */
  addLocations(
    requestId: string,
    locations: readonly { readonly location: string; readonly identifiers: string | null }[],
  ): Promise<number>;
  /** The request's locations, in name order. */
  locations(requestId: string): Promise<readonly ErasureLocationRow[]>;
  /**
   * Moves a location to `started` or `failed` (with `error`), unless it is `done`; returns the
   * row after, or `undefined` when the location does not exist.
   */
  markLocation(
    requestId: string,
    location: string,
    status: 'started' | 'failed',
    error?: string | null,
  ): Promise<ErasureLocationRow | undefined>;
  /**
   * Writes a location's receipt once: status `done`, `settledAt` the store's now, `error` cleared.
   * A location that already has a receipt keeps it (`settled: false`, the stored row).
   *
   * @throws FlowproofError `RETENTION_REQUEST_NOT_FOUND` when the request has no such location.
   */
  settleLocation(requestId: string, location: string, receipt: string): Promise<SettledLocation>;
  /** Clears every location's identifiers of a finished request; returns how many it cleared. */
  clearIdentifiers(requestId: string): Promise<number>;

  /**
   * Stores a new hold (active; `placedAt` the store's now). A hold whose `id` is stored already (a
   * retried call) is returned as stored.
   */
  placeHold(hold: NewLegalHold): Promise<LegalHoldRow>;
  /**
   * Releases an active hold (`releasedAt` the store's now); returns the row after, or `undefined`
   * when there is no such hold. Releasing a released hold returns it unchanged.
   */
  releaseHold(id: string, reason: string): Promise<LegalHoldRow | undefined>;
  /** The hold, or `undefined`. */
  getHold(id: string): Promise<LegalHoldRow | undefined>;
  /**
   * Active holds that cover `lookup`: holds on the subject with no data type or one of
   * `dataTypes`, and holds on one of `dataTypes` with no subject or that subject. With neither
   * criterion, every active hold. A subject alone matches its holds of any data type; data types
   * alone match their holds of any subject; an empty `dataTypes` matches no hold by type. In id
   * order, at most `limit` (default 1000).
   */
  activeHolds(lookup: HoldLookup, limit?: number): Promise<readonly LegalHoldRow[]>;
  /** Every hold (active and released), id order after `afterId`, at most `limit`. */
  listHolds(query: {
    readonly activeOnly?: boolean;
    readonly afterId?: string;
    readonly limit: number;
  }): Promise<readonly LegalHoldRow[]>;

  /** Adds a ledger entry (a request's `requestId` is written once; later calls keep the first). */
  appendLedger(entry: Omit<ErasureLedgerEntry, 'erasedAt'>): Promise<ErasureLedgerEntry>;
  /** Ledger entries in request-id order after `afterRequestId`, at most `limit`. */
  ledger(query: {
    readonly afterRequestId?: string;
    readonly limit: number;
  }): Promise<readonly ErasureLedgerEntry[]>;

  /** Releases what the store opened (the backend only when it owns it). Idempotent. */
  close(): Promise<void>;
}
