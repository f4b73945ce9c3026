import type { MigrationSet } from '../../core/storage-backend.js';
import { LINEAGE_STORE_COMPONENT, type LineageStore } from '../../lineage/lineage-store.js';
import {
  createSqlLineageStore,
  LINEAGE_TABLE,
  type LineageSqlDialect,
  lineageTable,
} from '../sql/sql-lineage-store.js';
import type { PostgresBackend } from './postgres-backend.js';
import {
  POSTGRES_NOW_MS,
  postgresBatchDelete,
  postgresDialect,
  postgresJsonRows,
} from './postgres-dialect.js';

/** Options of {@link createPostgresLineageStore}. */
export interface PostgresLineageStoreOptions {
  /** The PostgreSQL backend holding the table `<prefix>lineage_records`. */
  readonly backend: PostgresBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link LineageStore} over a {@link PostgresBackend}. */
export interface PostgresLineageStore extends LineageStore<PostgresBackend> {
  /** Always `postgres`. */
  readonly kind: 'postgres';
  /** The backend. */
  readonly backend: PostgresBackend;
  /**
   * The same store over `backend`: pass `backend.withTransactionClient(client)` (the connection
   * your transaction runs on) or the backend `backend.transaction()` gives its callback, and
   * records appended through it commit or roll back with your writes. A batch of several
   * records is a savepoint of that transaction: await one `append` before starting the next on
   * the same transaction.
   *
   * @throws TypeError when `backend` is not a PostgreSQL backend.
   */
  withBackend(backend: PostgresBackend): PostgresLineageStore;
}

/**
 * The schema of the PostgreSQL lineage store (component `lineage`), applied by
 * {@link PostgresLineageStore.migrate}; exported for applications that run migrations with their
 * own tooling. One table, `<prefix>lineage_records`, ids compared byte by byte (`COLLATE "C"`),
 * with a partial index of `value` records per entity and field (newest first), one by correlation
 * id and one by time.
 */
export const postgresLineageStoreMigrations: MigrationSet<PostgresBackend> = {
  component: LINEAGE_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'lineage records',
      up: async (b) => {
        // An index lives in its table's schema, so its name is not schema-qualified.
        const index = (suffix: string) => `"${b.tablePrefix}${LINEAGE_TABLE}_${suffix}"`;
        const ddl = lineageTable(b.table(LINEAGE_TABLE), index, {
          id: 'text COLLATE "C"',
          text: 'text',
          integer: 'bigint',
        });
        for (const statement of ddl) await b.execute(statement);
      },
    },
  ],
};

/**
 * Creates a lineage store over PostgreSQL (a `pg.Pool`, a `pg.Client` or PGlite through
 * {@link PostgresBackend}). One record is one `INSERT … ON CONFLICT DO NOTHING`; a batch is one
 * `INSERT` in a transaction (a savepoint inside yours), so a stored id leaves nothing of the
 * batch written and your transaction usable. `latest` is one probe of the index of the field's
 * records; `purge` is one `DELETE` of the oldest rows, those another purge holds skipped
 * (`FOR UPDATE SKIP LOCKED`). Times are the server's `clock_timestamp()` in epoch milliseconds.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import pg from 'pg';
 * import { createPostgresBackend, createPostgresLineageStore } from 'flowproof/adapters/postgres';
 *
 * const backend = createPostgresBackend({ client: new pg.Pool({ connectionString }) });
 * const store = createPostgresLineageStore({ backend });
 * await store.migrate();
 * ```
 */
export function createPostgresLineageStore(
  options: PostgresLineageStoreOptions,
): PostgresLineageStore {
  return createSqlLineageStore(postgresLineageDialect, options) as PostgresLineageStore;
}

const postgresLineageDialect: LineageSqlDialect<PostgresBackend> = {
  sql: postgresDialect,
  migrations: postgresLineageStoreMigrations,
  now: POSTGRES_NOW_MS,
  ...postgresJsonRows,
  purge: postgresBatchDelete,
};
