/**
 * State machines for back-end entities: typed lifecycles with guards, declared effects and
 * deadlines, persisted with optimistic locking (one compare-and-set per event, history in the same
 * transaction), versioned with snapshot migrations, and drawn as Mermaid diagrams.
 *
 * - {@link defineMachine} compiles a definition; `machine.transition()` is the pure, fast
 *   transition function.
 * - {@link createEntities} persists a machine's entities on an {@link EntityStore} (memory, SQLite
 *   and PostgreSQL adapters live in `flowproof/adapters/*`).
 * - {@link sweepTimers} / {@link startTimerSweeper} fire overdue deadlines exactly once.
 * - {@link toMermaid} / {@link describe} turn a definition into documentation.
 *
 * @module
 */

// Definitions and the pure transition function
export {
  defineMachine,
  type EventName,
  type EventSchemas,
  type Guard,
  type Machine,
  type MachineConfig,
  type MachineEvent,
  type ReceivedEvent,
  type Snapshot,
  type SnapshotMigration,
  type StateConfig,
  type StateTimerConfig,
  type TransitionConfig,
  type TransitionResult,
  type TransitionSpec,
  type TransitionsConfig,
} from './define-machine.js';
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
} from './entities.js';
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
// Documentation
export {
  describe,
  type EventDescription,
  type MachineDescription,
  type MermaidOptions,
  type StateDescription,
  type TransitionDescription,
  toMermaid,
} from './mermaid.js';

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
export { type DenialReason, transition } from './transition.js';
