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
import type { PostgresBackend } from './postgres-backend.js';

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

interface EntityRow {
  id: string;
  machine_version: number;
  state: string;
  version: number;
  data: string | null;
  timer_at: Date | string | null;
  timer_event: string | null;
  created_at: Date | string;
  updated_at: Date | string;
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
  at: Date | string;
}

const ENTITIES = 'state_machine_entities';
const HISTORY = 'state_machine_history';
const TIMER_INDEX = 'state_machine_timers';

/**
 * The schema of the Postgres entity store (component `state-machine`), applied by
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
          `CREATE TABLE ${b.table(ENTITIES)} (
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
          `CREATE INDEX "${b.tablePrefix}${TIMER_INDEX}" ON ${b.table(ENTITIES)} (machine_id, timer_at)
             WHERE timer_at IS NOT NULL`,
        );
        await b.execute(
          `CREATE TABLE ${b.table(HISTORY)} (
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
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    'postgres',
    'PostgreSQL',
    'createPostgresBackend',
  );
  return new PostgresEntityStoreImpl(backend, ownsBackend);
}

class PostgresEntityStoreImpl implements PostgresEntityStore {
  readonly kind = 'postgres' as const;
  readonly backend: PostgresBackend;
  readonly #ownsBackend: boolean;
  readonly #entities: string;
  readonly #history: string;

  constructor(backend: PostgresBackend, ownsBackend: boolean) {
    this.backend = backend;
    this.#ownsBackend = ownsBackend;
    this.#entities = backend.table(ENTITIES);
    this.#history = backend.table(HISTORY);
  }

  withBackend(backend: PostgresBackend): PostgresEntityStore {
    if (backend?.kind !== 'postgres') throw new TypeError('backend must be a PostgreSQL backend');
    return new PostgresEntityStoreImpl(backend, false);
  }

  migrate(): Promise<MigrationReport> {
    return this.backend.migrate(postgresEntityStoreMigrations);
  }

  now(): Promise<Date> {
    return this.backend.now();
  }

  async load(machineId: string, id: string): Promise<StoredEntity | undefined> {
    const [row] = await this.backend.query<EntityRow>(
      `SELECT id, machine_version, state, version, data::text AS data, timer_at, timer_event,
              created_at, updated_at
         FROM ${this.#entities} WHERE machine_id = $1 AND id = $2`,
      [machineId, id],
    );
    return row === undefined ? undefined : toEntity(machineId, row);
  }

  insert({ entity, history }: EntityInsert): Promise<boolean> {
    return this.backend.transaction(async (tx) => {
      const inserted = await tx.execute(
        `INSERT INTO ${this.#entities}
           (machine_id, id, machine_version, state, version, data, timer_at, timer_event, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::timestamptz, $8, $9::timestamptz, $10::timestamptz)
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
            SET machine_version = $1, state = $2, data = $3::jsonb, timer_at = $4::timestamptz,
                timer_event = $5, updated_at = $6::timestamptz, version = version + 1
          WHERE machine_id = $7 AND id = $8 AND version = $9`,
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
      `SELECT state_version, machine_version, from_state, to_state, event, payload::text AS payload,
              actor_id, actor_type, correlation_id, at
         FROM ${this.#history}
        WHERE machine_id = $1 AND entity_id = $2 AND state_version > $3
        ORDER BY state_version
        LIMIT $4`,
      [query.machineId, query.entityId, query.afterStateVersion, query.limit],
    );
    return rows.map((row) => toHistory(query.machineId, query.entityId, row));
  }

  async dueTimers(machineId: string, dueBy: Date, limit: number): Promise<readonly DueTimer[]> {
    const rows = await this.backend.query<{
      id: string;
      version: number;
      timer_at: Date | string;
      timer_event: string;
    }>(
      `SELECT id, version, timer_at, timer_event FROM ${this.#entities}
        WHERE machine_id = $1 AND timer_at IS NOT NULL AND timer_at <= $2::timestamptz
        ORDER BY timer_at, id
        LIMIT $3`,
      [machineId, dueBy.toISOString(), limit],
    );
    return rows.map((row) => ({
      entityId: row.id,
      stateVersion: Number(row.version),
      timer: { at: iso(row.timer_at), event: row.timer_event },
    }));
  }

  async close(): Promise<void> {
    if (this.#ownsBackend) await this.backend.close();
  }

  async #appendHistory(tx: PostgresBackend, record: HistoryRecord): Promise<void> {
    await tx.execute(
      `INSERT INTO ${this.#history}
         (machine_id, entity_id, state_version, machine_version, from_state, to_state, event,
          payload, actor_id, actor_type, correlation_id, at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12::timestamptz)`,
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

/**
 * JSON text for a `jsonb` parameter (never the value itself: `pg` would turn arrays into
 * PostgreSQL arrays), or NULL for `undefined`; throws `TypeError` for values JSON cannot hold.
 */
function json(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

/** `timestamptz` arrives as a `Date` (pg, PGlite) or, with custom type parsers, as text. */
function iso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

function toEntity(machineId: string, row: EntityRow): StoredEntity {
  return {
    machineId,
    id: row.id,
    machineVersion: Number(row.machine_version),
    state: row.state,
    stateVersion: Number(row.version),
    // Read as text: SQL NULL (no data) stays apart from JSON null.
    data: row.data === null ? undefined : JSON.parse(row.data),
    timer:
      row.timer_at === null || row.timer_event === null
        ? null
        : { at: iso(row.timer_at), event: row.timer_event },
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
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
    at: iso(row.at),
  };
}
