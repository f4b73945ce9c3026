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
import type { SqliteBackend } from './sqlite-backend.js';
import { sqliteDialect } from './sqlite-dialect.js';

/** Options of {@link createSqliteEntityStore}. */
export interface SqliteEntityStoreOptions {
  /** The SQLite backend holding the tables. */
  readonly backend: SqliteBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The state-machine {@link EntityStore} over a {@link SqliteBackend}. */
export interface SqliteEntityStore extends EntityStore {
  /** Always `sqlite`. */
  readonly kind: 'sqlite';
  /** The backend. */
  readonly backend: SqliteBackend;
  /**
   * The same store over `backend`: pass `backend.joinOpenTransaction()` (after your own `BEGIN`)
   * or the backend `backend.transaction()` gives its callback, and entity changes commit or roll
   * back with your writes.
   */
  withBackend(backend: SqliteBackend): SqliteEntityStore;
}

/**
 * The schema of the SQLite entity store (component `state-machine`), applied by
 * {@link SqliteEntityStore.migrate}; exported for applications that run migrations with their own tooling.
 */
export const sqliteEntityStoreMigrations: MigrationSet<SqliteBackend> = {
  component: ENTITY_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'entities, history and timers',
      up: async (b) => {
        await b.execute(
          `CREATE TABLE ${b.table(ENTITIES_TABLE)} (
             machine_id TEXT NOT NULL,
             id TEXT NOT NULL,
             machine_version INTEGER NOT NULL,
             state TEXT NOT NULL,
             version INTEGER NOT NULL,
             data TEXT,
             timer_at TEXT,
             timer_event TEXT,
             created_at TEXT NOT NULL,
             updated_at TEXT NOT NULL,
             PRIMARY KEY (machine_id, id)
           )`,
        );
        // Only entities with a pending deadline are indexed: the sweeper's scan stays small.
        await b.execute(
          `CREATE INDEX ${b.table(TIMER_INDEX)} ON ${b.table(ENTITIES_TABLE)} (machine_id, timer_at)
             WHERE timer_at IS NOT NULL`,
        );
        await b.execute(
          `CREATE TABLE ${b.table(HISTORY_TABLE)} (
             machine_id TEXT NOT NULL,
             entity_id TEXT NOT NULL,
             state_version INTEGER NOT NULL,
             machine_version INTEGER NOT NULL,
             from_state TEXT,
             to_state TEXT NOT NULL,
             event TEXT NOT NULL,
             payload TEXT,
             actor_id TEXT,
             actor_type TEXT,
             correlation_id TEXT,
             at TEXT NOT NULL,
             PRIMARY KEY (machine_id, entity_id, state_version)
           )`,
        );
      },
    },
  ],
};

/**
 * Creates an entity store over SQLite. Timestamps are stored as UTC ISO-8601 text (they sort as
 * strings), data and payloads as JSON text. Compare-and-set is one `UPDATE … WHERE version = ?`
 * plus the history `INSERT` in one `BEGIN IMMEDIATE` transaction, so it is safe across processes
 * sharing the database file.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const backend = createSqliteBackend({ database: new Database('app.db') });
 * const store = createSqliteEntityStore({ backend });
 * await store.migrate();
 * const orders = createEntities({ machine: order, store });
 * ```
 */
export function createSqliteEntityStore(options: SqliteEntityStoreOptions): SqliteEntityStore {
  return createSqlEntityStore(sqliteDialect, sqliteEntityStoreMigrations, options);
}
