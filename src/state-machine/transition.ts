/**
 * The pure transition function. It is compiled per machine over the lookup tables built by
 * `defineMachine`, so one call costs a state lookup, an event lookup, the guards of that event
 * and two small allocations (the result and the next snapshot). The errors the module raises about
 * events and snapshots are built here too, so that entities report them in the same words.
 */
import { describeValue, FlowproofError } from '../core/errors.js';
import {
  type SchemaValidation,
  type StandardSchemaV1,
  summariseIssues,
  validateChecked,
} from '../core/standard-schema.js';
import type {
  CompiledState,
  EventSchemas,
  Machine,
  MachineEvent,
  ReceivedEvent,
  Snapshot,
  TransitionResult,
} from './define-machine.js';

/** @internal An event as the transition function receives it. */
export interface AnyEvent {
  readonly type: string;
  readonly payload?: unknown;
}

/** @internal The compiled transition: snapshot and event in, next snapshot and effects out. */
export type TransitionFunction = (
  snapshot: Snapshot<string, unknown>,
  event: AnyEvent,
) => TransitionResult<string, unknown, string>;

/** Why {@link Machine.transition} refused an event; `details.reason` of `STATE_TRANSITION_DENIED`. */
export type DenialReason = 'unknown-event' | 'not-handled' | 'terminal' | 'guard';

/**
 * Computes the next snapshot of `machine`: the free-function form of
 * {@link Machine.transition}, for code that passes machines around.
 *
 * @throws FlowproofError `STATE_TRANSITION_DENIED`, `VALIDATION_FAILED` or
 * `MACHINE_VERSION_MISMATCH`, and TypeError for a malformed snapshot or event, a non-boolean guard
 * result or an asynchronous `assign`, as {@link Machine.transition}.
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
    // The comparisons the hot path makes anyway; the full shape check runs only when one fails, so
    // a malformed value is a TypeError and a well-formed foreign snapshot a version mismatch.
    const stateVersion = snapshot?.stateVersion;
    if (
      snapshot?.machineId !== id ||
      snapshot.version !== version ||
      typeof snapshot.state !== 'string' ||
      !(Number.isSafeInteger(stateVersion) && stateVersion > 0)
    ) {
      assertSnapshot(snapshot);
      throw versionMismatch(id, version, snapshot, 'migrate it first', {
        foundMachineId: snapshot.machineId,
      });
    }
    const node = states[snapshot.state];
    if (node === undefined) {
      throw versionMismatch(
        id,
        version,
        snapshot,
        `state "${String(snapshot.state)}" does not exist`,
        {
          state: snapshot.state,
        },
      );
    }
    assertEvent(event);
    const type = event.type;
    const alternatives = node.on[type];
    if (alternatives === undefined) {
      throw denied(
        id,
        node,
        type,
        !(type in schemas) ? 'unknown-event' : node.terminal ? 'terminal' : 'not-handled',
      );
    }
    let received = event as ReceivedEvent<EventSchemas>;
    const schema = validate && schemas[type];
    // Declared with null, validating: a payload would reach guards, assign and history unchecked.
    const result: SchemaValidation<unknown> | Promise<SchemaValidation<unknown>> | false = schema
      ? validateChecked(schema, event.payload)
      : validate &&
        event.payload !== undefined && {
          ok: false,
          issues: [{ path: [], code: 'invalid_type', message: 'the event takes no payload' }],
        };
    if (result instanceof Promise) {
      throw new TypeError(
        `The schema of event "${type}" is asynchronous: only the entities' apply() can await it`,
      );
    }
    if (result) {
      received = {
        type,
        payload: validOutput(result, `The payload of event "${type}"`, {
          machineId: id,
          event: type,
        }),
      } as ReceivedEvent<EventSchemas>;
    }
    let chosen = alternatives[0];
    if (chosen !== undefined && chosen.guard !== undefined) {
      chosen = undefined;
      for (const candidate of alternatives) {
        const passed: unknown =
          candidate.guard === undefined || candidate.guard(snapshot.data, received);
        // Truthiness would let `async () => false` (a Promise) or `'false'` pass the guard.
        if (typeof passed !== 'boolean') {
          throw misbehaved(
            `guard "${candidate.guardName}"`,
            `return a boolean, got ${describeValue(passed)}`,
            node,
            type,
          );
        }
        if (passed) {
          chosen = candidate;
          break;
        }
      }
    }
    if (chosen === undefined) throw denied(id, node, type, 'guard');
    let data = snapshot.data;
    if (chosen.assign !== undefined) {
      data = chosen.assign(data, received);
      // A promise would be stored as the data (and persisted as `{}`).
      if (typeof (data as PromiseLike<unknown> | null)?.then === 'function') {
        throw misbehaved('assign', 'be synchronous, got a promise', node, type);
      }
    }
    return {
      snapshot: {
        machineId: id,
        version,
        state: chosen.target,
        stateVersion: snapshot.stateVersion + 1,
        data,
      },
      effects: chosen.effects,
    };
  };
}

/**
 * @internal Throws a `TypeError` naming `snapshot` unless it has the shape of a snapshot: a string
 * `machineId` and `state`, and positive integers `version` and `stateVersion`. A malformed snapshot
 * is a programmer error (hand-built or not a snapshot at all), not a version to migrate: without the
 * check, `stateVersion: '1'` would become `'11'` and a missing `version` would skip migrations.
 */
export function assertSnapshot(snapshot: unknown): asserts snapshot is Snapshot<string, unknown> {
  const s = snapshot as Snapshot<string, unknown> | null | undefined;
  if (
    typeof s?.machineId !== 'string' ||
    typeof s.state !== 'string' ||
    !(Number.isSafeInteger(s.version) && s.version > 0) ||
    !(Number.isSafeInteger(s.stateVersion) && s.stateVersion > 0)
  ) {
    throw new TypeError(
      'snapshot must be an object with string machineId and state, positive integer version and stateVersion',
    );
  }
}

/** A `TypeError` for a guard or assign (`what`) of `event` in `node` that breaks its contract. */
function misbehaved(what: string, must: string, node: CompiledState, event: string): TypeError {
  return new TypeError(`The ${what} of event "${event}" in state "${node.name}" must ${must}`);
}

/** @internal Throws a `TypeError` unless `event` is an object with a string `type`. */
export function assertEvent(event: unknown): asserts event is AnyEvent {
  if (typeof event !== 'object' || typeof (event as AnyEvent | null)?.type !== 'string') {
    throw new TypeError('event must be an object with a string type');
  }
}

/**
 * @internal The schema's output, or `VALIDATION_FAILED`: "`what` is invalid: " and a summary of
 * the issues, with `details` and the issues as details.
 */
export function validOutput(
  result: SchemaValidation<unknown>,
  what: string,
  details: Readonly<Record<string, unknown>>,
): unknown {
  if (!result.ok) {
    throw new FlowproofError(
      'VALIDATION_FAILED',
      `${what} is invalid: ${summariseIssues(result.issues)}`,
      { details: { ...details, issues: result.issues } },
    );
  }
  return result.value;
}

/** @internal `STATE_TRANSITION_DENIED` for `event` in `node`. */
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

/**
 * @internal `MACHINE_VERSION_MISMATCH` for a snapshot that version `version` of machine `machineId`
 * cannot take, and why; `details` name the machine, the version expected and the version found.
 */
export function versionMismatch(
  machineId: string,
  version: number,
  snapshot: Snapshot<string, unknown>,
  why: string,
  details?: Readonly<Record<string, unknown>>,
): FlowproofError {
  return new FlowproofError(
    'MACHINE_VERSION_MISMATCH',
    `A snapshot of machine "${String(snapshot.machineId)}" version ${String(snapshot.version)} does not fit version ${version} of machine "${machineId}": ${why}`,
    { details: { machineId, expected: version, found: snapshot.version, ...details } },
  );
}
