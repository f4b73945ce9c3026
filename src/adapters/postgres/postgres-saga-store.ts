import type { MigrationSet } from '../../core/storage-backend.js';
import { SAGA_STORE_COMPONENT, type SagaStore } from '../../saga/saga-store.js';
import {
  ACTIVE_STATUS_LIST,
  createSqlSagaStore,
  SAGA_RUNS_TABLE,
  type SagaSqlDialect,
} from '../sql/sql-saga-store.js';
import type { PostgresBackend } from './postgres-backend.js';
import { POSTGRES_NOW_MS, postgresDialect } from './postgres-dialect.js';

/** Options of {@link createPostgresSagaStore}. */
export interface PostgresSagaStoreOptions {
  /** The PostgreSQL backend holding the table `<prefix>saga_runs`. */
  readonly backend: PostgresBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link SagaStore} over a {@link PostgresBackend}. */
export interface PostgresSagaStore
  extends Omit<SagaStore, 'saveInTransaction'>,
    Required<Pick<SagaStore, 'saveInTransaction'>> {
  /** Always `postgres`. */
  readonly kind: 'postgres';
  /** The backend. */
  readonly backend: PostgresBackend;
  /**
   * The same store over `backend`: pass `backend.withTransactionClient(client)` (the connection
   * your transaction runs on) or the backend `backend.transaction()` gives its callback, and saga
   * writes commit or roll back with your writes.
   *
   * @throws TypeError when `backend` is not a PostgreSQL backend.
   */
  withBackend(backend: PostgresBackend): PostgresSagaStore;
}

/**
 * The schema of the PostgreSQL saga store (component `saga`), applied by
 * {@link PostgresSagaStore.migrate}; exported for applications that run migrations with their own
 * tooling.
 */
export const postgresSagaStoreMigrations: MigrationSet<PostgresBackend> = {
  component: SAGA_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'saga runs',
      up: async (b) => {
        const table = b.table(SAGA_RUNS_TABLE);
        // An index lives in its table's schema, so its name is not schema-qualified.
        const index = (suffix: string) => `"${b.tablePrefix}${SAGA_RUNS_TABLE}_${suffix}"`;
        // fillfactor: room on each page for a row's next version, so a step's write (which
        // changes no indexed column) is a HOT update, without index writes.
        await b.execute(
          `CREATE TABLE ${table} (
             id text PRIMARY KEY,
             name text NOT NULL,
             version integer NOT NULL,
             status text NOT NULL CHECK (status IN ('running', 'compensating', 'completed',
               'compensated', 'failed', 'compensation_failed')),
             log jsonb NOT NULL,
             wake_at bigint NOT NULL,
             lease_owner text,
             lease_until bigint NOT NULL,
             lease_token bigint NOT NULL,
             created_at bigint NOT NULL,
             updated_at bigint NOT NULL,
             finished_at bigint
           ) WITH (fillfactor = 80)`,
        );
        // The claim scan: only sagas a runner works on, by due time.
        await b.execute(
          `CREATE INDEX ${index('due')} ON ${table} (wake_at) WHERE status IN (${ACTIVE_STATUS_LIST})`,
        );
        await b.execute(`CREATE INDEX ${index('status')} ON ${table} (status, id)`);
        await b.execute(
          `CREATE INDEX ${index('finished')} ON ${table} (finished_at) WHERE finished_at IS NOT NULL`,
        );
      },
    },
  ],
};

/**
 * Creates a saga store over PostgreSQL (a `pg.Pool`, a `pg.Client` or PGlite through
 * {@link PostgresBackend}): one table, the log as `jsonb`, every operation one statement. Times
 * are the server's `clock_timestamp()` in epoch milliseconds, read once per statement. A claim is
 * one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING …`, so concurrent runners
 * never wait for each other nor get the same saga.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import pg from 'pg';
 * import { createPostgresBackend, createPostgresSagaStore } from 'flowproof/adapters/postgres';
 *
 * const backend = createPostgresBackend({ client: new pg.Pool({ connectionString }) });
 * const store = createPostgresSagaStore({ backend });
 * await store.migrate();
 * ```
 */
export function createPostgresSagaStore(options: PostgresSagaStoreOptions): PostgresSagaStore {
  return createSqlSagaStore(postgresSagaDialect, options);
}

const postgresSagaDialect: SagaSqlDialect<PostgresBackend> = {
  sql: postgresDialect,
  migrations: postgresSagaStoreMigrations,
  now: POSTGRES_NOW_MS,
  listPlaceholder: (n) => `$${n}::text[]`,
  inList: (column, placeholder) => `${column} = ANY(${placeholder})`,
  listParam: (values) => (values === undefined ? null : [...values]),
  claimLock: 'FOR UPDATE SKIP LOCKED',
};
