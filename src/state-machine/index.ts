/**
 * State machines for back-end entities: typed lifecycles with guards, declared effects and
 * deadlines, versioned with snapshot migrations. This entry is the pure machine; persisting entities
 * with optimistic locking and firing their deadlines is `flowproof/state-machine/entities`, and
 * drawing Mermaid diagrams is `flowproof/state-machine/mermaid`.
 *
 * - {@link defineMachine} compiles a definition; `machine.transition()` is the pure, fast
 *   transition function, and `machine.migrateSnapshot()` brings an older snapshot up to date.
 * - {@link describe} returns a definition's structure as plain data; `flowproof/state-machine/mermaid`
 *   draws it as a diagram.
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
// The structure as data, for documentation and tooling
export {
  describe,
  type EventDescription,
  type MachineDescription,
  type StateDescription,
  type TransitionDescription,
} from './describe.js';
export { type DenialReason, transition } from './transition.js';
