import type { MigrationSet } from '../../core/storage-backend.js';
import { RETENTION_STORE_COMPONENT, type RetentionStore } from '../../retention/retention-store.js';
import {
  createSqlRetentionStore,
  type RetentionSqlDialect,
  retentionTables,
} from '../sql/sql-retention-store.js';
import type { PostgresBackend } from './postgres-backend.js';
import { POSTGRES_NOW_MS, postgresDialect, postgresJsonRows } from './postgres-dialect.js';

/** Options of {@link createPostgresRetentionStore}. */
export interface PostgresRetentionStoreOptions {
  /**
   * The PostgreSQL backend holding the tables `<prefix>erasure_requests`,
   * `<prefix>erasure_locations`, `<prefix>legal_holds` and `<prefix>erasure_ledger` (in its
   * schema).
   */
  readonly backend: PostgresBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link RetentionStore} over a {@link PostgresBackend}. */
export interface PostgresRetentionStore extends RetentionStore<PostgresBackend> {
  /** Always `postgres`. */
  readonly kind: 'postgres';
  /** The backend. */
  readonly backend: PostgresBackend;
  /**
   * The same store over `backend`: pass `backend.withTransactionClient(client)` (the connection
   * your transaction runs on) or the backend `backend.transaction()` gives its callback, and
   * what it writes commits or rolls back with your writes.
   *
   * @throws TypeError when `backend` is not a PostgreSQL backend.
   */
  withBackend(backend: PostgresBackend): PostgresRetentionStore;
}

/**
 * The schema of the PostgreSQL retention store (component `retention`), applied by
 * {@link PostgresRetentionStore.migrate}; exported for applications that run migrations with
 * their own tooling. Four tables, ids and location names compared byte by byte
 * (`COLLATE "C"`): requests (at most one open per subject and scope, a partial unique index),
 * their locations, legal holds, and the ledger of erased subjects.
 */
export const postgresRetentionStoreMigrations: MigrationSet<PostgresBackend> = {
  component: RETENTION_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'erasure requests, locations, legal holds and the erasure ledger',
      up: async (b) => {
        // An index lives in its table's schema, so its name is not schema-qualified.
        const ddl = retentionTables(
          (name) => b.table(name),
          (suffix) => `"${b.tablePrefix}retention_${suffix}"`,
          { id: 'text COLLATE "C"', text: 'text', integer: 'bigint' },
        );
        for (const statement of ddl) await b.execute(statement);
      },
    },
  ],
};

/**
 * Creates a retention store over PostgreSQL (a `pg.Pool`, a `pg.Client` or PGlite through
 * {@link PostgresBackend}). `createRequest` is one statement that inserts the request or, when
 * the partial unique index holds an open request of the subject and scope (also one another
 * process commits at the same moment), reads it; `updateRequest` is one compare-and-set
 * `UPDATE` on the version; `settleLocation` one `UPDATE` of a location without a receipt, so of
 * concurrent settles exactly one writes. Times are the server's `clock_timestamp()` in epoch
 * milliseconds.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import pg from 'pg';
 * import { createPostgresBackend, createPostgresRetentionStore } from 'flowproof/adapters/postgres';
 *
 * const backend = createPostgresBackend({ client: new pg.Pool({ connectionString }) });
 * const store = createPostgresRetentionStore({ backend });
 * await store.migrate();
 * ```
 */
export function createPostgresRetentionStore(
  options: PostgresRetentionStoreOptions,
): PostgresRetentionStore {
  return createSqlRetentionStore(postgresRetentionDialect, options) as PostgresRetentionStore;
}

const postgresRetentionDialect: RetentionSqlDialect<PostgresBackend> = {
  sql: postgresDialect,
  migrations: postgresRetentionStoreMigrations,
  now: POSTGRES_NOW_MS,
  ...postgresJsonRows,
  writableCte: true,
};
