import type { MigrationSet } from '../../core/storage-backend.js';
import { LINEAGE_STORE_COMPONENT, type LineageStore } from '../../lineage/lineage-store.js';
import {
  createSqlLineageStore,
  LINEAGE_TABLE,
  type LineageSqlDialect,
  lineageTable,
} from '../sql/sql-lineage-store.js';
import type { SqliteBackend } from './sqlite-backend.js';
import {
  SQLITE_NOW_MS,
  sqliteBatchDelete,
  sqliteDialect,
  sqliteJsonRows,
} from './sqlite-dialect.js';

/** Options of {@link createSqliteLineageStore}. */
export interface SqliteLineageStoreOptions {
  /** The SQLite backend holding the table `<prefix>lineage_records`. */
  readonly backend: SqliteBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link LineageStore} over a {@link SqliteBackend}. */
export interface SqliteLineageStore extends LineageStore<SqliteBackend> {
  /** Always `sqlite`. */
  readonly kind: 'sqlite';
  /** The backend. */
  readonly backend: SqliteBackend;
  /**
   * The same store over `backend`: pass `backend.joinOpenTransaction()` (after your own `BEGIN`)
   * or the backend `backend.transaction()` gives its callback, and records appended through it
   * commit or roll back with your writes. A batch of several records is a savepoint of that
   * transaction: await one `append` before starting the next on the same transaction.
   *
   * @throws TypeError when `backend` is not a SQLite backend.
   */
  withBackend(backend: SqliteBackend): SqliteLineageStore;
}

/**
 * The schema of the SQLite lineage store (component `lineage`), applied by
 * {@link SqliteLineageStore.migrate}; exported for applications that run migrations with their
 * own tooling. One table, `<prefix>lineage_records`, with a partial index of `value` records per
 * entity and field (newest first), one by correlation id and one by time.
 */
export const sqliteLineageStoreMigrations: MigrationSet<SqliteBackend> = {
  component: LINEAGE_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'lineage records',
      up: async (b) => {
        const index = (suffix: string) => b.table(`${LINEAGE_TABLE}_${suffix}`);
        // TEXT compares byte by byte (BINARY collation), so ids order as ULIDs do.
        const ddl = lineageTable(b.table(LINEAGE_TABLE), index, {
          id: 'TEXT',
          text: 'TEXT',
          integer: 'INTEGER',
        });
        for (const statement of ddl) await b.execute(statement);
      },
    },
  ],
};

/**
 * Creates a lineage store over SQLite. One record is one `INSERT … ON CONFLICT DO NOTHING`; a
 * batch is one `INSERT` in a transaction (a savepoint inside yours), so a stored id leaves
 * nothing of the batch written. `latest` is one probe of the index of the field's records;
 * `purge` is one `DELETE` of the oldest rows by `rowid`. Times are SQLite's clock in epoch
 * milliseconds (an injected backend clock is not used).
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * import { createSqliteBackend, createSqliteLineageStore } from 'flowproof/adapters/sqlite';
 *
 * const backend = createSqliteBackend({ database: new Database('app.db') });
 * const store = createSqliteLineageStore({ backend });
 * await store.migrate();
 * ```
 */
export function createSqliteLineageStore(options: SqliteLineageStoreOptions): SqliteLineageStore {
  return createSqlLineageStore(sqliteLineageDialect, options) as SqliteLineageStore;
}

const sqliteLineageDialect: LineageSqlDialect<SqliteBackend> = {
  sql: sqliteDialect,
  migrations: sqliteLineageStoreMigrations,
  now: SQLITE_NOW_MS,
  ...sqliteJsonRows,
  purge: sqliteBatchDelete,
};
