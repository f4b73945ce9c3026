/**
 * The lineage-store port: what a backend implements to keep lineage records — the provenance of
 * a recorded field value, or the stages of a pipeline run — and to find them again by entity and
 * field, by correlation id, and by age for retention.
 *
 * Records are written once and never updated. Each has a ULID `id` made by the caller and the
 * store's time (`recordedAt`); the body is JSON text the lineage recorder builds and the store
 * keeps byte for byte.
 *
 * Times are epoch milliseconds of the **store's** clock.
 *
 * Adapters: `createMemoryLineageStore`, `createSqliteLineageStore`, `createPostgresLineageStore`.
 * Certify your own with `describeLineageStoreConformance` from `flowproof/testing`.
 */
import type { MigrationReport, StorageBackend } from '../core/storage-backend.js';

/** The migration component name lineage stores record their schema under. */
export const LINEAGE_STORE_COMPONENT = 'lineage';

/** What a record describes: a field's value, or a run of a pipeline (or other job). */
export type LineageRecordKind = 'value' | 'run';

/** One record to append, as the recorder hands it to the store. */
export interface LineageAppend {
  /** A ULID made by the recorder; unique across the store. */
  readonly id: string;
  /** What the record describes. */
  readonly kind: LineageRecordKind;
  /** The entity, e.g. `order:ORD-12345`, for `value` records; `null` for runs. */
  readonly entity: string | null;
  /** The field, e.g. `total` or `totals.tax`, for `value` records; `null` for runs. */
  readonly field: string | null;
  /** The job (pipeline name), for `run` records; `null` for values. */
  readonly job: string | null;
  /** The run's id (a UUID), for `run` records; `null` for values. */
  readonly runId: string | null;
  /** The flow context's correlation id when the record was made, or `null`. */
  readonly correlationId: string | null;
  /** The flow context's causation id, or `null`. */
  readonly causationId: string | null;
  /** The record's content: JSON text, kept byte for byte. */
  readonly body: string;
}

/** A stored record. */
export interface LineageRow extends LineageAppend {
  /** When the store appended it (epoch ms, the store's clock). */
  readonly recordedAt: number;
}

/** A position in {@link LineageStore.history}: the last row of the previous page. */
export interface LineagePosition {
  /** That row's time. */
  readonly recordedAt: number;
  /** That row's id. */
  readonly id: string;
}

/** A page of one field's records, newest first. */
export interface LineageHistoryRead {
  /** The entity. */
  readonly entity: string;
  /** The field. */
  readonly field: string;
  /** Only records strictly older than this position (time, then id). */
  readonly before?: LineagePosition;
  /** At most this many rows. */
  readonly limit: number;
}

/** A page of records made under one correlation id, oldest first. */
export interface LineageCorrelationRead {
  /** The correlation id. */
  readonly correlationId: string;
  /** Only records of this kind. */
  readonly kind?: LineageRecordKind;
  /** Only records strictly newer than this position (time, then id). */
  readonly after?: LineagePosition;
  /** At most this many rows. */
  readonly limit: number;
}

/** One batch of {@link LineageStore.purge}. */
export interface LineagePurgeRequest {
  /** Delete records appended strictly before this time (epoch ms). */
  readonly before: number;
  /** Delete at most this many, oldest first. */
  readonly limit: number;
}

/**
 * The port. Each operation is atomic on its own.
 *
 * @typeParam Tx - what {@link LineageStore.withBackend} takes: the store's backend bound to a
 * transaction.
 */
export interface LineageStore<Tx = unknown> {
  /** The backend kind, e.g. `postgres`. */
  readonly kind: string;
  /** The backend the store works on. */
  readonly backend: StorageBackend;
  /** Creates or upgrades the store's tables (component `lineage`). Safe to call concurrently. */
  migrate(): Promise<MigrationReport>;
  /** The store's clock. */
  now(): Promise<Date>;
  /**
   * The same store over `backend`, a backend bound to a transaction: records it appends commit or
   * roll back with that transaction.
   *
   * @throws TypeError when `backend` is not a backend of the store's kind.
   */
  withBackend(backend: Tx): LineageStore<Tx>;
  /**
   * Appends `records`, all or none, each with the store's current time; returns the stored rows
   * in the order given.
   *
   * @throws FlowproofError `LINEAGE_RECORD_EXISTS` when a record's id is already stored.
   */
  append(records: readonly LineageAppend[]): Promise<readonly LineageRow[]>;
  /**
   * The newest `value` record of `entity`'s `field` appended at or before `at` (epoch ms;
   * default: now), or `undefined`. Between records with the same time, the greater id wins.
   */
  latest(entity: string, field: string, at?: number): Promise<LineageRow | undefined>;
  /** A page of `value` records of one field, newest first (time, then id, descending). */
  history(read: LineageHistoryRead): Promise<readonly LineageRow[]>;
  /** A page of records made under one correlation id, oldest first (time, then id). */
  byCorrelation(read: LineageCorrelationRead): Promise<readonly LineageRow[]>;
  /**
   * Deletes up to `limit` records appended before `before`, oldest first, in one short statement
   * (no long lock); returns how many it deleted. Retention calls it until it returns less than
   * the limit.
   */
  purge(request: LineagePurgeRequest): Promise<number>;
  /** Releases what the store opened (the backend only when it owns it). Idempotent. */
  close(): Promise<void>;
}
