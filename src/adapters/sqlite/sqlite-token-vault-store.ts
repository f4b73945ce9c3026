import type { MigrationSet } from '../../core/storage-backend.js';
import {
  TOKEN_VAULT_STORE_COMPONENT,
  type TokenVaultStore,
} from '../../privacy/token-vault-store.js';
import {
  createSqlTokenVaultStore,
  TOKEN_TABLE,
  type TokenSqlDialect,
  tokenTable,
} from '../sql/sql-token-vault-store.js';
import type { SqliteBackend } from './sqlite-backend.js';
import { SQLITE_NOW_MS, sqliteBatchDelete, sqliteDialect } from './sqlite-dialect.js';

/** Options of {@link createSqliteTokenVaultStore}. */
export interface SqliteTokenVaultStoreOptions {
  /** The SQLite backend holding the table `<prefix>privacy_tokens`. */
  readonly backend: SqliteBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link TokenVaultStore} over a {@link SqliteBackend}. */
export interface SqliteTokenVaultStore extends TokenVaultStore<SqliteBackend> {
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
  withBackend(backend: SqliteBackend): SqliteTokenVaultStore;
}

/**
 * The schema of the SQLite token-vault store (component `privacy-tokens`), applied by
 * {@link SqliteTokenVaultStore.migrate}; exported for applications that run migrations with their
 * own tooling. One table, `<prefix>privacy_tokens`, keyed by token, with a partial index of
 * tokens by data subject.
 */
export const sqliteTokenVaultStoreMigrations: MigrationSet<SqliteBackend> = {
  component: TOKEN_VAULT_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'tokens',
      up: async (b) => {
        const index = (suffix: string) => b.table(`${TOKEN_TABLE}_${suffix}`);
        // TEXT compares byte by byte (BINARY collation).
        const ddl = tokenTable(b.table(TOKEN_TABLE), index, {
          token: 'TEXT',
          text: 'TEXT',
          integer: 'INTEGER',
        });
        for (const statement of ddl) await b.execute(statement);
      },
    },
  ],
};

/**
 * Creates a token-vault store over SQLite. A put is an `INSERT … ON CONFLICT DO NOTHING`, then
 * the read of the row that won when it lost (SQLite serialises writers, across processes too, so
 * one row is stored); `deleteBySubject` is one `DELETE` of at most `limit` rows by `rowid`. Times
 * are SQLite's clock in epoch milliseconds (an injected backend clock is not used).
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * import { createSqliteBackend, createSqliteTokenVaultStore } from 'flowproof/adapters/sqlite';
 *
 * const backend = createSqliteBackend({ database: new Database('app.db') });
 * const store = createSqliteTokenVaultStore({ backend });
 * await store.migrate();
 * ```
 */
export function createSqliteTokenVaultStore(
  options: SqliteTokenVaultStoreOptions,
): SqliteTokenVaultStore {
  return createSqlTokenVaultStore(sqliteTokenDialect, options) as SqliteTokenVaultStore;
}

const sqliteTokenDialect: TokenSqlDialect<SqliteBackend> = {
  sql: sqliteDialect,
  migrations: sqliteTokenVaultStoreMigrations,
  now: SQLITE_NOW_MS,
  writableCte: false,
  deleteBatch: sqliteBatchDelete,
};
