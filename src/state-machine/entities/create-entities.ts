/**
 * Persisted entities: a machine over an {@link EntityStore}. Applying an event loads the entity,
 * decides with the pure transition function and writes with one compare-and-set on its version,
 * appending the history row in the same transaction. A stale writer gets `VERSION_CONFLICT`;
 * {@link Entities.applyWithRetry} re-reads and decides again.
 */
import { sleep } from '../../core/async.js';
import { type Actor, getContext } from '../../core/context.js';
import { FlowproofError, type FlowproofErrorCode, isFlowproofError } from '../../core/errors.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../../core/logger.js';
import {
  assertFunction,
  assertInteger,
  assertNonEmptyString,
  assertOptionsObject,
} from '../../core/options.js';
import { validateWithSchema } from '../../core/standard-schema.js';
import { withSpan } from '../../core/tracing.js';
import {
  type EventSchemas,
  type Machine,
  type MachineEvent,
  type MachineInternals,
  machineInternals,
  type Snapshot,
} from '../define-machine.js';
import { type AnyEvent, assertEvent, validOutput } from '../transition.js';
import type {
  DueTimer,
  EntityStore,
  EntityTimer,
  HistoryRecord,
  StoredEntity,
} from './entity-store.js';

/** A persisted entity: its snapshot plus id, pending deadline and timestamps. */
export interface Entity<S extends string = string, D = unknown> extends Snapshot<S, D> {
  /** The entity's id, unique per machine. */
  readonly id: string;
  /** The current state's pending deadline, if it has one. */
  readonly timer: EntityTimer | null;
  /** When the entity was created (UTC ISO-8601). */
  readonly createdAt: string;
  /** When it was last written (UTC ISO-8601). */
  readonly updatedAt: string;
}

/** What {@link Entities.apply} returns. */
export interface ApplyResult<S extends string = string, D = unknown, Fx extends string = string> {
  /** The entity as written. */
  readonly entity: Entity<S, D>;
  /** The state before the event. */
  readonly from: S;
  /** The effects the transition declared, for the caller or an outbox to perform. */
  readonly effects: readonly Fx[];
}

/** Options of {@link Entities.apply}. */
export interface ApplyOptions {
  /**
   * The `stateVersion` the caller decided on (e.g. the version shown in a form, or sent as an
   * `If-Match` header). When the stored entity has another, the event is refused with
   * `VERSION_CONFLICT` without being evaluated.
   * @default the version read by this call
   */
  readonly expectedVersion?: number;
}

/** Options of {@link Entities.applyWithRetry}. */
export interface RetryOptions {
  /**
   * How many times to try in all, the first included.
   * @default 5
   */
  readonly attempts?: number;
  /**
   * The first wait after a conflict, doubled after each further one, with ±50 % jitter.
   * @default 10
   */
  readonly backoffMs?: number;
  /** Stops waiting and retrying; the signal's reason is thrown. */
  readonly signal?: AbortSignal;
}

/** Options of {@link Entities.history}. */
export interface HistoryOptions {
  /**
   * Where to continue: the `nextCursor` of the previous page.
   * @default the first row
   */
  readonly cursor?: string;
  /**
   * Rows per page, 1 to 1000.
   * @default 100
   */
  readonly limit?: number;
}

/** One page of an entity's history. */
export interface HistoryPage {
  /** The rows, oldest first. */
  readonly entries: readonly HistoryRecord[];
  /** Pass it as `cursor` to read the next page; absent on the last page. */
  readonly nextCursor?: string;
}

/** Decides which event to apply to the current entity, or `undefined` to apply none. */
export type Decider<S extends string, ES extends EventSchemas, D> = (
  entity: Entity<S, D>,
) => MachineEvent<ES> | undefined | Promise<MachineEvent<ES> | undefined>;

/** Options of {@link createEntities}. */
export interface EntitiesOptions<S extends string, ES extends EventSchemas, D, Fx extends string> {
  /** The machine every entity of this collection follows. */
  readonly machine: Machine<S, ES, D, Fx>;
  /** Where entities and their history are kept (run `store.migrate()` once at start-up). */
  readonly store: EntityStore;
  /**
   * A pino-compatible logger for transitions and conflicts (debug level).
   * @default silentLogger
   */
  readonly logger?: Logger;
}

/** The entities of one machine in one store. Create with {@link createEntities}. */
export interface Entities<S extends string, ES extends EventSchemas, D, Fx extends string> {
  /** The machine. */
  readonly machine: Machine<S, ES, D, Fx>;
  /** The store. */
  readonly store: EntityStore;
  /**
   * Creates an entity in the initial state, validating `data` with the machine's data schema,
   * arming the initial state's deadline and recording a `@create` history row.
   *
   * @throws FlowproofError `ENTITY_EXISTS`, `VALIDATION_FAILED`.
   */
  create(id: string, ...data: undefined extends D ? [data?: D] : [data: D]): Promise<Entity<S, D>>;
  /**
   * The entity, migrated in memory to the machine's version, or `undefined`.
   *
   * @throws FlowproofError `MACHINE_VERSION_MISMATCH` when it cannot be migrated.
   */
  get(id: string): Promise<Entity<S, D> | undefined>;
  /**
   * Like {@link Entities.get}, but a missing entity is an error.
   *
   * @throws FlowproofError `ENTITY_NOT_FOUND`, `MACHINE_VERSION_MISMATCH`.
   */
  load(id: string): Promise<Entity<S, D>>;
  /**
   * Applies one event: load, decide, compare-and-set with the history row. An entity of an older
   * machine version is first migrated and that migration persisted (a `@migrate` history row).
   *
   * @throws FlowproofError `VERSION_CONFLICT` (another writer won), `STATE_TRANSITION_DENIED`,
   * `VALIDATION_FAILED` (payload), `ENTITY_NOT_FOUND`, `MACHINE_VERSION_MISMATCH`.
   */
  apply(
    id: string,
    event: MachineEvent<ES>,
    options?: ApplyOptions,
  ): Promise<ApplyResult<S, D, Fx>>;
  /**
   * Applies `event`, re-reading and deciding again after each `VERSION_CONFLICT`, up to
   * `attempts` times. An event the fresh state refuses fails with `STATE_TRANSITION_DENIED`.
   *
   * @throws FlowproofError as {@link Entities.apply}; `VERSION_CONFLICT` once attempts run out.
   */
  applyWithRetry(
    id: string,
    event: MachineEvent<ES>,
    options?: RetryOptions,
  ): Promise<ApplyResult<S, D, Fx>>;
  /**
   * Calls `decide` with the current entity and applies the event it returns (none: resolves
   * `undefined`), re-reading and deciding again after each `VERSION_CONFLICT`.
   *
   * @throws FlowproofError as {@link Entities.apply}; `VERSION_CONFLICT` once attempts run out.
   */
  applyWithRetry(
    id: string,
    decide: Decider<S, ES, D>,
    options?: RetryOptions,
  ): Promise<ApplyResult<S, D, Fx> | undefined>;
  /** One page of the entity's history, oldest first; empty for an unknown entity. */
  history(id: string, options?: HistoryOptions): Promise<HistoryPage>;
  /**
   * Rebuilds the snapshot from history: the last checkpoint (`@create` or `@migrate`), then every
   * later event replayed through the transition function. Equals the stored snapshot unless the
   * store was changed behind flowproof's back or a guard or `assign` is not pure.
   *
   * @throws FlowproofError `ENTITY_NOT_FOUND`, `MACHINE_VERSION_MISMATCH` when the history since
   * the checkpoint was written by another machine version (call {@link Entities.upgrade} first).
   */
  rebuild(id: string): Promise<Snapshot<S, D>>;
  /**
   * Persists the migration of an entity written by an older machine version (a `@migrate` row);
   * returns an up-to-date entity unchanged.
   *
   * @throws FlowproofError `ENTITY_NOT_FOUND`, `MACHINE_VERSION_MISMATCH`, `VERSION_CONFLICT`.
   */
  upgrade(id: string): Promise<Entity<S, D>>;
  /**
   * The same entities over another store, typically one bound to the caller's transaction
   * (`store.withBackend(tx)`), so the entity's change commits or rolls back with the caller's.
   */
  withStore(store: EntityStore): Entities<S, ES, D, Fx>;
}

const TIMER_ACTOR: Actor = Object.freeze({ id: 'flowproof-timer', type: 'system' });
const CURSOR = /^[1-9]\d{0,14}$/;
/** Rows per `listHistory` call when {@link Entities.rebuild} reads a whole history. */
const REBUILD_PAGE = 500;

/** @internal How the timer sweeper fires a due timer; `false` when it is no longer due. */
export type TimerFirer = (due: DueTimer, now: Date) => Promise<boolean>;
const timerFirers = new WeakMap<object, TimerFirer>();

/** @internal */
export function timerFirerOf(entities: object): TimerFirer {
  const fire = timerFirers.get(entities);
  if (!fire) throw new TypeError('entities must be created by createEntities()');
  return fire;
}

/**
 * Puts a machine's entities on a store.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const store = createSqliteEntityStore({ backend });
 * await store.migrate();
 * const orders = createEntities({ machine: order, store });
 *
 * await orders.create('ord_1');
 * const { entity, effects } = await orders.apply('ord_1', {
 *   type: 'payment_succeeded',
 *   payload: { transactionId: 'tx_1' },
 * });
 * // entity.state === 'paid', entity.stateVersion === 2, effects: ['sendConfirmationEmail']
 * ```
 */
export function createEntities<S extends string, ES extends EventSchemas, D, Fx extends string>(
  options: EntitiesOptions<S, ES, D, Fx>,
): Entities<S, ES, D, Fx> {
  assertOptionsObject(options, 'options');
  const internals = machineInternals(options.machine);
  assertStore(options.store, 'options.store');
  const logger = options.logger ?? silentLogger;
  assertLogger(logger, 'options.logger');
  return entitiesOn(options.machine, internals, options.store, logger);
}

/**
 * The entities of `machine` in `store`. A closure rather than a class: every operation shares the
 * machine's compiled tables, the store and the logger without going through `this`.
 */
function entitiesOn<S extends string, ES extends EventSchemas, D, Fx extends string>(
  machine: Machine<S, ES, D, Fx>,
  internals: MachineInternals,
  store: EntityStore,
  logger: Logger,
): Entities<S, ES, D, Fx> {
  const { id: machineId, version } = machine;

  const debug = (fields: Record<string, unknown>, message: string) =>
    logEvent(logger, 'debug', fields, message);
  /** An error about entity `id`: the message and the details name the entity and the machine. */
  const entityError = (
    code: FlowproofErrorCode,
    id: string,
    what: string,
    details?: Record<string, unknown>,
  ) =>
    new FlowproofError(code, `Entity "${id}" of machine "${machineId}" ${what}`, {
      details: { machineId, entityId: id, ...details },
    });
  const conflict = (id: string, expectedVersion: number, foundVersion?: number) => {
    debug({ machineId, entityId: id, expectedVersion }, 'version conflict');
    return entityError(
      'VERSION_CONFLICT',
      id,
      `was changed by another writer since version ${expectedVersion}: read it again and decide again`,
      foundVersion === undefined ? { expectedVersion } : { expectedVersion, foundVersion },
    );
  };

  const loadStored = async (id: string): Promise<StoredEntity> => {
    assertEntityId(id);
    const stored = await store.load(machineId, id);
    if (stored === undefined) throw entityError('ENTITY_NOT_FOUND', id, 'does not exist');
    return stored;
  };
  /** The entity as callers see it: migrated in memory when an older machine version wrote it. */
  const view = (stored: StoredEntity): Entity<S, D> => {
    const { state, stateVersion, data } =
      stored.machineVersion === version ? stored : machine.migrateSnapshot(snapshotOf(stored));
    return {
      machineId,
      version,
      state: state as S,
      stateVersion,
      data: data as D,
      id: stored.id,
      timer: stored.timer,
      createdAt: stored.createdAt,
      updatedAt: stored.updatedAt,
    };
  };
  /** Validates the payload (awaiting asynchronous schemas); unknown events are left to decide(). */
  const validateEvent = async (event: unknown): Promise<AnyEvent> => {
    assertEvent(event);
    const schema = internals.schemas[event.type];
    if (!schema) return event;
    const result = await validateWithSchema(schema, event.payload);
    return {
      type: event.type,
      payload: validOutput(result, `The payload of event "${event.type}"`, {
        machineId,
        event: event.type,
      }),
    };
  };

  /** The row of entity `id` in `snapshot`'s position, written `now` by this machine version. */
  const row = (
    id: string,
    snapshot: Pick<Snapshot, 'state' | 'stateVersion' | 'data'>,
    now: Date,
    createdAt?: string,
  ): StoredEntity => {
    const at = now.toISOString();
    const timer = internals.states[snapshot.state]?.timer;
    return {
      machineId,
      id,
      machineVersion: version,
      state: snapshot.state,
      stateVersion: snapshot.stateVersion,
      data: snapshot.data,
      timer: timer
        ? { at: new Date(now.getTime() + timer.delayMs).toISOString(), event: timer.event }
        : null,
      createdAt: createdAt ?? at,
      updatedAt: at,
    };
  };
  /** The history row recording how `entity` was written: from `from` by `event`. */
  const record = (
    entity: StoredEntity,
    from: string | null,
    event: string,
    payload: unknown,
    actor?: Actor,
  ): HistoryRecord => {
    const context = getContext();
    const who = actor ?? context?.actor;
    return {
      machineId,
      entityId: entity.id,
      stateVersion: entity.stateVersion,
      machineVersion: entity.machineVersion,
      from,
      to: entity.state,
      event,
      payload,
      actor:
        who === undefined
          ? null
          : who.type === undefined
            ? { id: who.id }
            : { id: who.id, type: who.type },
      correlationId: context?.correlationId ?? null,
      at: entity.updatedAt,
    };
  };
  /** Replaces `previous` by `entity` with one compare-and-set, appending the history row. */
  const write = async (
    previous: StoredEntity,
    entity: StoredEntity,
    event: string,
    payload: unknown,
    actor?: Actor,
  ) => {
    const written = await store.compareAndSet({
      entity,
      expectedVersion: previous.stateVersion,
      history: record(entity, previous.state, event, payload, actor),
    });
    if (!written) throw conflict(previous.id, previous.stateVersion);
  };

  const persistMigration = async (stored: StoredEntity): Promise<StoredEntity> => {
    const migrated = machine.migrateSnapshot(snapshotOf(stored));
    const next = row(
      stored.id,
      { ...migrated, stateVersion: stored.stateVersion + 1 },
      await store.now(),
      stored.createdAt,
    );
    // A deadline already running keeps its due time; the event is the new version's.
    const entity =
      next.timer && stored.timer
        ? { ...next, timer: { at: stored.timer.at, event: next.timer.event } }
        : next;
    await write(stored, entity, '@migrate', migrated.data);
    debug(
      { machineId, entityId: stored.id, fromVersion: stored.machineVersion, toVersion: version },
      'entity migrated',
    );
    return entity;
  };

  const applyTo = async (
    loaded: StoredEntity,
    received: AnyEvent,
    actor?: Actor,
  ): Promise<ApplyResult<S, D, Fx>> => {
    const stored = loaded.machineVersion === version ? loaded : await persistMigration(loaded);
    return withSpan(
      'flowproof.state_machine.apply',
      { 'flowproof.machine': machineId, 'flowproof.event': received.type },
      async (span) => {
        const { snapshot, effects } = internals.decide(snapshotOf(stored), received);
        const entity = row(stored.id, snapshot, await store.now(), stored.createdAt);
        await write(stored, entity, received.type, received.payload, actor);
        span.setAttribute('flowproof.state', entity.state);
        debug(
          {
            machineId,
            entityId: stored.id,
            event: received.type,
            from: stored.state,
            to: entity.state,
            stateVersion: entity.stateVersion,
          },
          'state transition',
        );
        return { entity: view(entity), from: stored.state as S, effects: effects as readonly Fx[] };
      },
    );
  };

  async function applyWithRetry(
    id: string,
    eventOrDecide: MachineEvent<ES> | Decider<S, ES, D>,
    options: RetryOptions = {},
  ): Promise<ApplyResult<S, D, Fx> | undefined> {
    assertEntityId(id);
    assertOptionsObject(options, 'options');
    const attempts = options.attempts ?? 5;
    assertInteger(attempts, 'options.attempts', 1, 1000);
    const backoffMs = options.backoffMs ?? 10;
    assertInteger(backoffMs, 'options.backoffMs', 0, 60_000);
    const decide = typeof eventOrDecide === 'function' ? eventOrDecide : undefined;
    const fixed = decide ? undefined : await validateEvent(eventOrDecide);
    for (let attempt = 1; ; attempt += 1) {
      options.signal?.throwIfAborted();
      try {
        const stored = await loadStored(id);
        let received = fixed;
        if (decide) {
          const event = await decide(view(stored));
          if (event === undefined) return undefined;
          received = await validateEvent(event);
        }
        return await applyTo(stored, received as AnyEvent);
      } catch (error) {
        if (!isFlowproofError(error, 'VERSION_CONFLICT') || attempt >= attempts) throw error;
        const wait = backoffMs * 2 ** (attempt - 1);
        await sleep(Math.round(wait * (0.5 + Math.random())), options.signal);
      }
    }
  }

  const entities: Entities<S, ES, D, Fx> = {
    machine,
    store,
    withStore(other) {
      assertStore(other, 'store');
      return entitiesOn(machine, internals, other, logger);
    },

    async create(id, ...args) {
      assertEntityId(id);
      let data: unknown = args[0];
      const schema = internals.dataSchema;
      if (schema) {
        data = validOutput(
          await validateWithSchema(schema, data),
          `The data of entity "${id}" of machine "${machineId}"`,
          { machineId, entityId: id },
        );
      }
      return withSpan(
        'flowproof.state_machine.create',
        { 'flowproof.machine': machineId },
        async () => {
          const entity = row(
            id,
            { state: machine.initial, stateVersion: 1, data },
            await store.now(),
          );
          if (!(await store.insert({ entity, history: record(entity, null, '@create', data) }))) {
            throw entityError('ENTITY_EXISTS', id, 'already exists');
          }
          debug({ machineId, entityId: id }, 'entity created');
          return view(entity);
        },
      );
    },

    async get(id) {
      assertEntityId(id);
      const stored = await store.load(machineId, id);
      return stored && view(stored);
    },

    async load(id) {
      return view(await loadStored(id));
    },

    async apply(id, event, options = {}) {
      assertEntityId(id);
      assertOptionsObject(options, 'options');
      const expected = options.expectedVersion;
      if (expected !== undefined) assertInteger(expected, 'options.expectedVersion', 1);
      const received = await validateEvent(event);
      const stored = await loadStored(id);
      if (expected !== undefined && expected !== stored.stateVersion) {
        throw conflict(id, expected, stored.stateVersion);
      }
      return applyTo(stored, received);
    },

    applyWithRetry: applyWithRetry as Entities<S, ES, D, Fx>['applyWithRetry'],

    async history(id, options = {}) {
      assertEntityId(id);
      assertOptionsObject(options, 'options');
      const limit = options.limit ?? 100;
      assertInteger(limit, 'options.limit', 1, 1000);
      const cursor = options.cursor;
      if (cursor !== undefined && !(typeof cursor === 'string' && CURSOR.test(cursor))) {
        throw new TypeError('options.cursor must be a nextCursor returned by history()');
      }
      const rows = await store.listHistory({
        machineId,
        entityId: id,
        afterStateVersion: Number(cursor ?? 0),
        limit: limit + 1,
      });
      if (rows.length <= limit) return { entries: rows };
      const entries = rows.slice(0, limit);
      return { entries, nextCursor: String(entries.at(-1)?.stateVersion) };
    },

    async rebuild(id) {
      await loadStored(id);
      const rows: HistoryRecord[] = [];
      let page: readonly HistoryRecord[];
      do {
        page = await store.listHistory({
          machineId,
          entityId: id,
          afterStateVersion: rows.at(-1)?.stateVersion ?? 0,
          limit: REBUILD_PAGE,
        });
        rows.push(...page);
      } while (page.length === REBUILD_PAGE);
      const start = rows.findLastIndex(
        (row) => row.event === '@create' || row.event === '@migrate',
      );
      const checkpoint = rows[start];
      if (checkpoint === undefined) {
        throw entityError('ENTITY_NOT_FOUND', id, 'has no creation record in its history', {
          reason: 'history-missing',
        });
      }
      if (checkpoint.machineVersion !== version) {
        throw entityError(
          'MACHINE_VERSION_MISMATCH',
          id,
          `was written since its last checkpoint by version ${checkpoint.machineVersion}, not ${version}: call upgrade() first`,
          { expected: version, found: checkpoint.machineVersion },
        );
      }
      let snapshot: Snapshot<string, unknown> = {
        machineId,
        version,
        state: checkpoint.to,
        stateVersion: checkpoint.stateVersion,
        data: checkpoint.payload,
      };
      for (const { event, payload } of rows.slice(start + 1)) {
        snapshot = internals.decide(snapshot, { type: event, payload }).snapshot;
      }
      return snapshot as Snapshot<S, D>;
    },

    async upgrade(id) {
      const stored = await loadStored(id);
      return view(stored.machineVersion === version ? stored : await persistMigration(stored));
    },
  };
  timerFirers.set(entities, async (due, now) => {
    const stored = await store.load(machineId, due.entityId);
    // Re-checked on the row read now; the compare-and-set below makes the decision atomic.
    if (
      !stored?.timer ||
      stored.stateVersion !== due.stateVersion ||
      stored.timer.event !== due.timer.event ||
      Date.parse(stored.timer.at) > now.getTime()
    ) {
      return false;
    }
    const actor = getContext()?.actor ?? TIMER_ACTOR;
    await applyTo(stored, { type: stored.timer.event }, actor);
    return true;
  });
  return entities;
}

/** The snapshot part of a stored entity. */
function snapshotOf(stored: StoredEntity): Snapshot<string, unknown> {
  return {
    machineId: stored.machineId,
    version: stored.machineVersion,
    state: stored.state,
    stateVersion: stored.stateVersion,
    data: stored.data,
  };
}

function assertEntityId(id: unknown): asserts id is string {
  assertNonEmptyString(id, 'id');
  if (id.length > 255) throw new TypeError('id must be at most 255 characters');
}

function assertStore(store: unknown, name: string): asserts store is EntityStore {
  assertOptionsObject(store, name);
  for (const method of ['load', 'insert', 'compareAndSet', 'listHistory', 'dueTimers', 'now']) {
    assertFunction((store as Record<string, unknown>)[method], `${name}.${method}`);
  }
}
