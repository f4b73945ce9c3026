/**
 * The pure transition function. It is compiled per machine over the lookup tables built by
 * `defineMachine`, so one call costs a state lookup, an event lookup, the guards of that event
 * and two small allocations (the result and the next snapshot).
 */
import { FlowproofError } from '../core/errors.js';
import type { StandardSchemaV1 } from '../core/standard-schema.js';
import { summariseIssues, validateWithSchema } from '../core/standard-schema.js';
import type {
  CompiledState,
  EventSchemas,
  Machine,
  MachineEvent,
  ReceivedEvent,
  Snapshot,
  TransitionResult,
} from './define-machine.js';

/** @internal The compiled transition: snapshot and event in, next snapshot and effects out. */
export type TransitionFunction = (
  snapshot: Snapshot<string, unknown>,
  event: { readonly type: string; readonly payload?: unknown },
) => TransitionResult<string, unknown, string>;

/** Why {@link Machine.transition} refused an event; `details.reason` of `STATE_TRANSITION_DENIED`. */
export type DenialReason = 'unknown-event' | 'not-handled' | 'terminal' | 'guard';

/**
 * Computes the next snapshot of `machine`: the free-function form of
 * {@link Machine.transition}, for code that passes machines around.
 *
 * @throws FlowproofError `STATE_TRANSITION_DENIED`, `VALIDATION_FAILED` or
 * `MACHINE_VERSION_MISMATCH`, as {@link Machine.transition}.
 * @example
 * ```ts
 * const { snapshot, effects } = transition(order, current, { type: 'items_picked' });
 * ```
 */
export function transition<S extends string, ES extends EventSchemas, D, Fx extends string>(
  machine: Machine<S, ES, D, Fx>,
  snapshot: Snapshot<S, D>,
  event: MachineEvent<ES>,
): TransitionResult<S, D, Fx> {
  return machine.transition(snapshot, event);
}

/** @internal Builds the transition function of one machine. */
export function compileTransition(
  id: string,
  version: number,
  states: Readonly<Record<string, CompiledState>>,
  schemas: Readonly<Record<string, StandardSchemaV1 | null>>,
  validate: boolean,
): TransitionFunction {
  return (snapshot, event) => {
    if (snapshot.machineId !== id || snapshot.version !== version) {
      throw versionMismatch(id, version, snapshot);
    }
    const node = states[snapshot.state];
    if (node === undefined) throw unknownState(id, version, snapshot.state);
    if (typeof event !== 'object' || event === null || typeof event.type !== 'string') {
      throw new TypeError('event must be an object with a string type');
    }
    const type = event.type;
    const alternatives = node.on[type];
    if (alternatives === undefined) {
      const reason: DenialReason = !(type in schemas)
        ? 'unknown-event'
        : node.terminal
          ? 'terminal'
          : 'not-handled';
      throw denied(id, node, type, reason);
    }
    let received = event as ReceivedEvent<EventSchemas>;
    if (validate) {
      const schema = schemas[type];
      if (schema) received = validatePayload(schema, type, event.payload);
    }
    let chosen = alternatives[0];
    if (chosen !== undefined && chosen.guard !== undefined) {
      chosen = undefined;
      for (const candidate of alternatives) {
        if (candidate.guard === undefined || candidate.guard(snapshot.data, received)) {
          chosen = candidate;
          break;
        }
      }
    }
    if (chosen === undefined) throw denied(id, node, type, 'guard');
    return {
      snapshot: {
        machineId: id,
        version,
        state: chosen.target,
        stateVersion: snapshot.stateVersion + 1,
        data: chosen.assign === undefined ? snapshot.data : chosen.assign(snapshot.data, received),
      },
      effects: chosen.effects,
    };
  };
}

function validatePayload(
  schema: StandardSchemaV1,
  type: string,
  payload: unknown,
): ReceivedEvent<EventSchemas> {
  const result = validateWithSchema(schema, payload);
  if (result instanceof Promise) {
    throw new TypeError(
      `The schema of event "${type}" is asynchronous: validate the payload first, or use the entity store's apply()`,
    );
  }
  if (!result.ok) {
    throw new FlowproofError(
      'VALIDATION_FAILED',
      `The payload of event "${type}" is invalid: ${summariseIssues(result.issues)}`,
      { details: { event: type, issues: result.issues } },
    );
  }
  return { type, payload: result.value } as ReceivedEvent<EventSchemas>;
}

/** @internal */
export function denied(
  machineId: string,
  node: CompiledState,
  event: string,
  reason: DenialReason,
): FlowproofError {
  const why =
    reason === 'guard'
      ? 'every guard refused it'
      : reason === 'terminal'
        ? 'the state is terminal'
        : reason === 'unknown-event'
          ? 'the machine has no such event'
          : `allowed: ${node.allowed.join(', ') || 'none'}`;
  return new FlowproofError(
    'STATE_TRANSITION_DENIED',
    `Event "${event}" is not allowed in state "${node.name}" of machine "${machineId}" (${why})`,
    { details: { machineId, state: node.name, event, allowed: node.allowed, reason } },
  );
}

function versionMismatch(
  id: string,
  version: number,
  snapshot: Snapshot<string, unknown>,
): FlowproofError {
  return new FlowproofError(
    'MACHINE_VERSION_MISMATCH',
    `The snapshot belongs to machine "${String(snapshot.machineId)}" version ${String(snapshot.version)}, not "${id}" version ${version}: migrate it first`,
    {
      details: {
        machineId: id,
        expected: version,
        found: snapshot.version,
        foundMachineId: snapshot.machineId,
      },
    },
  );
}

function unknownState(id: string, version: number, state: string): FlowproofError {
  return new FlowproofError(
    'MACHINE_VERSION_MISMATCH',
    `State "${String(state)}" does not exist in version ${version} of machine "${id}"`,
    { details: { machineId: id, expected: version, found: version, state } },
  );
}
