import { assertStoreOptions } from '../../core/options.js';
import type { MigrationReport, MigrationSet } from '../../core/storage-backend.js';
import {
  type DueTimer,
  ENTITY_STORE_COMPONENT,
  type EntityInsert,
  type EntityStore,
  type EntityUpdate,
  type HistoryQuery,
  type HistoryRecord,
  type StoredEntity,
} from '../../state-machine/entity-store.js';
import type { SqliteBackend } from './sqlite-backend.js';

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

interface EntityRow {
  machine_version: number;
  id: string;
  state: string;
  version: number;
  data: string | null;
  timer_at: string | null;
  timer_event: string | null;
  created_at: string;
  updated_at: string;
}

interface HistoryRow {
  state_version: number;
  machine_version: number;
  from_state: string | null;
  to_state: string;
  event: string;
  payload: string | null;
  actor_id: string | null;
  actor_type: string | null;
  correlation_id: string | null;
  at: string;
}

const ENTITIES = 'state_machine_entities';
const HISTORY = 'state_machine_history';
const TIMER_INDEX = 'state_machine_timers';

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
          `CREATE TABLE ${b.table(ENTITIES)} (
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
          `CREATE INDEX ${b.table(TIMER_INDEX)} ON ${b.table(ENTITIES)} (machine_id, timer_at)
             WHERE timer_at IS NOT NULL`,
        );
        await b.execute(
          `CREATE TABLE ${b.table(HISTORY)} (
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
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    'sqlite',
    'SQLite',
    'createSqliteBackend',
  );
  return new SqliteEntityStoreImpl(backend, ownsBackend);
}

class SqliteEntityStoreImpl implements SqliteEntityStore {
  readonly kind = 'sqlite' as const;
  readonly backend: SqliteBackend;
  readonly #ownsBackend: boolean;
  readonly #entities: string;
  readonly #history: string;

  constructor(backend: SqliteBackend, ownsBackend: boolean) {
    this.backend = backend;
    this.#ownsBackend = ownsBackend;
    this.#entities = backend.table(ENTITIES);
    this.#history = backend.table(HISTORY);
  }

  withBackend(backend: SqliteBackend): SqliteEntityStore {
    if (backend?.kind !== 'sqlite') throw new TypeError('backend must be a SQLite backend');
    return new SqliteEntityStoreImpl(backend, false);
  }

  migrate(): Promise<MigrationReport> {
    return this.backend.migrate(sqliteEntityStoreMigrations);
  }

  now(): Promise<Date> {
    return this.backend.now();
  }

  async load(machineId: string, id: string): Promise<StoredEntity | undefined> {
    const [row] = await this.backend.query<EntityRow>(
      `SELECT id, machine_version, state, version, data, timer_at, timer_event, created_at, updated_at
         FROM ${this.#entities} WHERE machine_id = ? AND id = ?`,
      [machineId, id],
    );
    return row === undefined ? undefined : toEntity(machineId, row);
  }

  insert({ entity, history }: EntityInsert): Promise<boolean> {
    return this.backend.transaction(async (tx) => {
      const inserted = await tx.execute(
        `INSERT INTO ${this.#entities}
           (machine_id, id, machine_version, state, version, data, timer_at, timer_event, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (machine_id, id) DO NOTHING`,
        [
          entity.machineId,
          entity.id,
          entity.machineVersion,
          entity.state,
          entity.stateVersion,
          json(entity.data),
          entity.timer?.at ?? null,
          entity.timer?.event ?? null,
          entity.createdAt,
          entity.updatedAt,
        ],
      );
      if (inserted === 0) return false;
      await this.#appendHistory(tx, history);
      return true;
    });
  }

  compareAndSet({ entity, expectedVersion, history }: EntityUpdate): Promise<boolean> {
    return this.backend.transaction(async (tx) => {
      const updated = await tx.execute(
        `UPDATE ${this.#entities}
            SET machine_version = ?, state = ?, data = ?, timer_at = ?, timer_event = ?,
                updated_at = ?, version = version + 1
          WHERE machine_id = ? AND id = ? AND version = ?`,
        [
          entity.machineVersion,
          entity.state,
          json(entity.data),
          entity.timer?.at ?? null,
          entity.timer?.event ?? null,
          entity.updatedAt,
          entity.machineId,
          entity.id,
          expectedVersion,
        ],
      );
      if (updated === 0) return false;
      await this.#appendHistory(tx, history);
      return true;
    });
  }

  async listHistory(query: HistoryQuery): Promise<readonly HistoryRecord[]> {
    const rows = await this.backend.query<HistoryRow>(
      `SELECT state_version, machine_version, from_state, to_state, event, payload, actor_id,
              actor_type, correlation_id, at
         FROM ${this.#history}
        WHERE machine_id = ? AND entity_id = ? AND state_version > ?
        ORDER BY state_version
        LIMIT ?`,
      [query.machineId, query.entityId, query.afterStateVersion, query.limit],
    );
    return rows.map((row) => toHistory(query.machineId, query.entityId, row));
  }

  async dueTimers(machineId: string, dueBy: Date, limit: number): Promise<readonly DueTimer[]> {
    const rows = await this.backend.query<{
      id: string;
      version: number;
      timer_at: string;
      timer_event: string;
    }>(
      `SELECT id, version, timer_at, timer_event FROM ${this.#entities}
        WHERE machine_id = ? AND timer_at IS NOT NULL AND timer_at <= ?
        ORDER BY timer_at, id
        LIMIT ?`,
      [machineId, dueBy.toISOString(), limit],
    );
    return rows.map((row) => ({
      entityId: row.id,
      stateVersion: Number(row.version),
      timer: { at: row.timer_at, event: row.timer_event },
    }));
  }

  async close(): Promise<void> {
    if (this.#ownsBackend) await this.backend.close();
  }

  async #appendHistory(tx: SqliteBackend, record: HistoryRecord): Promise<void> {
    await tx.execute(
      `INSERT INTO ${this.#history}
         (machine_id, entity_id, state_version, machine_version, from_state, to_state, event,
          payload, actor_id, actor_type, correlation_id, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        record.machineId,
        record.entityId,
        record.stateVersion,
        record.machineVersion,
        record.from,
        record.to,
        record.event,
        json(record.payload),
        record.actor?.id ?? null,
        record.actor?.type ?? null,
        record.correlationId,
        record.at,
      ],
    );
  }
}

/** JSON text, or SQL NULL for `undefined`; throws `TypeError` for values JSON cannot hold. */
function json(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

function toEntity(machineId: string, row: EntityRow): StoredEntity {
  return {
    machineId,
    id: row.id,
    machineVersion: Number(row.machine_version),
    state: row.state,
    stateVersion: Number(row.version),
    data: row.data === null ? undefined : JSON.parse(row.data),
    timer:
      row.timer_at === null || row.timer_event === null
        ? null
        : { at: row.timer_at, event: row.timer_event },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toHistory(machineId: string, entityId: string, row: HistoryRow): HistoryRecord {
  return {
    machineId,
    entityId,
    stateVersion: Number(row.state_version),
    machineVersion: Number(row.machine_version),
    from: row.from_state,
    to: row.to_state,
    event: row.event,
    payload: row.payload === null ? undefined : JSON.parse(row.payload),
    actor:
      row.actor_id === null
        ? null
        : row.actor_type === null
          ? { id: row.actor_id }
          : { id: row.actor_id, type: row.actor_type },
    correlationId: row.correlation_id,
    at: row.at,
  };
}
