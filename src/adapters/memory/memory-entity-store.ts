import { assertStoreOptions } from '../../core/options.js';
import type { MigrationSet } from '../../core/storage-backend.js';
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
import type { MemoryBackend } from './memory-backend.js';
import {
  assertMemoryBackend,
  MemoryModuleStore,
  type MemoryStoreState,
} from './memory-module-store.js';

/** Options of {@link createMemoryEntityStore}. */
export interface MemoryEntityStoreOptions {
  /** The memory backend holding the entities. */
  readonly backend: MemoryBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The state-machine {@link EntityStore} over a {@link MemoryBackend}. */
export interface MemoryEntityStore extends EntityStore {
  /** Always `memory`. */
  readonly kind: 'memory';
  /** The backend. */
  readonly backend: MemoryBackend;
  /**
   * The same store over `backend`, typically the one `backend.transaction()` passes to its
   * callback, so entity changes commit or roll back with the rest of the transaction.
   */
  withBackend(backend: MemoryBackend): MemoryEntityStore;
}

const ENTITIES = 'state_machine_entities';
const HISTORY = 'state_machine_history';
const TIMERS = 'state_machine_timers';

/** Values are stored serialised, as a database would, so callers can never alias stored data. */
interface EntityRow extends Omit<StoredEntity, 'data'> {
  readonly dataJson: string | undefined;
}
interface HistoryRow extends Omit<HistoryRecord, 'payload'> {
  readonly payloadJson: string | undefined;
}
interface TimerRow extends DueTimer {
  readonly machineId: string;
}

/**
 * The schema of the Memory entity store (component `state-machine`), applied by
 * {@link MemoryEntityStore.migrate}; exported for applications that run migrations with their own tooling.
 */
export const memoryEntityStoreMigrations: MigrationSet<MemoryBackend> = {
  component: ENTITY_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'entities, history and timers',
      up: (backend) => {
        backend.collection(ENTITIES);
        backend.collection(HISTORY);
        backend.collection(TIMERS);
      },
    },
  ],
};

/**
 * Creates an entity store over an in-memory backend: for tests, examples and single-process
 * tools. Compare-and-set runs under the backend's `exclusive()`, so it is atomic with respect to
 * the backend's transactions.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const store = createMemoryEntityStore({ backend: createMemoryBackend() });
 * await store.migrate();
 * const orders = createEntities({ machine: order, store });
 * ```
 */
export function createMemoryEntityStore(options: MemoryEntityStoreOptions): MemoryEntityStore {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    'memory',
    'memory',
    'createMemoryBackend',
  );
  return new MemoryEntityStoreImpl(backend, ownsBackend, { migrated: false });
}

class MemoryEntityStoreImpl extends MemoryModuleStore implements MemoryEntityStore {
  constructor(backend: MemoryBackend, ownsBackend: boolean, state: MemoryStoreState) {
    super(backend, ownsBackend, state, memoryEntityStoreMigrations);
  }

  withBackend(backend: MemoryBackend): MemoryEntityStore {
    assertMemoryBackend(backend);
    return new MemoryEntityStoreImpl(backend, false, this.state);
  }

  async load(machineId: string, id: string): Promise<StoredEntity | undefined> {
    await this.assertMigrated();
    const row = this.backend.collection<EntityRow>(ENTITIES).get(key(machineId, id));
    if (row === undefined) return undefined;
    const { dataJson, ...rest } = row;
    return { ...rest, data: parse(dataJson) };
  }

  async insert({ entity, history }: EntityInsert): Promise<boolean> {
    await this.assertMigrated();
    const row = toEntityRow(entity);
    const historyRow = toHistoryRow(history);
    return this.backend.exclusive(() => {
      const entities = this.backend.collection<EntityRow>(ENTITIES);
      const k = key(entity.machineId, entity.id);
      if (entities.has(k)) return false;
      this.#write(k, row, [historyRow]);
      return true;
    });
  }

  async compareAndSet({
    entity,
    expectedVersion,
    migration,
    history,
  }: EntityUpdate): Promise<boolean> {
    await this.assertMigrated();
    // Serialised before the lock: a value JSON cannot hold fails here, writing nothing.
    const row = toEntityRow(entity);
    const rows = migration
      ? [toHistoryRow(migration), toHistoryRow(history)]
      : [toHistoryRow(history)];
    return this.backend.exclusive(() => {
      const k = key(entity.machineId, entity.id);
      const current = this.backend.collection<EntityRow>(ENTITIES).get(k);
      if (current === undefined || current.stateVersion !== expectedVersion) return false;
      const earlier = this.backend.collection<readonly HistoryRow[]>(HISTORY).get(k) ?? [];
      this.#write(k, { ...row, stateVersion: expectedVersion + rows.length }, [
        ...earlier,
        ...rows,
      ]);
      return true;
    });
  }

  async listHistory(query: HistoryQuery): Promise<readonly HistoryRecord[]> {
    await this.assertMigrated();
    const rows =
      this.backend
        .collection<readonly HistoryRow[]>(HISTORY)
        .get(key(query.machineId, query.entityId)) ?? [];
    const page: HistoryRecord[] = [];
    for (const row of rows) {
      if (row.stateVersion <= query.afterStateVersion) continue;
      if (page.length === query.limit) break;
      const { payloadJson, ...rest } = row;
      page.push({ ...rest, payload: parse(payloadJson) });
    }
    return page;
  }

  async dueTimers(machineId: string, dueBy: Date, limit: number): Promise<readonly DueTimer[]> {
    await this.assertMigrated();
    const cutoff = dueBy.toISOString();
    const due: DueTimer[] = [];
    for (const row of this.backend.collection<TimerRow>(TIMERS).values()) {
      if (row.machineId === machineId && row.timer.at <= cutoff) {
        due.push({ entityId: row.entityId, stateVersion: row.stateVersion, timer: row.timer });
      }
    }
    due.sort((a, b) =>
      a.timer.at < b.timer.at ? -1 : a.timer.at > b.timer.at ? 1 : a.entityId < b.entityId ? -1 : 1,
    );
    return due.slice(0, limit);
  }

  /** Replaces entries, never mutates them: a rolled-back transaction restores the maps. */
  #write(k: string, row: EntityRow, history: readonly HistoryRow[]): void {
    this.backend.collection<EntityRow>(ENTITIES).set(k, row);
    this.backend.collection<readonly HistoryRow[]>(HISTORY).set(k, history);
    const timers = this.backend.collection<TimerRow>(TIMERS);
    if (row.timer === null) timers.delete(k);
    else {
      timers.set(k, {
        machineId: row.machineId,
        entityId: row.id,
        stateVersion: row.stateVersion,
        timer: row.timer,
      });
    }
  }
}

function key(machineId: string, id: string): string {
  return `${machineId}\u0000${id}`;
}

function toEntityRow(entity: StoredEntity): EntityRow {
  const { data, ...rest } = entity;
  return { ...rest, timer: entity.timer && { ...entity.timer }, dataJson: stringify(data) };
}

function toHistoryRow(record: HistoryRecord): HistoryRow {
  const { payload, ...rest } = record;
  return { ...rest, actor: record.actor && { ...record.actor }, payloadJson: stringify(payload) };
}

/** Throws the native `TypeError` for values JSON cannot hold (BigInt, cycles), as SQL stores do. */
function stringify(value: unknown): string | undefined {
  return value === undefined ? undefined : JSON.stringify(value);
}

function parse(json: string | undefined): unknown {
  return json === undefined ? undefined : JSON.parse(json);
}
