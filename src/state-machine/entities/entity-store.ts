/**
 * The entity-store port: the few primitives a backend implements so that state machines can be
 * persisted. Decisions (which transition, which timer, which migration, retries) live in the
 * module; an adapter only loads, inserts, compares-and-sets and lists, each atomically.
 *
 * Data and payloads reach a store as JSON data only: plain objects, arrays, finite numbers, strings
 * that are well-formed Unicode without NUL (U+0000), booleans and `null` (the module checks them
 * before writing). A store must give them back deeply equal, except for the order of object keys,
 * which is not part of the contract (PostgreSQL's `jsonb` sorts them).
 *
 * Adapters: `createMemoryEntityStore`, `createSqliteEntityStore`, `createPostgresEntityStore`.
 * Certify your own with `describeEntityStoreConformance` from `flowproof/testing`.
 */
import type { Actor } from '../../core/context.js';
import type { MigrationReport } from '../../core/storage-backend.js';

/** The migration component name entity stores record their schema under. */
export const ENTITY_STORE_COMPONENT = 'state-machine';

/** A deadline stored with an entity. */
export interface EntityTimer {
  /** When it is due: UTC ISO-8601 (`2026-01-01T00:30:00.000Z`), computed from the store clock. */
  readonly at: string;
  /** The event a sweeper sends when it is due. */
  readonly event: string;
}

/** An entity as the store keeps it: one row per (machine, id). */
export interface StoredEntity {
  /** The machine the entity belongs to. */
  readonly machineId: string;
  /** The entity's id, unique per machine. */
  readonly id: string;
  /** The version of the machine definition that last wrote it. */
  readonly machineVersion: number;
  /** The current state. */
  readonly state: string;
  /** The optimistic-locking version: 1 on creation, +1 on every write. */
  readonly stateVersion: number;
  /** The entity's data, JSON data (see the module comment); `undefined` when it has none. */
  readonly data: unknown;
  /** The pending deadline of the current state, if it has one. */
  readonly timer: EntityTimer | null;
  /** When the entity was created (UTC ISO-8601). */
  readonly createdAt: string;
  /** When the entity was last written (UTC ISO-8601). */
  readonly updatedAt: string;
}

/** One row of an entity's history: written in the same transaction as the change it records. */
export interface HistoryRecord {
  /** The machine. */
  readonly machineId: string;
  /** The entity. */
  readonly entityId: string;
  /** The entity's `stateVersion` after this change: 1, 2, 3… without gaps. */
  readonly stateVersion: number;
  /** The machine version that made the change. */
  readonly machineVersion: number;
  /** The state before; `null` on creation. */
  readonly from: string | null;
  /** The state after. */
  readonly to: string;
  /**
   * The event's name, or `@create` (creation) or `@migrate` (snapshot migrated to a newer machine
   * version). Those two are checkpoints: their payload is the entity's data.
   */
  readonly event: string;
  /** The event's validated payload, or the data for a checkpoint; JSON data, or `undefined`. */
  readonly payload: unknown;
  /** Who acted (from the flow context); `null` when unknown. */
  readonly actor: Actor | null;
  /** The flow context's correlation id; `null` outside a context. */
  readonly correlationId: string | null;
  /** When it happened, from the store clock (UTC ISO-8601). */
  readonly at: string;
}

/** What {@link EntityStore.insert} writes. */
export interface EntityInsert {
  /** The new entity, at `stateVersion` 1. */
  readonly entity: StoredEntity;
  /** Its `@create` history row. */
  readonly history: HistoryRecord;
}

/** What {@link EntityStore.compareAndSet} writes. */
export interface EntityUpdate {
  /**
   * The entity's new row; its `stateVersion` is `expectedVersion + 1`, or `expectedVersion + 2`
   * with a `migration`.
   */
  readonly entity: StoredEntity;
  /** The version the writer read; the write happens only if the stored row still has it. */
  readonly expectedVersion: number;
  /**
   * The `@migrate` checkpoint (at `expectedVersion + 1`) of an entity written by an older machine
   * version that this write migrates and changes at once: appended before `history`, in the same
   * transaction, so an event refused after the migration leaves neither.
   */
  readonly migration?: HistoryRecord;
  /** The history row recording the change. */
  readonly history: HistoryRecord;
}

/** What {@link EntityStore.listHistory} reads. */
export interface HistoryQuery {
  /** The machine. */
  readonly machineId: string;
  /** The entity. */
  readonly entityId: string;
  /**
   * Only rows with a greater `stateVersion`: 0 for the start, at most 2147483647 (PostgreSQL's
   * `integer`, the largest version every store can compare).
   */
  readonly afterStateVersion: number;
  /** At most this many rows, in `stateVersion` order. */
  readonly limit: number;
}

/** A due deadline, as {@link EntityStore.dueTimers} lists it. */
export interface DueTimer {
  /** The entity. */
  readonly entityId: string;
  /** The entity's version when it was listed: the sweeper's compare-and-set expects it. */
  readonly stateVersion: number;
  /** The timer. */
  readonly timer: EntityTimer;
}

/**
 * The persistence port of `flowproof/state-machine`. Every method is atomic on its own; none
 * decides anything.
 */
export interface EntityStore {
  /** Which engine this is, e.g. `postgres`. */
  readonly kind: string;
  /** Creates or upgrades the store's tables (component `state-machine`). Safe to run repeatedly. */
  migrate(): Promise<MigrationReport>;
  /** The store clock: deadlines and history times come from it, never from the host. */
  now(): Promise<Date>;
  /** The entity's row, or `undefined`. */
  load(machineId: string, id: string): Promise<StoredEntity | undefined>;
  /**
   * Inserts the entity and its `@create` history row atomically. Returns `false`, writing
   * nothing, when an entity with the same machine and id exists.
   */
  insert(insert: EntityInsert): Promise<boolean>;
  /**
   * The optimistic-locking write: in one transaction, replaces the row only if its version is
   * still `expectedVersion` (one `UPDATE … WHERE version = ?`) and appends the history rows (the
   * `migration` row first, when given). Returns `false`, writing nothing, when the version differs
   * or the entity is gone. When any part fails, nothing is written.
   */
  compareAndSet(update: EntityUpdate): Promise<boolean>;
  /** History rows in `stateVersion` order. */
  listHistory(query: HistoryQuery): Promise<readonly HistoryRecord[]>;
  /** Up to `limit` timers of `machineId` due at or before `dueBy`, earliest first. */
  dueTimers(machineId: string, dueBy: Date, limit: number): Promise<readonly DueTimer[]>;
  /** Releases what the store owns (the backend, when created with `ownsBackend`). Idempotent. */
  close(): Promise<void>;
}
