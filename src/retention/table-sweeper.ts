/**
 * The port the retention sweeper and the SQL-table erasure locations run their SQL through: one
 * statement per call, each its own short transaction, so a sweep of millions of rows never holds
 * a lock for longer than one bounded batch.
 *
 * @module
 */

/** A key value of a swept table (PostgreSQL keys come back as text; SQLite's as stored). */
export type SweepKey = string | number | bigint;

/** The columns of an application table the sweeper reads and writes. */
export interface SweptTableColumns {
  /** Table name, optionally schema-qualified (`public.session_logs`); checked as SQL identifiers. */
  readonly table: string;
  /**
   * Unique, sortable key column for keyset pagination (index it: it is the scan's order).
   * @default 'id'
   */
  readonly key?: string;
  /** The column holding the record's time the policy counts from. */
  readonly timestamp: string;
  /**
   * How that column stores time: `'timestamp'` (PostgreSQL `timestamptz`, or `timestamp` read as
   * UTC; SQLite ISO-8601 UTC text as `Date#toISOString()` writes it, compared as text) or
   * `'epoch-ms'` (an integer of milliseconds).
   * @default 'timestamp'
   */
  readonly timeType?: 'timestamp' | 'epoch-ms';
  /** The column with the data subject's id (needed for subject holds and erasure). */
  readonly subject?: string;
  /** Column → replacement value for anonymization (`null` allowed). */
  readonly anonymize?: Readonly<Record<string, string | number | null>>;
}

/** One keyset batch of due rows. */
export interface SweepBatchRequest {
  /** The table. */
  readonly table: SweptTableColumns;
  /** Rows whose time is at or before this are due. */
  readonly cutoff: Date;
  /** Only rows with a key after this one (`null`: from the first). */
  readonly afterKey: SweepKey | null;
  /** At most this many rows. */
  readonly limit: number;
  /** Rows of these subjects are left alone (ignored when the table has no subject column). */
  readonly excludeSubjects: readonly string[];
}

/** What one batch did. */
export interface SweepBatchResult {
  /** Rows deleted or anonymized; fewer than the limit means the scan reached the end. */
  readonly count: number;
  /** The largest key the batch touched, to pass as the next `afterKey` (`null` when none). */
  readonly lastKey: SweepKey | null;
}

/** Rows of some subjects, for erasure. */
export interface SubjectBatchRequest {
  /** The table (it needs a `subject` column). */
  readonly table: SweptTableColumns;
  /** The subjects whose rows are meant. */
  readonly subjects: readonly string[];
  /** At most this many rows per call. */
  readonly limit: number;
}

/**
 * Runs the retention sweeper's SQL on one database. Every method is one statement (its own
 * transaction); none loops. `createPostgresTableSweeper` and `createSqliteTableSweeper` implement
 * it.
 */
export interface TableSweeper {
  /**
   * Deletes up to `limit` due rows (time ≤ cutoff, key > afterKey, subject not excluded) in key
   * order. On PostgreSQL rows another transaction holds are skipped (`SKIP LOCKED`).
   *
   * @throws FlowproofError `BACKEND_*`, or `SCHEMA_OUTDATED` when the table does not exist.
   */
  deleteBatch(request: SweepBatchRequest): Promise<SweepBatchResult>;
  /**
   * Sets the table's `anonymize` columns on up to `limit` due rows not yet anonymized (some
   * column differs from its replacement, NULL-safe), in key order.
   *
   * @throws TypeError when the table has no `anonymize` columns.
   * @throws FlowproofError `BACKEND_*`, `SCHEMA_OUTDATED`.
   */
  anonymizeBatch(request: SweepBatchRequest): Promise<SweepBatchResult>;
  /**
   * How many rows are due (`anonymize`: due and not yet anonymized); for dry runs.
   *
   * @throws FlowproofError `BACKEND_*`, `SCHEMA_OUTDATED`.
   */
  countDue(request: {
    readonly table: SweptTableColumns;
    readonly cutoff: Date;
    readonly excludeSubjects: readonly string[];
    readonly anonymize?: boolean;
  }): Promise<number>;
  /**
   * Deletes up to `limit` rows of `subjects`; returns how many.
   *
   * @throws TypeError when the table has no subject column.
   * @throws FlowproofError `BACKEND_*`, `SCHEMA_OUTDATED`.
   */
  deleteBySubject(request: SubjectBatchRequest): Promise<number>;
  /**
   * Anonymizes up to `limit` rows of `subjects` not yet anonymized; returns how many.
   *
   * @throws TypeError when the table has no subject or no `anonymize` columns.
   * @throws FlowproofError `BACKEND_*`, `SCHEMA_OUTDATED`.
   */
  anonymizeBySubject(request: SubjectBatchRequest): Promise<number>;
  /**
   * How many rows of `subjects` remain; with `unanonymizedOnly`, only those not yet anonymized
   * (what an anonymizing erasure still has to do).
   *
   * @throws TypeError when the table has no subject column.
   * @throws FlowproofError `BACKEND_*`, `SCHEMA_OUTDATED`.
   */
  countBySubject(request: {
    readonly table: SweptTableColumns;
    readonly subjects: readonly string[];
    readonly unanonymizedOnly?: boolean;
  }): Promise<number>;
  /** The database's clock, the `now` the cutoffs are computed from. */
  now(): Promise<Date>;
}
