/**
 * A machine's structure as plain data: what tooling (an admin page listing allowed moves, the
 * Mermaid renderer of `flowproof/state-machine/mermaid`) reads instead of the compiled tables.
 */
import { type EventSchemas, type Machine, machineInternals } from './define-machine.js';

/** The structure of a machine, as {@link describe} returns it. */
export interface MachineDescription {
  /** The machine's id. */
  readonly id: string;
  /** The definition's version. */
  readonly version: number;
  /** The initial state. */
  readonly initial: string;
  /** The machine's description, or `null`. */
  readonly description: string | null;
  /** Every state, in definition order. */
  readonly states: readonly StateDescription[];
  /** Every event, in definition order. */
  readonly events: readonly EventDescription[];
  /** Every transition, per state and event, alternatives in the order they are tried. */
  readonly transitions: readonly TransitionDescription[];
}

/** One state of a {@link MachineDescription}. */
export interface StateDescription {
  /** The state's name. */
  readonly name: string;
  /** True for the initial state. */
  readonly initial: boolean;
  /** True for a terminal state. */
  readonly terminal: boolean;
  /** Effects declared on entering it. */
  readonly entry: readonly string[];
  /** Its deadline, or `null`. */
  readonly timer: {
    /** Milliseconds in the state before the event is sent. */
    readonly delayMs: number;
    /** The event sent. */
    readonly event: string;
  } | null;
  /** The state's description, or `null`. */
  readonly description: string | null;
}

/** One event of a {@link MachineDescription}. */
export interface EventDescription {
  /** The event's name. */
  readonly name: string;
  /** The vendor of its payload schema (`zod`…), or `null` for an event without payload. */
  readonly schema: string | null;
}

/** One transition of a {@link MachineDescription}. */
export interface TransitionDescription {
  /** The source state. */
  readonly from: string;
  /** The event. */
  readonly event: string;
  /** The target state. */
  readonly to: string;
  /** The guard's function name, or `null` when unguarded. */
  readonly guard: string | null;
  /** The effects the transition returns (its own, then the target's entry effects). */
  readonly effects: readonly string[];
  /** True when it comes from the machine's `anyState` transitions. */
  readonly anyState: boolean;
  /** True when a deadline of the source state sends this event. */
  readonly timer: boolean;
  /** The transition's description, or `null`. */
  readonly description: string | null;
}

/**
 * The structure of `machine` as plain, JSON-safe data: states, events and every transition.
 *
 * @throws TypeError when `machine` was not created by `defineMachine`.
 * @example
 * ```ts
 * describe(order).transitions.filter((t) => t.from === 'created').map((t) => t.event);
 * // ['payment_succeeded', 'payment_failed', 'payment_timeout', 'user_cancelled']
 * ```
 */
export function describe<S extends string, ES extends EventSchemas, D, Fx extends string>(
  machine: Machine<S, ES, D, Fx>,
): MachineDescription {
  const internals = machineInternals(machine);
  const states: StateDescription[] = [];
  const transitions: TransitionDescription[] = [];
  for (const name of machine.states as readonly string[]) {
    const state = internals.states[name];
    if (state === undefined) continue;
    states.push({
      name,
      initial: name === machine.initial,
      terminal: state.terminal,
      entry: state.entry,
      timer: state.timer ?? null,
      description: state.description ?? null,
    });
    for (const event of state.allowed) {
      for (const alternative of state.on[event] ?? []) {
        transitions.push({
          from: name,
          event,
          to: alternative.target,
          guard: alternative.guardName ?? null,
          effects: alternative.effects,
          anyState: alternative.fromAnyState,
          timer: state.timer?.event === event,
          description: alternative.description ?? null,
        });
      }
    }
  }
  return {
    id: machine.id,
    version: machine.version,
    initial: machine.initial,
    description: internals.description ?? null,
    states,
    events: Object.entries(internals.schemas).map(([name, schema]) => ({
      name,
      schema: schema === null ? null : schema['~standard'].vendor,
    })),
    transitions,
  };
}
