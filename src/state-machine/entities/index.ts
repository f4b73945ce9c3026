/**
 * Persisted state-machine entities: a machine from `flowproof/state-machine` over an
 * {@link EntityStore}, with optimistic locking (one compare-and-set per event, the history row in
 * the same transaction), retries, history and durable timers.
 *
 * It is its own entry so that code which only defines machines and computes transitions (a front
 * end, a workflow definition, a test) does not carry persistence.
 *
 * - {@link createEntities} persists a machine's entities on an {@link EntityStore} (memory, SQLite
 *   and PostgreSQL adapters live in `flowproof/adapters/*`).
 * - {@link sweepTimers} / {@link startTimerSweeper} fire overdue deadlines exactly once.
 *
 * @module
 */

// Persisted entities over the store port
export {
  type ApplyOptions,
  type ApplyResult,
  createEntities,
  type Decider,
  type Entities,
  type EntitiesOptions,
  type Entity,
  type HistoryOptions,
  type HistoryPage,
  type RetryOptions,
} from './create-entities.js';
// The store port the adapters implement
export {
  type DueTimer,
  ENTITY_STORE_COMPONENT,
  type EntityInsert,
  type EntityStore,
  type EntityTimer,
  type EntityUpdate,
  type HistoryQuery,
  type HistoryRecord,
  type StoredEntity,
} from './entity-store.js';
// Durable timers
export {
  type SweepFailure,
  type SweepOptions,
  type SweepResult,
  startTimerSweeper,
  sweepTimers,
  type TimerSweeper,
  type TimerSweeperOptions,
} from './timers.js';
