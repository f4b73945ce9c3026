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
import type { PostgresBackend } from './postgres-backend.js';
import { POSTGRES_NOW_MS, postgresBatchDelete, postgresDialect } from './postgres-dialect.js';

/** Options of {@link createPostgresTokenVaultStore}. */
export interface PostgresTokenVaultStoreOptions {
  /** The PostgreSQL backend holding the table `<prefix>privacy_tokens`. */
  readonly backend: PostgresBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link TokenVaultStore} over a {@link PostgresBackend}. */
export interface PostgresTokenVaultStore extends TokenVaultStore<PostgresBackend> {
  /** Always `postgres`. */
  readonly kind: 'postgres';
  /** The backend. */
  readonly backend: PostgresBackend;
  /**
   * The same store over `backend`: pass `backend.withTransactionClient(client)` (the connection
   * your transaction runs on) or the backend `backend.transaction()` gives its callback, and what
   * it writes commits or rolls back with your writes.
   *
   * @throws TypeError when `backend` is not a PostgreSQL backend.
   */
  withBackend(backend: PostgresBackend): PostgresTokenVaultStore;
}

/**
 * The schema of the PostgreSQL token-vault store (component `privacy-tokens`), applied by
 * {@link PostgresTokenVaultStore.migrate}; exported for applications that run migrations with
 * their own tooling. One table, `<prefix>privacy_tokens`, keyed by token (compared byte by byte,
 * `COLLATE "C"`), with a partial index of tokens by data subject.
 */
export const postgresTokenVaultStoreMigrations: MigrationSet<PostgresBackend> = {
  component: TOKEN_VAULT_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'tokens',
      up: async (b) => {
        // An index lives in its table's schema, so its name is not schema-qualified.
        const index = (suffix: string) => `"${b.tablePrefix}${TOKEN_TABLE}_${suffix}"`;
        const ddl = tokenTable(b.table(TOKEN_TABLE), index, {
          token: 'text COLLATE "C"',
          text: 'text',
          integer: 'bigint',
        });
        for (const statement of ddl) await b.execute(statement);
      },
    },
  ],
};

/**
 * Creates a token-vault store over PostgreSQL (a `pg.Pool`, a `pg.Client` or PGlite through
 * {@link PostgresBackend}). A put is one statement, an `INSERT … ON CONFLICT DO NOTHING` and the
 * read of the row that won together in one `WITH` (run once more when the winner committed after
 * the statement's snapshot), so concurrent puts of one token store one row and all return it.
 * `deleteBySubject` is one `DELETE` of at most `limit` rows, rows another erasure holds skipped
 * (`FOR UPDATE SKIP LOCKED`). Times are the server's `clock_timestamp()` in epoch milliseconds.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import pg from 'pg';
 * import { createPostgresBackend, createPostgresTokenVaultStore } from 'flowproof/adapters/postgres';
 *
 * const backend = createPostgresBackend({ client: new pg.Pool({ connectionString }) });
 * const store = createPostgresTokenVaultStore({ backend });
 * await store.migrate();
 * ```
 */
export function createPostgresTokenVaultStore(
  options: PostgresTokenVaultStoreOptions,
): PostgresTokenVaultStore {
  return createSqlTokenVaultStore(postgresTokenDialect, options) as PostgresTokenVaultStore;
}

const postgresTokenDialect: TokenSqlDialect<PostgresBackend> = {
  sql: postgresDialect,
  migrations: postgresTokenVaultStoreMigrations,
  now: POSTGRES_NOW_MS,
  writableCte: true,
  deleteBatch: { ...postgresBatchDelete, key: 'token' },
};
