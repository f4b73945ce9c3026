/**
 * The saga-store port: what a backend implements so that sagas survive crashes. A saga is one
 * record: a few columns the store filters on (status, name, due time, lease) and the saga's log, a
 * JSON document the module rewrites whole at every persistence point. The store never interprets
 * the log; decisions (which step, retries, compensation order) live in the module.
 *
 * Every write a runner makes while it holds a saga is **fenced**: it names the lease token it was
 * given at claim time and does nothing when another runner has claimed the saga since (the token
 * moved on). Writes never read first, so a step costs one round trip.
 *
 * Times the store keeps (due time, lease expiry, creation, update, finish) are epoch milliseconds
 * of the **store's** clock: a delay is passed in milliseconds and added to the store's own `now`,
 * never to a runner host's clock.
 *
 * Adapters: `createMemorySagaStore`, `createSqliteSagaStore`, `createPostgresSagaStore`. Certify
 * your own with `describeSagaStoreConformance` from `flowproof/testing`.
 */
import type { MigrationReport, StorageBackend } from '../core/storage-backend.js';

/** The migration component name saga stores record their schema under. */
export const SAGA_STORE_COMPONENT = 'saga';

/**
 * Where a saga is:
 * - `running`: steps are running (or waiting for a retry);
 * - `compensating`: a step failed for good and the compensations are running;
 * - `completed`: every step completed;
 * - `compensated`: a step failed and every started step was compensated;
 * - `failed`: stopped without compensating (a step that dead-letters instead of compensating, a
 *   definition that no longer matches); in the dead-letter queue;
 * - `compensation_failed`: a compensation kept failing; in the dead-letter queue.
 */
export type SagaStatus =
  | 'running'
  | 'compensating'
  | 'completed'
  | 'compensated'
  | 'failed'
  | 'compensation_failed';

/** Statuses a runner works on. */
export const ACTIVE_SAGA_STATUSES: readonly SagaStatus[] = Object.freeze([
  'running',
  'compensating',
]);
/** Statuses of the dead-letter queue. */
export const DEAD_LETTER_STATUSES: readonly SagaStatus[] = Object.freeze([
  'failed',
  'compensation_failed',
]);
/** Statuses of a saga that ended as designed (purged after the retention time). */
export const FINISHED_SAGA_STATUSES: readonly SagaStatus[] = Object.freeze([
  'completed',
  'compensated',
]);
/** Every status, in lifecycle order. */
export const SAGA_STATUSES: readonly SagaStatus[] = Object.freeze([
  ...ACTIVE_SAGA_STATUSES,
  ...FINISHED_SAGA_STATUSES,
  ...DEAD_LETTER_STATUSES,
]);

/** A saga as the store keeps it. */
export interface StoredSaga {
  /** The saga's id: the business key given to `start`, or a generated ULID. Unique per store. */
  readonly id: string;
  /** The saga definition's name. */
  readonly name: string;
  /** The definition's version that started it. */
  readonly version: number;
  /** Where it is. */
  readonly status: SagaStatus;
  /**
   * The saga's log: JSON data only (plain objects, arrays, finite numbers, strings, booleans,
   * `null`), given back deeply equal except for the order of object keys.
   */
  readonly log: unknown;
  /** No runner claims it before this time (a retry's backoff). */
  readonly wakeAt: number;
  /** When it was created. */
  readonly createdAt: number;
  /** When it was last written. */
  readonly updatedAt: number;
  /** When it reached a status that is not active; `null` while active. */
  readonly finishedAt: number | null;
}

/** A runner's hold on a saga. */
export interface SagaLease {
  /** The runner holding it. */
  readonly owner: string;
  /**
   * The fencing token: 1 for the first claim of a saga, one more for every later claim. Writes
   * naming an older token do nothing.
   */
  readonly token: number;
}

/** A saga a runner holds. */
export interface ClaimedSaga {
  /** The saga as it was when claimed. */
  readonly saga: StoredSaga;
  /** The lease the runner's writes name. */
  readonly lease: SagaLease;
}

/** A new saga for {@link SagaStore.create}. */
export interface NewSaga {
  /** Its id. */
  readonly id: string;
  /** The definition's name. */
  readonly name: string;
  /** The definition's version. */
  readonly version: number;
  /** The first status (`running`). */
  readonly status: SagaStatus;
  /** The first log. */
  readonly log: unknown;
}

/** The outcome of {@link SagaStore.create}. */
export type CreateSagaResult = SagaInserted | SagaExisted;

/** {@link SagaStore.create} inserted the saga. */
export interface SagaInserted {
  /** Always `true`. */
  readonly created: true;
  /** The saga as stored. */
  readonly saga: StoredSaga;
  /** The lease, when it was leased at creation. */
  readonly lease?: SagaLease;
}

/** {@link SagaStore.create} found a saga with this id; it is returned as stored, untouched. */
export interface SagaExisted {
  /** Always `false`. */
  readonly created: false;
  /** The saga that holds the id. */
  readonly saga: StoredSaga;
}

/** What {@link SagaStore.saveInTransaction} answers. */
export interface TransactionalSave<T> {
  /** Whether the lease still held: `false` means nothing was committed. */
  readonly saved: boolean;
  /** What `work` returned, when saved. */
  readonly value?: T;
}

/** The lease part of a {@link SagaUpdate} that keeps the lease. */
export interface LeaseExtension {
  /** The lease now ends this many milliseconds after the store's `now`. */
  readonly extendMs: number;
}

/** What a runner asks {@link SagaStore.claim} for. */
export interface ClaimRequest {
  /** The runner's id, recorded as the lease owner. */
  readonly owner: string;
  /** How long the lease lasts from the store's `now`, in milliseconds. */
  readonly leaseMs: number;
  /** At most this many sagas. */
  readonly limit: number;
  /** Only sagas in these statuses. */
  readonly statuses: readonly SagaStatus[];
  /** Only sagas of these definitions; all when omitted. */
  readonly names?: readonly string[];
  /** Only these sagas; any when omitted. */
  readonly ids?: readonly string[];
}

/** A fenced write of a saga's state. */
export interface SagaUpdate {
  /** The saga. */
  readonly id: string;
  /** Its new status. */
  readonly status: SagaStatus;
  /** Its new log, replacing the stored one. */
  readonly log: unknown;
  /**
   * With `lease: 'release'`: the saga is due again this many milliseconds after the store's `now`
   * (0: at once). With a kept lease the due time is left as it is (a saga is claimable only once
   * its lease ends anyway), so a step's write changes no indexed column.
   */
  readonly wakeInMs: number;
  /**
   * `{ extendMs }`: the lease is kept and now ends `extendMs` after the store's `now`;
   * `'release'`: the lease ends with this write (another runner may claim the saga once due).
   */
  readonly lease: LeaseExtension | 'release';
}

/** What {@link SagaStore.list} returns. */
export interface SagaListQuery {
  /** Only sagas in these statuses; all when omitted. */
  readonly statuses?: readonly SagaStatus[];
  /** Only sagas of this definition. */
  readonly name?: string;
  /** Only sagas whose id sorts after this one (the previous page's last id). */
  readonly afterId?: string;
  /** At most this many, ordered by id. */
  readonly limit: number;
}

/** What {@link SagaStore.purge} deletes. */
export interface SagaPurgeRequest {
  /** Only sagas in these statuses (never active ones: the store refuses them). */
  readonly statuses: readonly SagaStatus[];
  /** Only sagas that finished at least this many milliseconds before the store's `now`. */
  readonly finishedBeforeMs: number;
  /** At most this many in one call. */
  readonly limit: number;
}

/**
 * The port. Each operation is atomic on its own and, on the SQL stores, one statement: one round
 * trip.
 */
export interface SagaStore {
  /** The backend kind, e.g. `postgres`. */
  readonly kind: string;
  /** Creates or upgrades the store's tables (component `saga`). Safe to call concurrently. */
  migrate(): Promise<MigrationReport>;
  /** The store's clock. */
  now(): Promise<Date>;
  /**
   * Inserts `saga` unless a saga with its id exists. With `lease`, the new saga is leased to
   * `lease.owner` (token 1) in the same write, so its creator runs it without another claim.
   */
  create(
    saga: NewSaga,
    lease?: { readonly owner: string; readonly leaseMs: number },
  ): Promise<CreateSagaResult>;
  /**
   * Leases up to `limit` sagas that match the request, are due (`wakeAt <= now`) and are not
   * leased (no lease, or its time has passed), oldest due first. Concurrent claims never return
   * the same saga twice (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one writer at a time).
   * Each returned saga's token is one more than its previous one.
   */
  claim(request: ClaimRequest): Promise<readonly ClaimedSaga[]>;
  /**
   * Writes `update` if `lease` still holds the saga (same owner and token); `false` otherwise,
   * writing nothing. Sets `updatedAt` to now, and `finishedAt` to now when the new status is not
   * active (`null` when it is).
   */
  save(update: SagaUpdate, lease: SagaLease): Promise<boolean>;
  /** Extends the lease to `leaseMs` from now if it still holds the saga; `false` otherwise. */
  heartbeat(id: string, lease: SagaLease, leaseMs: number): Promise<boolean>;
  /** The saga, or `undefined`. */
  get(id: string): Promise<StoredSaga | undefined>;
  /** Sagas matching `query`, ordered by id. */
  list(query: SagaListQuery): Promise<readonly StoredSaga[]>;
  /** Deletes up to `limit` finished sagas matching `request`; returns how many. */
  purge(request: SagaPurgeRequest): Promise<number>;
  /**
   * Runs `work` with a backend bound to a transaction, then {@link SagaStore.save} in the same
   * transaction: both commit, or neither does (a lost lease rolls `work` back too, and answers
   * `{ saved: false }`). Only stores over a backend with transactions have it.
   */
  saveInTransaction?<T>(
    work: (backend: StorageBackend) => Promise<T>,
    update: (value: T) => SagaUpdate,
    lease: SagaLease,
  ): Promise<TransactionalSave<T>>;
  /** Closes what the store opened itself. */
  close(): Promise<void>;
}
