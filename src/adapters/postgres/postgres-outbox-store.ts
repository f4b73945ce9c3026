import type { MigrationSet } from '../../core/storage-backend.js';
import { OUTBOX_STORE_COMPONENT, type OutboxStore } from '../../outbox/outbox-store.js';
import {
  createSqlOutboxStore,
  driverCause,
  OUTBOX_MESSAGES_TABLE,
  type OutboxSqlDialect,
  outboxIndexes,
} from '../sql/sql-outbox-store.js';
import type { PostgresBackend } from './postgres-backend.js';
import { POSTGRES_NOW_MS, postgresDialect, postgresJsonRows } from './postgres-dialect.js';

/** Options of {@link createPostgresOutboxStore}. */
export interface PostgresOutboxStoreOptions {
  /** The PostgreSQL backend holding the table `<prefix>outbox_messages`. */
  readonly backend: PostgresBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link OutboxStore} over a {@link PostgresBackend}. */
export interface PostgresOutboxStore extends OutboxStore<PostgresBackend> {
  /** Always `postgres`. */
  readonly kind: 'postgres';
  /** The backend. */
  readonly backend: PostgresBackend;
  /**
   * The same store over `backend`: pass `backend.withTransactionClient(client)` (the connection
   * your transaction runs on) or the backend `backend.transaction()` gives its callback, and
   * messages enqueued through it commit or roll back with your writes.
   *
   * @throws TypeError when `backend` is not a PostgreSQL backend.
   */
  withBackend(backend: PostgresBackend): PostgresOutboxStore;
}

/**
 * The schema of the PostgreSQL outbox store (component `outbox`), applied by
 * {@link PostgresOutboxStore.migrate}; exported for applications that run migrations with their
 * own tooling.
 */
export const postgresOutboxStoreMigrations: MigrationSet<PostgresBackend> = {
  component: OUTBOX_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'outbox messages',
      up: async (b) => {
        const table = b.table(OUTBOX_MESSAGES_TABLE);
        // An index lives in its table's schema, so its name is not schema-qualified.
        const index = (suffix: string) => `"${b.tablePrefix}${OUTBOX_MESSAGES_TABLE}_${suffix}"`;
        // tx_id: the inserting transaction, for the claim's commit-safety gate.
        // fillfactor: room on each page for a row's next version. A claim and a retry change no
        // indexed column (lease and due time are not indexed), so they are HOT updates without
        // index writes; only publishing (status) and dead-lettering touch the indexes.
        await b.execute(
          `CREATE TABLE ${table} (
             position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             id text NOT NULL UNIQUE,
             topic text NOT NULL,
             msg_key text,
             payload jsonb NOT NULL,
             headers jsonb NOT NULL,
             status text NOT NULL CHECK (status IN ('pending', 'published', 'dead_lettered')),
             attempts integer NOT NULL,
             available_at bigint NOT NULL,
             lease_owner text,
             lease_until bigint NOT NULL,
             last_error jsonb,
             created_at bigint NOT NULL,
             finished_at bigint,
             tx_id xid8 NOT NULL DEFAULT pg_current_xact_id()
           ) WITH (fillfactor = 85)`,
        );
        for (const ddl of outboxIndexes(table, index)) await b.execute(ddl);
      },
    },
  ],
};

/**
 * Creates an outbox store over PostgreSQL (a `pg.Pool`, a `pg.Client` or PGlite through
 * {@link PostgresBackend}): one table, payload and headers as `jsonb`, every operation one
 * statement. Times are the server's `clock_timestamp()` in epoch milliseconds, read once per
 * statement. A batch is one multi-row `INSERT`, all or none even outside a transaction.
 *
 * Each row records the transaction that inserted it; a claim hands out only rows of transactions
 * older than every transaction still running (`pg_snapshot_xmin`), so a transaction that took an
 * earlier position and has not committed yet holds back later messages of its key (and, while it
 * runs, every message committed after it began). Claims are serialised by a transaction-scoped
 * advisory lock derived from the table's name, so two claims never split one key.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import pg from 'pg';
 * import { createPostgresBackend, createPostgresOutboxStore } from 'flowproof/adapters/postgres';
 *
 * const backend = createPostgresBackend({ client: new pg.Pool({ connectionString }) });
 * const outbox = createPostgresOutboxStore({ backend });
 * await outbox.migrate();
 * ```
 */
export function createPostgresOutboxStore(
  options: PostgresOutboxStoreOptions,
): PostgresOutboxStore {
  return createSqlOutboxStore(postgresOutboxDialect, options);
}

const postgresOutboxDialect: OutboxSqlDialect<PostgresBackend> = {
  sql: postgresDialect,
  migrations: postgresOutboxStoreMigrations,
  now: POSTGRES_NOW_MS,
  ...postgresJsonRows,
  idIn: (column, subquery) => `${column} = ANY(ARRAY${subquery})`,
  gate: (row) => ` AND ${row}.tx_id < pg_snapshot_xmin(pg_current_snapshot())`,
  purgeLock: 'FOR UPDATE SKIP LOCKED',
  serialize: (backend, table, claim) =>
    backend.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
        `flowproof:outbox-claim:${table}`,
      ]);
      return claim(tx);
    }),
  duplicateId: (error) => {
    const cause = driverCause(error);
    if (cause?.code !== '23505') return undefined;
    const detail = typeof cause.detail === 'string' ? cause.detail : '';
    const named = /^Key \(id\)=\((.*)\) already exists\.?$/s.exec(detail);
    return named?.[1] ?? '';
  },
};
