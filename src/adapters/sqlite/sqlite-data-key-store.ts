import type { MigrationSet } from '../../core/storage-backend.js';
import { DATA_KEY_STORE_COMPONENT, type DataKeyStore } from '../../privacy/data-key-store.js';
import {
  createSqlDataKeyStore,
  DATA_KEY_TABLE,
  type DataKeySqlDialect,
  dataKeyTables,
  JOB_CURSOR_TABLE,
} from '../sql/sql-data-key-store.js';
import type { SqliteBackend } from './sqlite-backend.js';
import { SQLITE_NOW_MS, sqliteDialect } from './sqlite-dialect.js';

/** Options of {@link createSqliteDataKeyStore}. */
export interface SqliteDataKeyStoreOptions {
  /**
   * The SQLite backend holding the tables `<prefix>privacy_data_keys` and
   * `<prefix>privacy_job_cursors`.
   */
  readonly backend: SqliteBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link DataKeyStore} over a {@link SqliteBackend}. */
export interface SqliteDataKeyStore extends DataKeyStore<SqliteBackend> {
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
  withBackend(backend: SqliteBackend): SqliteDataKeyStore;
}

/**
 * The schema of the SQLite data-key store (component `privacy-keys`), applied by
 * {@link SqliteDataKeyStore.migrate}; exported for applications that run migrations with their
 * own tooling. The table `<prefix>privacy_data_keys` (ids `INTEGER PRIMARY KEY AUTOINCREMENT`,
 * so an id is never handed out twice, bounded to 1 … 2³²−1), one key per purpose and name, an
 * index by purpose and id; the table `<prefix>privacy_job_cursors`.
 */
export const sqliteDataKeyStoreMigrations: MigrationSet<SqliteBackend> = {
  component: DATA_KEY_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'data keys and job cursors',
      up: async (b) => {
        const index = (suffix: string) => b.table(`${DATA_KEY_TABLE}_${suffix}`);
        const ddl = dataKeyTables(b.table(DATA_KEY_TABLE), b.table(JOB_CURSOR_TABLE), index, {
          id: 'INTEGER PRIMARY KEY AUTOINCREMENT CHECK (id BETWEEN 1 AND 4294967295)',
          text: 'TEXT',
          integer: 'INTEGER',
          bytes: 'BLOB',
        });
        for (const statement of ddl) await b.execute(statement);
      },
    },
  ],
};

/**
 * Creates a data-key store over SQLite. Every operation is one statement, but the create of a
 * named key: an `INSERT … ON CONFLICT DO NOTHING`, then the read of the row that won when it
 * lost (SQLite serialises writers, across processes too, so one key is created). Times are
 * SQLite's clock in epoch milliseconds (an injected backend clock is not used).
 *
 * Shredding sets the wrapped key to NULL, but SQLite keeps the freed bytes in the database
 * file until the page is reused (unless `PRAGMA secure_delete = ON`) and in the WAL file until a
 * checkpoint, and backups keep theirs: the key is out of reach of every query at once, and gone
 * from disk once those have run their course.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * import { createSqliteBackend, createSqliteDataKeyStore } from 'flowproof/adapters/sqlite';
 *
 * const backend = createSqliteBackend({ database: new Database('app.db') });
 * const store = createSqliteDataKeyStore({ backend });
 * await store.migrate();
 * ```
 */
export function createSqliteDataKeyStore(options: SqliteDataKeyStoreOptions): SqliteDataKeyStore {
  return createSqlDataKeyStore(sqliteDataKeyDialect, options) as SqliteDataKeyStore;
}

const sqliteDataKeyDialect: DataKeySqlDialect<SqliteBackend> = {
  sql: sqliteDialect,
  migrations: sqliteDataKeyStoreMigrations,
  now: SQLITE_NOW_MS,
  writableCte: false,
};
