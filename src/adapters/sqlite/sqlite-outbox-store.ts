import type { MigrationSet } from '../../core/storage-backend.js';
import { OUTBOX_STORE_COMPONENT, type OutboxStore } from '../../outbox/outbox-store.js';
import {
  createSqlOutboxStore,
  driverCause,
  OUTBOX_MESSAGES_TABLE,
  type OutboxSqlDialect,
  outboxIndexes,
} from '../sql/sql-outbox-store.js';
import type { SqliteBackend } from './sqlite-backend.js';
import { SQLITE_NOW_MS, sqliteDialect, sqliteJsonRows } from './sqlite-dialect.js';

/** Options of {@link createSqliteOutboxStore}. */
export interface SqliteOutboxStoreOptions {
  /** The SQLite backend holding the table `<prefix>outbox_messages`. */
  readonly backend: SqliteBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link OutboxStore} over a {@link SqliteBackend}. */
export interface SqliteOutboxStore extends OutboxStore<SqliteBackend> {
  /** Always `sqlite`. */
  readonly kind: 'sqlite';
  /** The backend. */
  readonly backend: SqliteBackend;
  /**
   * The same store over `backend`: pass `backend.joinOpenTransaction()` (after your own `BEGIN`)
   * or the backend `backend.transaction()` gives its callback, and messages enqueued through it
   * commit or roll back with your writes.
   *
   * @throws TypeError when `backend` is not a SQLite backend.
   */
  withBackend(backend: SqliteBackend): SqliteOutboxStore;
}

/**
 * The schema of the SQLite outbox store (component `outbox`), applied by
 * {@link SqliteOutboxStore.migrate}; exported for applications that run migrations with their own
 * tooling.
 */
export const sqliteOutboxStoreMigrations: MigrationSet<SqliteBackend> = {
  component: OUTBOX_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'outbox messages',
      up: async (b) => {
        const table = b.table(OUTBOX_MESSAGES_TABLE);
        const index = (suffix: string) => b.table(`${OUTBOX_MESSAGES_TABLE}_${suffix}`);
        // position is the rowid: it grows with each insert, and SQLite's one writer at a time
        // commits rows in position order.
        await b.execute(
          `CREATE TABLE ${table} (
             position INTEGER PRIMARY KEY,
             id TEXT NOT NULL UNIQUE,
             topic TEXT NOT NULL,
             msg_key TEXT,
             payload TEXT NOT NULL,
             headers TEXT NOT NULL,
             status TEXT NOT NULL CHECK (status IN ('pending', 'published', 'dead_lettered')),
             attempts INTEGER NOT NULL,
             available_at INTEGER NOT NULL,
             lease_owner TEXT,
             lease_until INTEGER NOT NULL,
             last_error TEXT,
             created_at INTEGER NOT NULL,
             finished_at INTEGER
           )`,
        );
        for (const ddl of outboxIndexes(table, index)) await b.execute(ddl);
      },
    },
  ],
};

/**
 * Creates an outbox store over SQLite: one table, every operation one statement. Times are
 * SQLite's clock in epoch milliseconds, read inside each statement (an injected backend clock is
 * not used). A batch is one `INSERT … SELECT` over a JSON parameter, so it is all or none even
 * outside a transaction. A claim is one `UPDATE … RETURNING`; SQLite runs one writer at a time,
 * so concurrent claims, from this process or others sharing the file, never split a key.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * import { createSqliteBackend, createSqliteOutboxStore } from 'flowproof/adapters/sqlite';
 *
 * const backend = createSqliteBackend({ database: new Database('app.db') });
 * const outbox = createSqliteOutboxStore({ backend });
 * await outbox.migrate();
 * ```
 */
export function createSqliteOutboxStore(options: SqliteOutboxStoreOptions): SqliteOutboxStore {
  return createSqlOutboxStore(sqliteOutboxDialect, options);
}

const sqliteOutboxDialect: OutboxSqlDialect<SqliteBackend> = {
  sql: sqliteDialect,
  migrations: sqliteOutboxStoreMigrations,
  now: SQLITE_NOW_MS,
  ...sqliteJsonRows,
  idIn: (column, subquery) => `${column} IN ${subquery}`,
  gate: () => '',
  purgeLock: '',
  serialize: (backend, _table, claim) => claim(backend),
  duplicateId: (error) => {
    const code = driverCause(error)?.code;
    const message = String((error as { message?: unknown })?.message);
    return (code === 'SQLITE_CONSTRAINT_UNIQUE' || /UNIQUE constraint failed/.test(message)) &&
      /\.id\b/.test(message)
      ? ''
      : undefined;
  },
};
