/**
 * The pure transition function. It is compiled per machine over the lookup tables built by
 * `defineMachine`, so one call costs a state lookup, an event lookup, the guards of that event
 * and two small allocations (the result and the next snapshot). The errors the module raises about
 * events and snapshots are built here too, so that entities report them in the same words.
 */
import { describeValue, FlowproofError } from '../core/errors.js';
import { readable, unreadable } from '../core/options.js';
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
  return (input, event) => {
    // Each field is read once, so a getter or proxy cannot change it between checks, and a value
    // that cannot be read at all (a revoked proxy) is a TypeError naming it.
    const snapshot = readSnapshot(input);
    // A malformed value is a TypeError; a well-formed foreign snapshot a version mismatch.
    assertSnapshot(snapshot);
    if (snapshot.machineId !== id || snapshot.version !== version) {
      throw versionMismatch(id, version, snapshot, 'migrate it first', {
        foundMachineId: snapshot.machineId,
      });
    }
    const node = states[snapshot.state];
    if (node === undefined) {
      throw versionMismatch(id, version, snapshot, `state "${snapshot.state}" does not exist`, {
        state: snapshot.state,
      });
    }
    const read = readEvent(event);
    const { type, payload } = read;
    const alternatives = node.on[type];
    if (alternatives === undefined) {
      throw denied(
        id,
        node,
        type,
        !(type in schemas) ? 'unknown-event' : node.terminal ? 'terminal' : 'not-handled',
      );
    }
    let received = read as ReceivedEvent<EventSchemas>;
    const schema = validate && schemas[type];
    if (schema) {
      received = {
        type,
        payload: validateSync(schema, payload, `The payload of event "${type}"`, 'apply', {
          machineId: id,
          event: type,
        }),
      } as ReceivedEvent<EventSchemas>;
    } else if (validate && payload !== undefined) {
      // Declared with null: a payload would reach guards, assign and history unchecked.
      validOutput(
        {
          ok: false,
          issues: [{ path: [], code: 'invalid_type', message: 'the event takes no payload' }],
        },
        `The payload of event "${type}"`,
        { machineId: id, event: type },
      );
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

/**
 * @internal A plain copy of `snapshot`'s fields, each read once (a getter cannot answer
 * differently later), or a `TypeError` naming `snapshot` when it cannot be read. Its shape is
 * left to {@link assertSnapshot}.
 */
export function readSnapshot(input: unknown): Snapshot<string, unknown> {
  // No closure (unlike readable()): this runs on every transition.
  try {
    const { machineId, version, state, stateVersion, data } = Object(input);
    return { machineId, version, state, stateVersion, data };
  } catch (cause) {
    throw unreadable('snapshot', cause);
  }
}

/**
 * @internal `event`'s `type` and `payload`, each read once, or a `TypeError` naming `event` unless
 * it is an object with a string `type` that can be read.
 */
export function readEvent(event: unknown): AnyEvent {
  let read: AnyEvent;
  try {
    const { type, payload } = Object(event);
    read = { type, payload };
  } catch (cause) {
    throw unreadable('event', cause);
  }
  if (typeof event !== 'object' || typeof read.type !== 'string') {
    throw new TypeError('event must be an object with a string type');
  }
  return read;
}

/**
 * @internal The output of the synchronous `schema` for `value`, or `VALIDATION_FAILED` for `what`
 * (as {@link validOutput}). An asynchronous schema is a `TypeError`: only the entities' `awaitedBy`
 * method can await it.
 */
export function validateSync(
  schema: StandardSchemaV1,
  value: unknown,
  what: string,
  awaitedBy: string,
  details: Readonly<Record<string, unknown>>,
): unknown {
  const result = readable(what, () => validateChecked(schema, value));
  if (result instanceof Promise) {
    // Not awaited: a rejection (zod rejects values it cannot read) must not go unhandled.
    result.catch(() => {});
    throw new TypeError(
      `${what} has an asynchronous schema: only the entities' ${awaitedBy}() can await it`,
    );
  }
  return validOutput(result, what, details);
}

/**
 * @internal The schema's output, or `VALIDATION_FAILED`: "`what` is invalid: " and a summary of
 * the issues, with `details` and the issues as details.
 */
export function validOutput(
  result: SchemaValidation<unknown>,
  what: string,
  details: Readonly<Record<string, unknown>>,
  cause?: unknown,
): unknown {
  if (!result.ok) {
    throw new FlowproofError(
      'VALIDATION_FAILED',
      `${what} is invalid: ${summariseIssues(result.issues)}`,
      { details: { ...details, issues: result.issues }, cause },
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
    `A snapshot of machine "${snapshot.machineId}" version ${snapshot.version} does not fit version ${version} of machine "${machineId}": ${why}`,
    { details: { machineId, expected: version, found: snapshot.version, ...details } },
  );
}
