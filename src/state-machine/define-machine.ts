/**
 * Machine definitions: states (one initial, some terminal), typed events whose payloads a Standard
 * Schema may validate, guarded transitions, transitions allowed from any non-terminal state,
 * declared effects, state deadlines, and the migrations that carry snapshots of older versions
 * forward. Everything is checked and compiled into lookup tables once, here, so that
 * {@link Machine.transition} does a few property reads per call.
 */
import { describeValue } from '../core/errors.js';
import { assertFunction, assertInteger, readable, readObject } from '../core/options.js';
import { processSingleton } from '../core/process-singleton.js';
import {
  type InferSchemaInput,
  type InferSchemaOutput,
  isStandardSchema,
  type StandardSchemaV1,
} from '../core/standard-schema.js';
import {
  assertSnapshot,
  compileTransition,
  readSnapshot,
  type TransitionFunction,
  validateSync,
  versionMismatch,
} from './transition.js';

/** Payload schema of each event: a Standard Schema, or `null` for an event without payload. */
export type EventSchemas = Readonly<Record<string, StandardSchemaV1 | null>>;

/** The names of the events in `ES`. */
export type EventName<ES extends EventSchemas> = keyof ES & string;

/**
 * An event as callers send it: `{ type }`, plus `payload` (the schema's input) when the event has
 * a schema.
 */
export type MachineEvent<ES extends EventSchemas> = {
  [E in EventName<ES>]: ES[E] extends StandardSchemaV1
    ? {
        /** The event's name. */
        readonly type: E;
        /** The payload, validated by the event's schema. */
        readonly payload: InferSchemaInput<ES[E]>;
      }
    : {
        /** The event's name. */
        readonly type: E;
        /** Events without a schema carry no payload. */
        readonly payload?: undefined;
      };
}[EventName<ES>];

/** An event as guards and `assign` see it: the payload is the schema's (validated) output. */
export type ReceivedEvent<ES extends EventSchemas, E extends EventName<ES> = EventName<ES>> = {
  [K in E]: {
    /** The event's name. */
    readonly type: K;
    /** The validated payload; `undefined` for an event without schema. */
    readonly payload: ES[K] extends StandardSchemaV1 ? InferSchemaOutput<ES[K]> : undefined;
  };
}[E];

/**
 * A machine's persisted position: which machine and version wrote it, the current state, how many
 * transitions led there (`stateVersion`, the optimistic-locking version) and the entity's data.
 */
export interface Snapshot<S extends string = string, D = unknown> {
  /** The machine's id. */
  readonly machineId: string;
  /** The version of the machine definition the snapshot belongs to. */
  readonly version: number;
  /** The current state. */
  readonly state: S;
  /** 1 for a new snapshot, incremented by every transition. */
  readonly stateVersion: number;
  /** The entity's data (the machine's "context"), replaced, never mutated, by `assign`. */
  readonly data: D;
}

/** What {@link Machine.transition} returns. */
export interface TransitionResult<
  S extends string = string,
  D = unknown,
  Fx extends string = string,
> {
  /** The next snapshot; the input snapshot is left untouched. */
  readonly snapshot: Snapshot<S, D>;
  /**
   * The effects declared on the transition and on the entered state's `entry`, in that order, for
   * the caller (or an outbox) to perform. The machine never performs them.
   */
  readonly effects: readonly Fx[];
}

/** A guard: a pure predicate over the current data and the received event. */
export type Guard<D, Ev> = (data: D, event: Ev) => boolean;

/** One transition: where an event leads, under which guard, with which data change and effects. */
export interface TransitionConfig<S extends string, D, Ev, Fx extends string> {
  /** The state entered. */
  readonly target: NoInfer<S>;
  /**
   * Must return `true` for the transition to be taken. Pure and synchronous: it is re-run when
   * history is replayed. Its function name labels it in diagrams. Returning anything but a
   * boolean (a Promise from an `async` guard, `'false'`, `0`) throws a `TypeError`.
   * @default no guard
   */
  readonly guard?: Guard<D, Ev>;
  /**
   * Returns the entity's next data. Pure and synchronous: never mutate `data`, return a new value.
   * Returning a Promise (or any thenable) throws a `TypeError`.
   * @default the data is kept
   */
  readonly assign?: (data: D, event: Ev) => D;
  /**
   * Effects this transition declares, e.g. `['sendConfirmationEmail']`.
   * @default []
   */
  readonly effects?: readonly NoInfer<Fx>[];
  /** A note for {@link describe} and diagrams. */
  readonly description?: string;
}

/**
 * What an event does in a state: a target state name, one transition, or several guarded
 * alternatives tried in order (the first whose guard passes, or that has none, is taken).
 */
export type TransitionSpec<S extends string, D, Ev, Fx extends string> =
  | NoInfer<S>
  | TransitionConfig<S, D, Ev, Fx>
  | readonly TransitionConfig<S, D, Ev, Fx>[];

/** Transitions of a state (or of every non-terminal state), keyed by event name. */
export type TransitionsConfig<S extends string, ES extends EventSchemas, D, Fx extends string> = {
  readonly [E in EventName<ES>]?: TransitionSpec<S, D, ReceivedEvent<ES, E>, Fx>;
};

/** A deadline: after `delayMs` in the state, a sweeper sends `event`. */
export interface StateTimerConfig<ES extends EventSchemas> {
  /**
   * How long the entity may stay in the state, in milliseconds: an integer from 0 to
   * 3_153_600_000_000 (100 years of 365 days), so that deadlines stay before year 10000, which
   * ISO-8601 text and SQL timestamps cannot hold.
   */
  readonly delayMs: number;
  /**
   * The event sent when the deadline passes. It must be declared without payload schema and be
   * handled by the state with an unguarded transition (or a last unguarded alternative), so that
   * firing always succeeds.
   */
  readonly event: NoInfer<EventName<ES>>;
}

/** One state. */
export interface StateConfig<S extends string, ES extends EventSchemas, D, Fx extends string> {
  /**
   * A final state: no event leaves it, not even those of `anyState`.
   * @default false
   */
  readonly terminal?: boolean;
  /**
   * The events this state handles.
   * @default {}
   */
  readonly on?: TransitionsConfig<S, ES, D, Fx>;
  /**
   * Effects declared whenever a transition enters this state from another one.
   * @default []
   */
  readonly entry?: readonly NoInfer<Fx>[];
  /**
   * A deadline for leaving the state, stored as an absolute time when the state is entered and
   * fired by a timer sweeper.
   * @default no deadline
   */
  readonly after?: StateTimerConfig<ES>;
  /** A note for {@link describe} and diagrams. */
  readonly description?: string;
}

/**
 * How snapshots of version `from` become snapshots of version `from + 1`. Registered on the newer
 * definition; loading an older snapshot applies every step in order.
 */
export interface SnapshotMigration {
  /** The version migrated from; the step leads to `from + 1`. */
  readonly from: number;
  /**
   * Renamed and removed states: old name → name in version `from + 1`. States not listed keep
   * their name (and must exist in the final version).
   * @default {}
   */
  readonly states?: Readonly<Record<string, string>>;
  /**
   * Converts the data. Receives the old data and the state name after renaming.
   * @default the data is kept
   */
  readonly data?: (data: unknown, state: string) => unknown;
}

/** What {@link defineMachine} takes. */
export interface MachineConfig<S extends string, ES extends EventSchemas, D, Fx extends string> {
  /** Stable identifier, stored with every snapshot (letters, digits, `_ . : -`). */
  readonly id: string;
  /**
   * The definition's version (integer ≥ 1). Raise it when states change meaning and register a
   * {@link SnapshotMigration} from the previous one.
   * @default 1
   */
  readonly version?: number;
  /** The state new entities start in. */
  readonly initial: NoInfer<S>;
  /** Every state, keyed by name. */
  readonly states: { readonly [K in S]: StateConfig<S, ES, D, Fx> };
  /** Every event, with its payload schema or `null`. */
  readonly events: ES;
  /**
   * Transitions allowed from every non-terminal state that does not handle the event itself,
   * e.g. `{ user_cancelled: 'cancelled' }`. A state's own `on.<event>` replaces the `anyState`
   * transition for that event, even when every guard of its own refuses (then the event is
   * denied); to fall back, repeat the target as the state's last, unguarded alternative. An
   * `anyState` event every non-terminal state handles itself would never fire: it is refused.
   * @default {}
   */
  readonly anyState?: TransitionsConfig<S, ES, D, Fx>;
  /**
   * Every effect name transitions and states may declare. When given, effect names are checked
   * (by the compiler and at definition time) against it.
   * @default any effect name is accepted
   */
  readonly effects?: readonly Fx[];
  /**
   * Validates an entity's data when it is created (`initialSnapshot()`, the entities'
   * `create()`); its output type is the data type.
   * @default no data (`undefined`)
   */
  readonly data?: StandardSchemaV1<unknown, D>;
  /**
   * Migrations from earlier versions, one per version step.
   * @default []
   */
  readonly migrations?: readonly SnapshotMigration[];
  /** A note for {@link describe} and diagrams. */
  readonly description?: string;
}

/**
 * A compiled, immutable machine definition. Create one with {@link defineMachine}.
 *
 * @typeParam S - the state names.
 * @typeParam ES - the event schemas.
 * @typeParam D - the entity's data.
 * @typeParam Fx - the effect names.
 */
export interface Machine<
  S extends string = string,
  ES extends EventSchemas = EventSchemas,
  D = unknown,
  Fx extends string = string,
> {
  /** The machine's id. */
  readonly id: string;
  /** The definition's version. */
  readonly version: number;
  /** The initial state. */
  readonly initial: S;
  /** Every state name, in definition order. */
  readonly states: readonly S[];
  /** The terminal states. */
  readonly terminalStates: readonly S[];
  /** Every event name, in definition order. */
  readonly events: readonly EventName<ES>[];
  /**
   * A new snapshot in the initial state at `stateVersion` 1. `data` is validated with the
   * machine's data schema, whose output the snapshot holds (as {@link MachineConfig.data} says).
   *
   * @throws FlowproofError `VALIDATION_FAILED` (`details.issues`) when the schema refuses `data`.
   * @throws TypeError when the data schema is asynchronous (the entities' `create()` awaits it).
   */
  initialSnapshot(...data: undefined extends D ? [data?: D] : [data: D]): Snapshot<S, D>;
  /**
   * The pure transition function: the next snapshot and the declared effects. Validates the
   * payload when the event has a (synchronous) schema. Never mutates its inputs.
   *
   * @throws FlowproofError `STATE_TRANSITION_DENIED` (details: `state`, `event`, `allowed`,
   * `reason`), `VALIDATION_FAILED` for an invalid payload (or any payload on an event declared
   * `null`), `MACHINE_VERSION_MISMATCH` for a snapshot of another machine or version.
   * @throws TypeError when `snapshot` is malformed (see {@link Machine.migrateSnapshot}), `event`
   * has no string `type`, either cannot be read (a revoked proxy, a getter that throws: the error
   * names it, with what reading threw as `cause`), a guard returns a non-boolean or an `assign`
   * returns a Promise. Errors your guards and `assign` throw themselves pass through unchanged.
   */
  transition(snapshot: Snapshot<S, D>, event: MachineEvent<ES>): TransitionResult<S, D, Fx>;
  /** The events `state` handles (before guards), in definition order; empty for terminal states. */
  allowedEvents(state: S): readonly EventName<ES>[];
  /** True when `state` is terminal. */
  isTerminal(state: S): boolean;
  /**
   * Brings a snapshot of an earlier version of this machine to this version through the
   * registered migrations; returns a snapshot of the current version unchanged.
   *
   * @throws FlowproofError `MACHINE_VERSION_MISMATCH` when it belongs to another machine, is newer,
   * lacks a migration step, or ends in a state this version does not have.
   * @throws TypeError naming `snapshot` when it is not a snapshot: `machineId` and `state` must be
   * strings, `version` and `stateVersion` positive integers (as {@link Machine.transition} checks).
   */
  migrateSnapshot(snapshot: Snapshot<string, unknown>): Snapshot<S, D>;
}

/** @internal A transition after compilation. */
export interface CompiledTransition {
  readonly target: string;
  readonly guard: Guard<unknown, ReceivedEvent<EventSchemas>> | undefined;
  readonly guardName: string | undefined;
  readonly assign: ((data: unknown, event: ReceivedEvent<EventSchemas>) => unknown) | undefined;
  /** Transition effects followed by the target's entry effects (frozen, shared). */
  readonly effects: readonly string[];
  readonly fromAnyState: boolean;
  readonly description: string | undefined;
}

/** @internal A state after compilation. */
export interface CompiledState {
  readonly name: string;
  readonly terminal: boolean;
  /** Null-prototype lookup: event name → alternatives. */
  readonly on: Readonly<Record<string, readonly CompiledTransition[]>>;
  readonly allowed: readonly string[];
  readonly timer: { readonly delayMs: number; readonly event: string } | undefined;
  readonly entry: readonly string[];
  readonly description: string | undefined;
}

/** @internal Everything the entity store logic, timers and diagrams need beyond the public API. */
export interface MachineInternals {
  readonly states: Readonly<Record<string, CompiledState>>;
  readonly schemas: Readonly<Record<string, StandardSchemaV1 | null>>;
  readonly dataSchema: StandardSchemaV1 | undefined;
  readonly description: string | undefined;
  /** The transition without payload validation (payloads were validated, or are being replayed). */
  readonly decide: TransitionFunction;
}

// Shared by every copy of flowproof (ESM and CommonJS builds): a machine defined through one is
// run by entities loaded through the other. Bump the version when MachineInternals changes shape.
const internals = processSingleton(
  'state-machine.internals',
  1,
  () => new WeakMap<object, MachineInternals>(),
);
const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,99}$/;
const EMPTY: readonly string[] = Object.freeze([]);
/**
 * The longest state deadline: 100 years of 365 days. Longer ones would fall after year 9999 (then
 * ISO-8601 strings gain a `+0…` year that breaks their order, and PostgreSQL refuses them).
 */
const MAX_DELAY_MS = 100 * 365 * 86_400_000;

/** @internal The compiled tables of `machine`; a `TypeError` naming `name` when it has none. */
export function machineInternals<S extends string, ES extends EventSchemas, D, Fx extends string>(
  machine: Machine<S, ES, D, Fx>,
  name = 'machine',
): MachineInternals {
  const found = internals.get(machine);
  check(found, `${name} must be created by defineMachine()`);
  return found;
}

/**
 * Defines and compiles a state machine. Every state, target, event, guard and timer is checked
 * here, once; a mistake throws a `TypeError` naming the offending option.
 *
 * @throws TypeError naming the option when the definition is invalid (unknown target, terminal
 * state with transitions, timer event that can be refused, misspelled option, `anyState` event
 * that never fires…) or cannot be read (a revoked proxy, a getter that throws).
 * @example
 * ```ts
 * const order = defineMachine({
 *   id: 'order',
 *   initial: 'created',
 *   events: {
 *     payment_succeeded: z.object({ transactionId: z.string() }),
 *     payment_failed: null,
 *     payment_timeout: null,
 *     items_picked: null,
 *     label_created: null,
 *     delivered: null,
 *     user_cancelled: null,
 *   },
 *   states: {
 *     created: {
 *       on: { payment_succeeded: 'paid', payment_failed: 'cancelled', payment_timeout: 'cancelled' },
 *       after: { delayMs: 30 * 60_000, event: 'payment_timeout' },
 *     },
 *     paid: { on: { items_picked: 'preparing' }, entry: ['sendConfirmationEmail'] },
 *     preparing: { on: { label_created: 'shipped' } },
 *     shipped: { on: { delivered: 'completed' } },
 *     completed: { terminal: true },
 *     cancelled: { terminal: true },
 *   },
 *   anyState: { user_cancelled: 'cancelled' },
 *   effects: ['sendConfirmationEmail'],
 * });
 * const { snapshot, effects } = order.transition(order.initialSnapshot(), {
 *   type: 'payment_succeeded',
 *   payload: { transactionId: 'tx_1' },
 * }); // snapshot.state === 'paid', effects: ['sendConfirmationEmail']
 * ```
 */
export function defineMachine<
  S extends string,
  ES extends EventSchemas,
  D = undefined,
  Fx extends string = string,
>(input: MachineConfig<S, ES, D, Fx>): Machine<S, ES, D, Fx> {
  // Read once into plain copies: a getter cannot answer differently later, and the definition
  // cannot be changed after it was checked.
  const config = readObject(
    input,
    'config',
    'id version initial states events anyState effects data migrations description',
  ) as unknown as MachineConfig<S, ES, D, Fx>;
  const id = assertName(config.id, 'config.id');
  const version = config.version ?? 1;
  assertInteger(version, 'config.version', 1, 1_000_000);
  const events = readObject(config.events, 'config.events');
  const stateConfigs = readObject(config.states, 'config.states');
  if (config.data !== undefined) assertSchema(config.data, 'config.data', '');

  const schemas: Record<string, StandardSchemaV1 | null> = Object.create(null);
  for (const [name, schema] of Object.entries(events) as [string, StandardSchemaV1 | null][]) {
    assertName(name, `config.events key "${name}"`);
    if (schema !== null) assertSchema(schema, `config.events.${name}`, ' or null (no payload)');
    schemas[name] = schema;
  }
  const knownEffects =
    config.effects === undefined
      ? undefined
      : new Set(effectList(config.effects, 'config.effects'));
  const checkedEffects = (value: unknown, name: string) => {
    const list = effectList(value, name);
    const unknown = knownEffects && list.find((effect) => !knownEffects.has(effect));
    check(!unknown, `${name}: effect "${unknown}" is not listed in config.effects`);
    return list;
  };
  const stateEntries = Object.entries(stateConfigs).map(([name, state]) => {
    assertName(name, `config.states key "${name}"`);
    const where = `config.states.${name}`;
    return [
      name,
      readObject(state, where, 'terminal on entry after description') as StateConfig<S, ES, D, Fx>,
    ] as const;
  });
  check(stateEntries.length > 0, 'config.states must not be empty');
  // State name → its entry effects; its keys are the machine's states.
  const entryEffects = new Map<string, readonly string[]>();
  for (const [name, state] of stateEntries) {
    entryEffects.set(name, checkedEffects(state.entry, `config.states.${name}.entry`));
  }
  const assertState = (value: unknown, name: string): string => {
    check(
      entryEffects.has(value as string),
      `${name} must be one of the states, got ${shown(value)}`,
    );
    return value as string;
  };
  assertState(config.initial, 'config.initial');

  const compileSpec = (
    spec: unknown,
    where: string,
    source: string,
    fromAnyState: boolean,
  ): readonly CompiledTransition[] => {
    const array = typeof spec === 'string' ? undefined : readArray(spec, where);
    const list: unknown[] = typeof spec === 'string' ? [{ target: spec }] : (array ?? [spec]);
    check(list.length > 0, `${where} must not be an empty array`);
    return list.map((value, index) => {
      const at = array ? `${where}[${index}]` : where;
      const item = readObject(value, at, 'target guard assign effects description');
      const target = assertState(item.target, `${at}.target`);
      const guard = item.guard as CompiledTransition['guard'];
      if (guard !== undefined) assertFunction(guard, `${at}.guard`);
      if (item.assign !== undefined) assertFunction(item.assign, `${at}.assign`);
      const own = checkedEffects(item.effects, `${at}.effects`);
      // Entry effects are declared on entering a state from another one.
      const entry = (target !== source && entryEffects.get(target)) || EMPTY;
      return {
        target,
        guard,
        guardName: guard && (readable(`${at}.guard`, () => guard.name) || 'guard'),
        assign: item.assign as CompiledTransition['assign'],
        effects:
          entry.length === 0 ? own : own.length === 0 ? entry : Object.freeze([...own, ...entry]),
        fromAnyState,
        description: optionalString(item.description),
      };
    });
  };
  // Copied into a null-prototype object so that events named `constructor`, `toString`… read
  // only what the user declared, never Object.prototype's functions.
  const handlers = (on: unknown, where: string): Record<string, unknown> => {
    if (on === undefined) return Object.create(null);
    const own = readObject(on, where);
    for (const event in own) {
      check(event in schemas, `${where}.${event} is not declared in config.events`);
    }
    return own;
  };
  const anyState = handlers(config.anyState, 'config.anyState');
  // The anyState events some state takes; the others would never fire.
  const reachable = new Set<string>();

  const states: Record<string, CompiledState> = Object.create(null);
  const terminalStates: S[] = [];
  for (const [name, state] of stateEntries) {
    const where = `config.states.${name}`;
    const terminal = state.terminal ?? false;
    check(typeof terminal === 'boolean', `${where}.terminal must be a boolean`);
    const ownOn = handlers(state.on, `${where}.on`);
    if (terminal) {
      check(
        Object.keys(ownOn).length === 0 && state.after === undefined,
        `${where} is terminal: it can have neither on nor after`,
      );
      terminalStates.push(name as S);
    }
    const on: Record<string, readonly CompiledTransition[]> = Object.create(null);
    // Declaration order of config.events gives a stable order for allowed events.
    for (const event in schemas) {
      const own = ownOn[event];
      if (own !== undefined) on[event] = compileSpec(own, `${where}.on.${event}`, name, false);
      else if (!terminal && anyState[event] !== undefined) {
        on[event] = compileSpec(anyState[event], `config.anyState.${event}`, name, true);
        reachable.add(event);
      }
    }
    const after =
      state.after === undefined
        ? undefined
        : (readObject(
            state.after,
            `${where}.after`,
            'delayMs event',
          ) as unknown as StateTimerConfig<ES>);
    if (after !== undefined) {
      assertInteger(after.delayMs, `${where}.after.delayMs`, 0, MAX_DELAY_MS);
      const event: unknown = after.event;
      const handled = typeof event === 'string' ? on[event] : undefined;
      // Firing must always succeed: no payload to give, no guard to refuse.
      check(
        handled && schemas[event as string] === null && !handled.at(-1)?.guard,
        `${where}.after.event must be an event the state handles, without payload schema (null), by an unguarded (last) transition, got ${shown(event)}`,
      );
    }
    states[name] = {
      name,
      terminal,
      on,
      allowed: Object.freeze(Object.keys(on)),
      // Frozen: describe() hands it out as it is.
      timer: after && Object.freeze({ delayMs: after.delayMs, event: after.event }),
      entry: entryEffects.get(name) ?? EMPTY,
      description: optionalString(state.description),
    };
  }

  for (const event in anyState) {
    // A state's own transitions for an event replace anyState's, guarded or not.
    check(
      reachable.has(event),
      `config.anyState.${event} never fires: every non-terminal state has its own on.${event}`,
    );
  }

  const migrations = compileMigrations(config.migrations, version, entryEffects);
  const dataSchema = config.data;
  const machine: Machine<S, ES, D, Fx> = Object.freeze({
    id,
    version,
    initial: config.initial,
    states: Object.freeze(stateEntries.map(([name]) => name as S)),
    terminalStates: Object.freeze(terminalStates),
    events: Object.freeze(Object.keys(schemas)) as readonly EventName<ES>[],
    initialSnapshot: (...args: [data?: D]) => ({
      machineId: id,
      version,
      state: config.initial,
      stateVersion: 1,
      data: (dataSchema
        ? validateSync(dataSchema, args[0], `The data of machine "${id}"`, 'create', {
            machineId: id,
          })
        : args[0]) as D,
    }),
    transition: compileTransition(id, version, states, schemas, true) as unknown as Machine<
      S,
      ES,
      D,
      Fx
    >['transition'],
    // Not a string (a symbol, a revoked proxy…): no state, rather than an error converting it.
    allowedEvents: (state: S) =>
      ((typeof state === 'string' && states[state]?.allowed) || EMPTY) as readonly EventName<ES>[],
    isTerminal: (state: S) => typeof state === 'string' && states[state]?.terminal === true,
    migrateSnapshot: (snapshot: Snapshot<string, unknown>) =>
      migrateSnapshot(id, version, entryEffects, migrations, snapshot) as Snapshot<S, D>,
  });
  internals.set(machine, {
    states,
    schemas,
    dataSchema,
    description: config.description,
    decide: compileTransition(id, version, states, schemas, false),
  });
  return machine;
}

/**
 * Throws a `TypeError` with `message` unless `condition` holds, so that each check of a definition
 * reads as the rule it enforces.
 */
function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new TypeError(message);
}

/** `value` for a message: a string as it is, anything else as {@link describeValue} puts it. */
function shown(value: unknown): string {
  return typeof value === 'string' ? value : describeValue(value);
}

/** A copy of `value` when it is an array (reading it may throw: a TypeError naming `name`). */
function readArray(value: unknown, name: string): unknown[] | undefined {
  return readable(name, () => (Array.isArray(value) ? [...value] : undefined));
}

function assertName(value: unknown, name: string): string {
  check(
    typeof value === 'string' && NAME.test(value),
    `${name} must be a string matching ${NAME}, got ${typeof value === 'string' ? `"${value}"` : describeValue(value)}`,
  );
  return value;
}

function assertSchema(value: unknown, name: string, orElse: string): void {
  check(
    readable(name, () => isStandardSchema(value)),
    `${name} must be a Standard Schema${orElse}, got ${describeValue(value)}`,
  );
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function effectList(value: unknown, name: string): readonly string[] {
  if (value === undefined) return EMPTY;
  // Not an array: refused below, like a list holding something other than a name.
  const list = readArray(value, name) ?? [0];
  check(
    list.every((effect) => typeof effect === 'string' && effect !== ''),
    `${name} must be an array of effect names`,
  );
  return list.length === 0 ? EMPTY : Object.freeze(list as string[]);
}

function compileMigrations(
  value: unknown,
  version: number,
  stateNames: ReadonlyMap<string, unknown>,
): ReadonlyMap<number, SnapshotMigration> {
  const steps = new Map<number, SnapshotMigration>();
  if (value === undefined) return steps;
  const list = readArray(value, 'config.migrations');
  check(list, 'config.migrations must be an array');
  list.forEach((value: unknown, index: number) => {
    const where = `config.migrations[${index}]`;
    const step = readObject(value, where, 'from states data');
    assertInteger(step.from, `${where}.from`, 1, version - 1);
    check(!steps.has(step.from), `${where}.from: version ${step.from} is migrated twice`);
    // A null-prototype copy: an unmapped state named `constructor` must not map to a function.
    const states =
      step.states === undefined ? Object.create(null) : readObject(step.states, `${where}.states`);
    for (const [from, to] of Object.entries(states)) {
      const target = assertName(to, `${where}.states.${from}`);
      check(
        step.from < version - 1 || stateNames.has(target),
        `${where}.states.${from} must name a state of version ${version}, got ${target}`,
      );
    }
    if (step.data !== undefined) assertFunction(step.data, `${where}.data`);
    steps.set(step.from, {
      ...(step as unknown as SnapshotMigration),
      states,
    } as SnapshotMigration);
  });
  return steps;
}

function migrateSnapshot(
  id: string,
  version: number,
  stateNames: ReadonlyMap<string, unknown>,
  migrations: ReadonlyMap<number, SnapshotMigration>,
  input: Snapshot<string, unknown>,
): Snapshot<string, unknown> {
  // Before any comparison: a missing or non-numeric version would otherwise skip every migration.
  const snapshot = readSnapshot(input);
  assertSnapshot(snapshot);
  const mismatch = (why: string, details?: Record<string, unknown>) =>
    versionMismatch(id, version, snapshot, why, details);
  if (snapshot.machineId !== id) {
    throw mismatch('it belongs to another machine', { foundMachineId: snapshot.machineId });
  }
  if (snapshot.version > version) throw mismatch('it is newer; deploy the newer definition');
  let { state, data } = snapshot;
  for (let from = snapshot.version; from < version; from += 1) {
    const step = migrations.get(from);
    if (!step) {
      throw mismatch(`no migration is registered from version ${from} to ${from + 1}`, {
        missingFrom: from,
      });
    }
    state = step.states?.[state] ?? state;
    if (step.data) data = step.data(data, state);
  }
  if (!stateNames.has(state)) {
    throw mismatch(`state "${state}" does not exist and no migration maps it`, { state });
  }
  if (state === snapshot.state && data === snapshot.data && snapshot.version === version) {
    return input;
  }
  return { machineId: id, version, state, stateVersion: snapshot.stateVersion, data };
}
