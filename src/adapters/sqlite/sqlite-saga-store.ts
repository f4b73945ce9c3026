import type { MigrationSet } from '../../core/storage-backend.js';
import { SAGA_STORE_COMPONENT, type SagaStore } from '../../saga/saga-store.js';
import {
  ACTIVE_STATUS_LIST,
  createSqlSagaStore,
  SAGA_RUNS_TABLE,
  type SagaSqlDialect,
} from '../sql/sql-saga-store.js';
import type { SqliteBackend } from './sqlite-backend.js';
import { SQLITE_NOW_MS, sqliteDialect } from './sqlite-dialect.js';

/** Options of {@link createSqliteSagaStore}. */
export interface SqliteSagaStoreOptions {
  /** The SQLite backend holding the table `<prefix>saga_runs`. */
  readonly backend: SqliteBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link SagaStore} over a {@link SqliteBackend}. */
export interface SqliteSagaStore
  extends Omit<SagaStore, 'saveInTransaction'>,
    Required<Pick<SagaStore, 'saveInTransaction'>> {
  /** Always `sqlite`. */
  readonly kind: 'sqlite';
  /** The backend. */
  readonly backend: SqliteBackend;
  /**
   * The same store over `backend`: pass `backend.joinOpenTransaction()` (after your own `BEGIN`)
   * or the backend `backend.transaction()` gives its callback, and saga writes commit or roll
   * back with your writes.
   *
   * @throws TypeError when `backend` is not a SQLite backend.
   */
  withBackend(backend: SqliteBackend): SqliteSagaStore;
}

/**
 * The schema of the SQLite saga store (component `saga`), applied by
 * {@link SqliteSagaStore.migrate}; exported for applications that run migrations with their own
 * tooling.
 */
export const sqliteSagaStoreMigrations: MigrationSet<SqliteBackend> = {
  component: SAGA_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'saga runs',
      up: async (b) => {
        const table = b.table(SAGA_RUNS_TABLE);
        await b.execute(
          `CREATE TABLE ${table} (
             id TEXT PRIMARY KEY,
             name TEXT NOT NULL,
             version INTEGER NOT NULL,
             status TEXT NOT NULL CHECK (status IN ('running', 'compensating', 'completed',
               'compensated', 'failed', 'compensation_failed')),
             log TEXT NOT NULL,
             wake_at INTEGER NOT NULL,
             lease_owner TEXT,
             lease_until INTEGER NOT NULL,
             lease_token INTEGER NOT NULL,
             created_at INTEGER NOT NULL,
             updated_at INTEGER NOT NULL,
             finished_at INTEGER
           ) WITHOUT ROWID`,
        );
        // The claim scan: only sagas a runner works on, by due time.
        await b.execute(
          `CREATE INDEX ${b.table(`${SAGA_RUNS_TABLE}_due`)} ON ${table} (wake_at)
             WHERE status IN (${ACTIVE_STATUS_LIST})`,
        );
        await b.execute(
          `CREATE INDEX ${b.table(`${SAGA_RUNS_TABLE}_status`)} ON ${table} (status, id)`,
        );
        await b.execute(
          `CREATE INDEX ${b.table(`${SAGA_RUNS_TABLE}_finished`)} ON ${table} (finished_at)
             WHERE finished_at IS NOT NULL`,
        );
      },
    },
  ],
};

/**
 * Creates a saga store over SQLite: one table, every operation one statement. Times are SQLite's
 * clock in epoch milliseconds, read inside each statement (an injected backend clock is not used).
 * A claim is one `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING …`; SQLite runs one writer at
 * a time, so concurrent claims, from this process or others sharing the file, never return the
 * same saga twice.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * import { createSqliteBackend, createSqliteSagaStore } from 'flowproof/adapters/sqlite';
 *
 * const backend = createSqliteBackend({ database: new Database('app.db') });
 * const store = createSqliteSagaStore({ backend });
 * await store.migrate();
 * ```
 */
export function createSqliteSagaStore(options: SqliteSagaStoreOptions): SqliteSagaStore {
  return createSqlSagaStore(sqliteSagaDialect, options);
}

const sqliteSagaDialect: SagaSqlDialect<SqliteBackend> = {
  sql: sqliteDialect,
  migrations: sqliteSagaStoreMigrations,
  now: SQLITE_NOW_MS,
  listPlaceholder: () => '?',
  inList: (column, placeholder) => `${column} IN (SELECT value FROM json_each(${placeholder}))`,
  listParam: (values) => (values === undefined ? null : JSON.stringify(values)),
  claimLock: '',
};
