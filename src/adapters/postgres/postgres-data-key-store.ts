import type { MigrationSet } from '../../core/storage-backend.js';
import { DATA_KEY_STORE_COMPONENT, type DataKeyStore } from '../../privacy/data-key-store.js';
import {
  createSqlDataKeyStore,
  DATA_KEY_TABLE,
  type DataKeySqlDialect,
  dataKeyTables,
  JOB_CURSOR_TABLE,
} from '../sql/sql-data-key-store.js';
import type { PostgresBackend } from './postgres-backend.js';
import { POSTGRES_NOW_MS, postgresDialect } from './postgres-dialect.js';

/** Options of {@link createPostgresDataKeyStore}. */
export interface PostgresDataKeyStoreOptions {
  /**
   * The PostgreSQL backend holding the tables `<prefix>privacy_data_keys` and
   * `<prefix>privacy_job_cursors`.
   */
  readonly backend: PostgresBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link DataKeyStore} over a {@link PostgresBackend}. */
export interface PostgresDataKeyStore extends DataKeyStore<PostgresBackend> {
  /** Always `postgres`. */
  readonly kind: 'postgres';
  /** The backend. */
  readonly backend: PostgresBackend;
  /**
   * The same store over `backend`: pass `backend.withTransactionClient(client)` (the connection
   * your transaction runs on) or the backend `backend.transaction()` gives its callback, and what
   * it writes (a shredding beside the deletion of the subject's rows) commits or rolls back with
   * your writes.
   *
   * @throws TypeError when `backend` is not a PostgreSQL backend.
   */
  withBackend(backend: PostgresBackend): PostgresDataKeyStore;
}

/**
 * The schema of the PostgreSQL data-key store (component `privacy-keys`), applied by
 * {@link PostgresDataKeyStore.migrate}; exported for applications that run migrations with their
 * own tooling. The table `<prefix>privacy_data_keys`, ids from an identity bounded to
 * 1 … 2³²−1 (never cycling, so never reused), one key per purpose and name, an index by purpose
 * and id; the table `<prefix>privacy_job_cursors`.
 */
export const postgresDataKeyStoreMigrations: MigrationSet<PostgresBackend> = {
  component: DATA_KEY_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'data keys and job cursors',
      up: async (b) => {
        // An index lives in its table's schema, so its name is not schema-qualified.
        const index = (suffix: string) => `"${b.tablePrefix}${DATA_KEY_TABLE}_${suffix}"`;
        const ddl = dataKeyTables(b.table(DATA_KEY_TABLE), b.table(JOB_CURSOR_TABLE), index, {
          id: 'bigint GENERATED ALWAYS AS IDENTITY (MINVALUE 1 MAXVALUE 4294967295 NO CYCLE) PRIMARY KEY',
          text: 'text',
          integer: 'bigint',
          bytes: 'bytea',
        });
        for (const statement of ddl) await b.execute(statement);
      },
    },
  ],
};

/**
 * Creates a data-key store over PostgreSQL (a `pg.Pool`, a `pg.Client` or PGlite through
 * {@link PostgresBackend}). Every operation is one statement: the create of a named key is an
 * `INSERT … ON CONFLICT DO NOTHING` and the read of the row that won, together in one `WITH`
 * (run once more when the winner committed after the statement's snapshot), so any number of
 * callers and processes creating one subject's key get one key; a shredding is one upsert.
 * Times are the server's `clock_timestamp()` in epoch milliseconds.
 *
 * Shredding sets the wrapped key to NULL, but PostgreSQL keeps the previous row version in the
 * table (a dead tuple) until `VACUUM` reclaims it, and in the write-ahead log, its archives and
 * backups until they are rotated: the key is out of reach of every query at once, and gone from
 * disk once those have run their course.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import pg from 'pg';
 * import { createPostgresBackend, createPostgresDataKeyStore } from 'flowproof/adapters/postgres';
 *
 * const backend = createPostgresBackend({ client: new pg.Pool({ connectionString }) });
 * const store = createPostgresDataKeyStore({ backend });
 * await store.migrate();
 * ```
 */
export function createPostgresDataKeyStore(
  options: PostgresDataKeyStoreOptions,
): PostgresDataKeyStore {
  return createSqlDataKeyStore(postgresDataKeyDialect, options) as PostgresDataKeyStore;
}

const postgresDataKeyDialect: DataKeySqlDialect<PostgresBackend> = {
  sql: postgresDialect,
  migrations: postgresDataKeyStoreMigrations,
  now: POSTGRES_NOW_MS,
  writableCte: true,
};
