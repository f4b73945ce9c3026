import type { MigrationSet } from '../../core/storage-backend.js';
import {
  ENTITY_STORE_COMPONENT,
  type EntityStore,
} from '../../state-machine/entities/entity-store.js';
import {
  createSqlEntityStore,
  ENTITIES_TABLE,
  HISTORY_TABLE,
  TIMER_INDEX,
} from '../sql/sql-entity-store.js';
import type { PostgresBackend } from './postgres-backend.js';
import { postgresDialect } from './postgres-dialect.js';

/** Options of {@link createPostgresEntityStore}. */
export interface PostgresEntityStoreOptions {
  /** The PostgreSQL backend holding the tables. */
  readonly backend: PostgresBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The state-machine {@link EntityStore} over a {@link PostgresBackend}. */
export interface PostgresEntityStore extends EntityStore {
  /** Always `postgres`. */
  readonly kind: 'postgres';
  /** The backend. */
  readonly backend: PostgresBackend;
  /**
   * The same store over `backend`: pass `backend.withTransactionClient(client)` (the connection
   * your transaction runs on) or the backend `backend.transaction()` gives its callback, and
   * entity changes commit or roll back with your writes.
   */
  withBackend(backend: PostgresBackend): PostgresEntityStore;
}

/**
 * The schema of the PostgreSQL entity store (component `state-machine`), applied by
 * {@link PostgresEntityStore.migrate}; exported for applications that run migrations with their own tooling.
 */
export const postgresEntityStoreMigrations: MigrationSet<PostgresBackend> = {
  component: ENTITY_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'entities, history and timers',
      up: async (b) => {
        await b.execute(
          `CREATE TABLE ${b.table(ENTITIES_TABLE)} (
             machine_id text NOT NULL,
             id text NOT NULL,
             machine_version integer NOT NULL,
             state text NOT NULL,
             version integer NOT NULL,
             data jsonb,
             timer_at timestamptz,
             timer_event text,
             created_at timestamptz NOT NULL,
             updated_at timestamptz NOT NULL,
             PRIMARY KEY (machine_id, id)
           )`,
        );
        // Only entities with a pending deadline are indexed: the sweeper's scan stays small. An
        // index lives in its table's schema, so its name is not schema-qualified.
        await b.execute(
          `CREATE INDEX "${b.tablePrefix}${TIMER_INDEX}" ON ${b.table(ENTITIES_TABLE)} (machine_id, timer_at)
             WHERE timer_at IS NOT NULL`,
        );
        await b.execute(
          `CREATE TABLE ${b.table(HISTORY_TABLE)} (
             machine_id text NOT NULL,
             entity_id text NOT NULL,
             state_version integer NOT NULL,
             machine_version integer NOT NULL,
             from_state text,
             to_state text NOT NULL,
             event text NOT NULL,
             payload jsonb,
             actor_id text,
             actor_type text,
             correlation_id text,
             at timestamptz NOT NULL,
             PRIMARY KEY (machine_id, entity_id, state_version)
           )`,
        );
      },
    },
  ],
};

/**
 * Creates an entity store over PostgreSQL (a `pg.Pool`, a `pg.Client` or PGlite through
 * {@link PostgresBackend}). Data and payloads are `jsonb`, times `timestamptz`. Compare-and-set is
 * one `UPDATE … WHERE version = $n` plus the history `INSERT` in one transaction; concurrent
 * writers queue on the row lock and all but the first find another version.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const backend = createPostgresBackend({ client: pool, schema: 'app' });
 * const store = createPostgresEntityStore({ backend });
 * await store.migrate();
 * const orders = createEntities({ machine: order, store });
 * ```
 */
export function createPostgresEntityStore(
  options: PostgresEntityStoreOptions,
): PostgresEntityStore {
  return createSqlEntityStore(postgresDialect, postgresEntityStoreMigrations, options);
}
