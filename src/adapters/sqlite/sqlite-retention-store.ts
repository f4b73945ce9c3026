import type { MigrationSet } from '../../core/storage-backend.js';
import { RETENTION_STORE_COMPONENT, type RetentionStore } from '../../retention/retention-store.js';
import {
  createSqlRetentionStore,
  type RetentionSqlDialect,
  retentionTables,
} from '../sql/sql-retention-store.js';
import type { SqliteBackend } from './sqlite-backend.js';
import { SQLITE_NOW_MS, sqliteDialect, sqliteJsonRows } from './sqlite-dialect.js';

/** Options of {@link createSqliteRetentionStore}. */
export interface SqliteRetentionStoreOptions {
  /**
   * The SQLite backend holding the tables `<prefix>erasure_requests`,
   * `<prefix>erasure_locations`, `<prefix>legal_holds` and `<prefix>erasure_ledger`.
   */
  readonly backend: SqliteBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link RetentionStore} over a {@link SqliteBackend}. */
export interface SqliteRetentionStore extends RetentionStore<SqliteBackend> {
  /** Always `sqlite`. */
  readonly kind: 'sqlite';
  /** The backend. */
  readonly backend: SqliteBackend;
  /**
   * The same store over `backend`: pass `backend.joinOpenTransaction()` (after your own `BEGIN`)
   * or the backend `backend.transaction()` gives its callback, and what it writes commits or
   * rolls back with your writes.
   *
   * @throws TypeError when `backend` is not a SQLite backend.
   */
  withBackend(backend: SqliteBackend): SqliteRetentionStore;
}

/**
 * The schema of the SQLite retention store (component `retention`), applied by
 * {@link SqliteRetentionStore.migrate}; exported for applications that run migrations with their
 * own tooling. Four tables: requests (at most one open per subject and scope, a partial unique
 * index), their locations, legal holds, and the ledger of erased subjects.
 */
export const sqliteRetentionStoreMigrations: MigrationSet<SqliteBackend> = {
  component: RETENTION_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'erasure requests, locations, legal holds and the erasure ledger',
      up: async (b) => {
        // TEXT compares byte by byte (BINARY collation), so ids order as ULIDs do.
        const ddl = retentionTables(
          (name) => b.table(name),
          (suffix) => b.table(`retention_${suffix}`),
          { id: 'TEXT', text: 'TEXT', integer: 'INTEGER' },
        );
        for (const statement of ddl) await b.execute(statement);
      },
    },
  ],
};

/**
 * Creates a retention store over SQLite. `createRequest` is an `INSERT … ON CONFLICT DO NOTHING`
 * then a read of the row that holds the subject and scope (writes are serialised by the
 * database, so two processes creating at once store one request); `updateRequest` is one
 * compare-and-set `UPDATE` on the version; `settleLocation` one `UPDATE` of a location without a
 * receipt. Times are SQLite's clock in epoch milliseconds (an injected backend clock is not used).
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * import { createSqliteBackend, createSqliteRetentionStore } from 'flowproof/adapters/sqlite';
 *
 * const backend = createSqliteBackend({ database: new Database('app.db') });
 * const store = createSqliteRetentionStore({ backend });
 * await store.migrate();
 * ```
 */
export function createSqliteRetentionStore(
  options: SqliteRetentionStoreOptions,
): SqliteRetentionStore {
  return createSqlRetentionStore(sqliteRetentionDialect, options) as SqliteRetentionStore;
}

const sqliteRetentionDialect: RetentionSqlDialect<SqliteBackend> = {
  sql: sqliteDialect,
  migrations: sqliteRetentionStoreMigrations,
  now: SQLITE_NOW_MS,
  ...sqliteJsonRows,
  writableCte: false,
};
