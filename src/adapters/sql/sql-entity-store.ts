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
} from '../../state-machine/entities/entity-store.js';
import { parseStoredJson } from '../store-data-corrupt.js';
import { jsonParam, type SqlBackend, type SqlDialect } from './sql-dialect.js';

/** The entity store's tables (before the backend's prefix and schema). */
export const ENTITIES_TABLE = 'state_machine_entities';
/** The transition history, one row per state version. */
export const HISTORY_TABLE = 'state_machine_history';
/** The partial index of pending timers. */
export const TIMER_INDEX = 'state_machine_timers';

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

interface TimerRow {
  id: string;
  version: number;
  timer_at: Date | string;
  timer_event: string;
}

/**
 * Opens the state-machine entity store shared by the SQL backends, after checking the factory's
 * `{ backend, ownsBackend }` options against `dialect`.
 *
 * @throws TypeError naming the option when an option is invalid.
 */
export function createSqlEntityStore<B extends SqlBackend>(
  dialect: SqlDialect<B>,
  migrations: MigrationSet<B>,
  options: { readonly backend: B; readonly ownsBackend?: boolean },
): SqlEntityStore<B> {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    dialect.kind,
    dialect.label,
    dialect.backendFactory,
  );
  return new SqlEntityStore(dialect, migrations, backend, ownsBackend);
}

/**
 * The entity store over any {@link SqlBackend}: compare-and-set is one `UPDATE … WHERE version = n`
 * plus the history `INSERT` (two when the write also migrates the entity: the `@migrate` row
 * first) in one transaction of the backend.
 */
export class SqlEntityStore<B extends SqlBackend> implements EntityStore {
  readonly kind: B['kind'];
  readonly backend: B;
  readonly #dialect: SqlDialect<B>;
  readonly #migrations: MigrationSet<B>;
  readonly #ownsBackend: boolean;
  readonly #sql: EntityStatements;

  constructor(
    dialect: SqlDialect<B>,
    migrations: MigrationSet<B>,
    backend: B,
    ownsBackend: boolean,
    sql?: EntityStatements,
  ) {
    this.kind = dialect.kind;
    this.backend = backend;
    this.#dialect = dialect;
    this.#migrations = migrations;
    this.#ownsBackend = ownsBackend;
    this.#sql =
      sql ?? statements(dialect, backend.table(ENTITIES_TABLE), backend.table(HISTORY_TABLE));
  }

  withBackend(backend: B): SqlEntityStore<B> {
    if (backend?.kind !== this.kind) {
      throw new TypeError(`backend must be a ${this.#dialect.label} backend`);
    }
    // Statements depend only on the table names; a transaction's backend names the same tables.
    const sql = backend.table(ENTITIES_TABLE) === this.#sql.entities ? this.#sql : undefined;
    return new SqlEntityStore(this.#dialect, this.#migrations, backend, false, sql);
  }

  migrate(): Promise<MigrationReport> {
    return this.backend.migrate(this.#migrations);
  }

  now(): Promise<Date> {
    return this.backend.now();
  }

  async load(machineId: string, id: string): Promise<StoredEntity | undefined> {
    const [row] = await this.backend.query<EntityRow>(this.#sql.load, [machineId, id]);
    return row === undefined ? undefined : toEntity(machineId, row, this.#dialect);
  }

  insert({ entity, history }: EntityInsert): Promise<boolean> {
    return this.backend.transaction(async (tx) => {
      const inserted = await tx.execute(this.#sql.insert, [
        entity.machineId,
        entity.id,
        entity.machineVersion,
        entity.state,
        entity.stateVersion,
        jsonParam(entity.data),
        entity.timer?.at ?? null,
        entity.timer?.event ?? null,
        entity.createdAt,
        entity.updatedAt,
      ]);
      if (inserted === 0) return false;
      await this.#appendHistory(tx, history);
      return true;
    });
  }

  compareAndSet({ entity, expectedVersion, migration, history }: EntityUpdate): Promise<boolean> {
    return this.backend.transaction(async (tx) => {
      const updated = await tx.execute(this.#sql.compareAndSet, [
        entity.machineVersion,
        entity.state,
        jsonParam(entity.data),
        entity.timer?.at ?? null,
        entity.timer?.event ?? null,
        entity.updatedAt,
        migration ? 2 : 1,
        entity.machineId,
        entity.id,
        expectedVersion,
      ]);
      if (updated === 0) return false;
      // A migration's checkpoint first: the rows keep their stateVersion order.
      if (migration) await this.#appendHistory(tx, migration);
      await this.#appendHistory(tx, history);
      return true;
    });
  }

  async listHistory(query: HistoryQuery): Promise<readonly HistoryRecord[]> {
    const rows = await this.backend.query<HistoryRow>(this.#sql.listHistory, [
      query.machineId,
      query.entityId,
      query.afterStateVersion,
      query.limit,
    ]);
    return rows.map((row) => toHistory(query.machineId, query.entityId, row, this.#dialect));
  }

  async dueTimers(machineId: string, dueBy: Date, limit: number): Promise<readonly DueTimer[]> {
    const rows = await this.backend.query<TimerRow>(this.#sql.dueTimers, [
      machineId,
      dueBy.toISOString(),
      limit,
    ]);
    const isoTime = this.#dialect.isoTime;
    return rows.map((row) => ({
      entityId: row.id,
      stateVersion: Number(row.version),
      timer: { at: isoTime(row.timer_at), event: row.timer_event },
    }));
  }

  async close(): Promise<void> {
    if (this.#ownsBackend) await this.backend.close();
  }

  async #appendHistory(tx: B, record: HistoryRecord): Promise<void> {
    await tx.execute(this.#sql.appendHistory, [
      record.machineId,
      record.entityId,
      record.stateVersion,
      record.machineVersion,
      record.from,
      record.to,
      record.event,
      jsonParam(record.payload),
      record.actor?.id ?? null,
      record.actor?.type ?? null,
      record.correlationId,
      record.at,
    ]);
  }
}

type EntityStatements = ReturnType<typeof statements>;

function statements<B extends SqlBackend>(
  dialect: SqlDialect<B>,
  entities: string,
  history: string,
) {
  const $ = dialect.param;
  return {
    entities,
    load: `SELECT id, machine_version, state, version, ${dialect.jsonText('data')}, timer_at,
              timer_event, created_at, updated_at
         FROM ${entities} WHERE machine_id = ${$(1)} AND id = ${$(2)}`,
    insert: `INSERT INTO ${entities}
           (machine_id, id, machine_version, state, version, data, timer_at, timer_event, created_at, updated_at)
         VALUES (${$(1)}, ${$(2)}, ${$(3)}, ${$(4)}, ${$(5)}, ${$(6, 'jsonb')}, ${$(7, 'timestamptz')},
                 ${$(8)}, ${$(9, 'timestamptz')}, ${$(10, 'timestamptz')})
         ON CONFLICT (machine_id, id) DO NOTHING`,
    compareAndSet: `UPDATE ${entities}
            SET machine_version = ${$(1)}, state = ${$(2)}, data = ${$(3, 'jsonb')},
                timer_at = ${$(4, 'timestamptz')}, timer_event = ${$(5)},
                updated_at = ${$(6, 'timestamptz')}, version = version + ${$(7)}
          WHERE machine_id = ${$(8)} AND id = ${$(9)} AND version = ${$(10)}`,
    listHistory: `SELECT state_version, machine_version, from_state, to_state, event,
              ${dialect.jsonText('payload')}, actor_id, actor_type, correlation_id, at
         FROM ${history}
        WHERE machine_id = ${$(1)} AND entity_id = ${$(2)} AND state_version > ${$(3)}
        ORDER BY state_version
        LIMIT ${$(4)}`,
    dueTimers: `SELECT id, version, timer_at, timer_event FROM ${entities}
        WHERE machine_id = ${$(1)} AND timer_at IS NOT NULL AND timer_at <= ${$(2, 'timestamptz')}
        ORDER BY timer_at, id
        LIMIT ${$(3)}`,
    appendHistory: `INSERT INTO ${history}
         (machine_id, entity_id, state_version, machine_version, from_state, to_state, event,
          payload, actor_id, actor_type, correlation_id, at)
       VALUES (${$(1)}, ${$(2)}, ${$(3)}, ${$(4)}, ${$(5)}, ${$(6)}, ${$(7)}, ${$(8, 'jsonb')},
               ${$(9)}, ${$(10)}, ${$(11)}, ${$(12, 'timestamptz')})`,
  };
}

function toEntity<B extends SqlBackend>(
  machineId: string,
  row: EntityRow,
  { isoTime, kind }: SqlDialect<B>,
): StoredEntity {
  const where = { backend: kind, component: ENTITY_STORE_COMPONENT, machineId, id: row.id };
  return {
    machineId,
    id: row.id,
    machineVersion: Number(row.machine_version),
    state: row.state,
    stateVersion: Number(row.version),
    data: row.data === null ? undefined : parseStoredJson(row.data, { ...where, field: 'data' }),
    timer:
      row.timer_at === null || row.timer_event === null
        ? null
        : { at: isoTime(row.timer_at), event: row.timer_event },
    createdAt: isoTime(row.created_at),
    updatedAt: isoTime(row.updated_at),
  };
}

function toHistory<B extends SqlBackend>(
  machineId: string,
  entityId: string,
  row: HistoryRow,
  { isoTime, kind }: SqlDialect<B>,
): HistoryRecord {
  const stateVersion = Number(row.state_version);
  const where = { backend: kind, component: ENTITY_STORE_COMPONENT, machineId, id: entityId };
  return {
    machineId,
    entityId,
    stateVersion,
    machineVersion: Number(row.machine_version),
    from: row.from_state,
    to: row.to_state,
    event: row.event,
    payload:
      row.payload === null
        ? undefined
        : parseStoredJson(row.payload, { ...where, field: 'payload', stateVersion }),
    actor:
      row.actor_id === null
        ? null
        : row.actor_type === null
          ? { id: row.actor_id }
          : { id: row.actor_id, type: row.actor_type },
    correlationId: row.correlation_id,
    at: isoTime(row.at),
  };
}
