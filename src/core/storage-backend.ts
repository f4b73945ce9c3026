/**
 * The port every storage backend implements, whatever module sits on top: versioned migrations,
 * the store's clock, transactions and a clean shutdown. Module stores (idempotency, state machine,
 * saga…) are built on one of these per backend; the conformance harness in `flowproof/testing`
 * certifies it.
 */

/** One versioned schema change for a component on backend `B`. */
export interface Migration<B> {
  /** Position in the component's history, starting at 1, without gaps. */
  readonly version: number;
  /** Short description, recorded with the version and checked on later runs. */
  readonly name: string;
  /**
   * Applies the change. Runs inside the backend's migration lock (and transaction, where it has
   * one); a returned promise is awaited and its value ignored.
   */
  readonly up: (backend: B) => unknown;
}

/** The migrations of one component (`idempotency`, `state-machine`…), applied in version order. */
export interface MigrationSet<B> {
  /** Name under which the component's applied versions are recorded. */
  readonly component: string;
  /** The full history, versions 1..n. */
  readonly migrations: readonly Migration<B>[];
}

/** What {@link StorageBackend.migrate} did. */
export interface MigrationReport {
  /** The component migrated. */
  readonly component: string;
  /** Version before the run. */
  readonly from: number;
  /** Version after the run. */
  readonly to: number;
  /** Versions applied by this run; empty when the schema was already current. */
  readonly applied: readonly number[];
}

/**
 * A storage backend: memory, SQLite, PostgreSQL, Redis, or one of your own.
 *
 * Implementations are created by factory functions (`createPostgresBackend({ client })`…) over a
 * client the application owns; `close()` releases what the backend itself opened and leaves the
 * injected client to its owner.
 */
export interface StorageBackend {
  /** Which engine this is, e.g. `postgres`. */
  readonly kind: string;
  /**
   * Applies the component's pending migrations under a lock, so running it twice, or from several
   * processes at once, is safe.
   *
   * @throws FlowproofError `SCHEMA_TOO_NEW` when the store has versions this code does not know,
   * `MIGRATION_FAILED` when a migration throws or the recorded history differs from `set`.
   */
  migrate(set: MigrationSet<this>): Promise<MigrationReport>;
  /** The component's applied version; 0 when it was never migrated. */
  schemaVersion(component: string): Promise<number>;
  /**
   * Checks the component's schema is exactly at `expected`.
   *
   * @throws FlowproofError `SCHEMA_OUTDATED` (older: run `migrate`) or `SCHEMA_TOO_NEW` (newer: this
   * code is older than the schema).
   */
  assertSchemaVersion(component: string, expected: number): Promise<void>;
  /** The store's clock: expiry is computed from it, never from each host's `Date.now()`. */
  now(): Promise<Date>;
  /**
   * Runs `fn` in a transaction on this backend: everything `fn` does through the backend it is
   * given commits together, or not at all when `fn` throws.
   *
   * @throws FlowproofError `TRANSACTION_UNSUPPORTED` on backends without transactions.
   */
  transaction<T>(fn: (backend: this) => Promise<T>): Promise<T>;
  /** Releases resources the backend opened itself. Idempotent. */
  close(): Promise<void>;
}
