/**
 * Persisted entities: a machine over an {@link EntityStore}. Applying an event loads the entity,
 * decides with the pure transition function and writes with one compare-and-set on its version,
 * appending the history row in the same transaction. A stale writer gets `VERSION_CONFLICT`;
 * {@link Entities.applyWithRetry} re-reads and decides again. Data and payloads are checked to be
 * JSON data before anything is written, so every store keeps exactly what the caller was given.
 */
import { sleep } from '../../core/async.js';
import { type Actor, getContext } from '../../core/context.js';
import {
  describeValue,
  FlowproofError,
  type FlowproofErrorCode,
  isFlowproofError,
} from '../../core/errors.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../../core/logger.js';
import {
  assertFunction,
  assertInteger,
  assertSignal,
  readable,
  readObject,
} from '../../core/options.js';
import { processSingleton } from '../../core/process-singleton.js';
import {
  type SchemaValidation,
  type StandardSchemaV1,
  type ValidationIssue,
  validateWithSchema,
} from '../../core/standard-schema.js';
import { withSpan } from '../../core/tracing.js';
import {
  type EventSchemas,
  type Machine,
  type MachineEvent,
  type MachineInternals,
  machineInternals,
  type Snapshot,
} from '../define-machine.js';
import { type AnyEvent, readEvent, validOutput } from '../transition.js';
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
   * `VERSION_CONFLICT` without being evaluated; `details.actualVersion` is the stored version (larger
   * than `expectedVersion`: another writer moved the entity on; smaller: `expectedVersion` was
   * never written).
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
  /**
   * The longest wait between two attempts: the doubling stops there (jitter then only shortens
   * it), so many attempts never wait for hours.
   * @default 1000, or `backoffMs` when that is larger
   */
  readonly maxBackoffMs?: number;
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
   * arming the initial state's deadline and recording a `@create` history row. The data (the
   * schema's output) must be JSON data: plain objects, arrays, finite numbers, strings (well-formed
   * Unicode, without NUL), booleans and `null`; properties whose value is `undefined` are left out
   * and `-0` is stored as `0`, so the entity returned equals the one {@link Entities.load} returns.
   *
   * @throws FlowproofError `ENTITY_EXISTS`, `VALIDATION_FAILED` (invalid, or not JSON data, with
   * the path in `details.issues`).
   * @throws TypeError when `id` is not a string of 1 to 255 UTF-16 code units, well-formed Unicode
   * without NUL.
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
   * machine version is migrated first and the event decided on the migrated snapshot; when it is
   * allowed, the migration (a `@migrate` history row) and the event are written in the same
   * compare-and-set, and when it is refused nothing is written. The payload (the schema's output)
   * and the data `assign` returns must be JSON data, as in {@link Entities.create}; an event
   * declared without a schema takes no payload.
   *
   * @throws FlowproofError `VERSION_CONFLICT` (another writer won, or `expectedVersion` is not
   * the stored version; details: `expectedVersion`, and `actualVersion` when this call read it),
   * `STATE_TRANSITION_DENIED`,
   * `VALIDATION_FAILED` (payload, or data that is not JSON data), `ENTITY_NOT_FOUND`,
   * `MACHINE_VERSION_MISMATCH`.
   * @throws TypeError when the store clock gives no valid `Date`, an option is invalid or unknown,
   * or `event` cannot be read (a revoked proxy, a getter that throws).
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
  /**
   * One page of the entity's history, oldest first; empty for an unknown entity.
   *
   * @throws TypeError when `options.cursor` is not a `nextCursor` (a version from 1 to 2147483647).
   */
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
/** A `stateVersion` in decimal; at most {@link MAX_CURSOR}, checked apart. */
const CURSOR = /^[1-9]\d{0,9}$/;
/** The largest version every store can compare: PostgreSQL's `integer`. */
const MAX_CURSOR = 2_147_483_647;
/** The default cap of {@link RetryOptions.maxBackoffMs}. */
const MAX_BACKOFF_MS = 1000;
/** Rows per `listHistory` call when {@link Entities.rebuild} reads a whole history. */
const REBUILD_PAGE = 500;

/** @internal How the timer sweeper fires a due timer; `false` when it is no longer due. */
export type TimerFirer = (due: DueTimer, now: Date) => Promise<boolean>;
// Shared by every copy of flowproof (ESM and CommonJS builds), like the machines' internals.
const timerFirers = processSingleton(
  'state-machine.timer-firers',
  1,
  () => new WeakMap<object, TimerFirer>(),
);

/** @internal */
export function timerFirerOf(entities: object): TimerFirer {
  const fire = timerFirers.get(entities);
  if (!fire) throw new TypeError('entities must be created by createEntities()');
  return fire;
}

/**
 * Puts a machine's entities on a store.
 *
 * @throws TypeError naming the option when an option is invalid, unknown (misspelled) or cannot
 * be read.
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
  const {
    machine,
    store,
    logger = silentLogger,
  } = readObject(options, 'options', 'machine store logger') as unknown as EntitiesOptions<
    S,
    ES,
    D,
    Fx
  >;
  const internals = machineInternals(machine, 'options.machine');
  assertStore(store, 'options.store');
  assertLogger(logger, 'options.logger');
  return entitiesOn(machine, internals, store, logger);
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
  /**
   * `VERSION_CONFLICT` for entity `id` written at `actualVersion` (when this call read it) while
   * the caller expected `expectedVersion`. Versions only grow, so an expected version ahead of the
   * stored one was never written: a mistaken or invented version, not another writer.
   */
  const conflict = (id: string, expectedVersion: number, actualVersion?: number) => {
    debug({ machineId, entityId: id, expectedVersion }, 'version conflict');
    return entityError(
      'VERSION_CONFLICT',
      id,
      actualVersion !== undefined && expectedVersion > actualVersion
        ? `is at version ${actualVersion}: expectedVersion ${expectedVersion} is ahead of it, a version it never had`
        : `was changed by another writer since version ${expectedVersion}: read it again and decide again`,
      actualVersion === undefined ? { expectedVersion } : { expectedVersion, actualVersion },
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
  /** The data of entity `id` as a store keeps it, or `VALIDATION_FAILED` naming the entity. */
  const storableData = (data: unknown, id: string): unknown =>
    jsonData(data, () => [
      `The data of entity "${id}" of machine "${machineId}"`,
      { machineId, entityId: id },
    ]);
  /**
   * Validates the payload (awaiting asynchronous schemas) and checks that it is JSON data; an
   * event declared without a schema takes none. Unknown events are left to decide().
   */
  const validateEvent = async (event: unknown): Promise<AnyEvent> => {
    const received = readEvent(event);
    const { type, payload } = received;
    const schema = internals.schemas[type];
    // Declared with null: a payload would reach guards, assign and the history unchecked.
    if (schema === undefined || (schema === null && payload === undefined)) return received;
    const what = () => [`The payload of event "${type}"`, { machineId, event: type }] as const;
    if (schema === null) {
      invalid({ path: [], code: 'invalid_type', message: 'the event takes no payload' }, what);
    }
    const result = await validated(schema, payload, what()[0]);
    return { type, payload: jsonData(validOutput(result, ...what()), what) };
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
  /**
   * Replaces `previous` by `entity` with one compare-and-set, appending the history row: after
   * the `migration` row when `entity` is also the migration of `previous` to this version.
   */
  const write = async (
    previous: StoredEntity,
    entity: StoredEntity,
    history: HistoryRecord,
    migration?: HistoryRecord,
  ) => {
    const written = await store.compareAndSet(
      migration
        ? { entity, expectedVersion: previous.stateVersion, migration, history }
        : { entity, expectedVersion: previous.stateVersion, history },
    );
    if (!written) throw conflict(previous.id, previous.stateVersion);
    if (entity.machineVersion !== previous.machineVersion) {
      debug(
        {
          machineId,
          entityId: previous.id,
          fromVersion: previous.machineVersion,
          toVersion: version,
        },
        'entity migrated',
      );
    }
  };

  /**
   * `stored` as this machine version writes it: itself, or (written by an older version) its
   * migration at the next `stateVersion`, not yet written. A deadline already running keeps its
   * due time; the event is the new version's, and a state without one has none.
   */
  const current = (stored: StoredEntity, now: Date): StoredEntity => {
    if (stored.machineVersion === version) return stored;
    const migrated = machine.migrateSnapshot(snapshotOf(stored));
    const data =
      migrated.data === stored.data ? stored.data : storableData(migrated.data, stored.id);
    const next = row(
      stored.id,
      { state: migrated.state, stateVersion: stored.stateVersion + 1, data },
      now,
      stored.createdAt,
    );
    return next.timer && stored.timer
      ? { ...next, timer: { at: stored.timer.at, event: next.timer.event } }
      : next;
  };

  /**
   * Decides `received` on `loaded` (on its migration from {@link current} when an older version
   * wrote it) and writes the outcome with one compare-and-set on `loaded`'s version: the
   * migration's `@migrate` row and the event's row together. A refused event, or data that is not
   * JSON data, writes nothing. `at` gives the migration and the time when the caller has them.
   */
  const applyTo = (
    loaded: StoredEntity,
    received: AnyEvent,
    actor?: Actor,
    at?: { readonly base: StoredEntity; readonly now: Date },
  ): Promise<ApplyResult<S, D, Fx>> =>
    withSpan(
      'flowproof.state_machine.apply',
      { 'flowproof.machine': machineId, 'flowproof.event': received.type },
      async (span) => {
        const now = at?.now ?? validNow(await store.now());
        const base = at?.base ?? current(loaded, now);
        const { snapshot, effects } = internals.decide(snapshotOf(base), received);
        // Data `assign` did not touch was checked when it was written.
        const data = snapshot.data === base.data ? base.data : storableData(snapshot.data, base.id);
        const entity = row(
          base.id,
          { state: snapshot.state, stateVersion: snapshot.stateVersion, data },
          now,
          base.createdAt,
        );
        await write(
          loaded,
          entity,
          record(entity, base.state, received.type, received.payload, actor),
          base === loaded ? undefined : record(base, loaded.state, '@migrate', base.data, actor),
        );
        span.setAttribute('flowproof.state', entity.state);
        debug(
          {
            machineId,
            entityId: base.id,
            event: received.type,
            from: base.state,
            to: entity.state,
            stateVersion: entity.stateVersion,
          },
          'state transition',
        );
        return { entity: view(entity), from: base.state as S, effects: effects as readonly Fx[] };
      },
    );

  async function applyWithRetry(
    id: string,
    eventOrDecide: MachineEvent<ES> | Decider<S, ES, D>,
    input: RetryOptions = {},
  ): Promise<ApplyResult<S, D, Fx> | undefined> {
    assertEntityId(id);
    const options = readObject(
      input,
      'options',
      'attempts backoffMs maxBackoffMs signal',
    ) as RetryOptions;
    assertSignal(options.signal);
    const attempts = options.attempts ?? 5;
    assertInteger(attempts, 'options.attempts', 1, 1000);
    const backoffMs = options.backoffMs ?? 10;
    assertInteger(backoffMs, 'options.backoffMs', 0, 60_000);
    const maxBackoffMs = options.maxBackoffMs ?? Math.max(MAX_BACKOFF_MS, backoffMs);
    assertInteger(maxBackoffMs, 'options.maxBackoffMs', 0, 3_600_000);
    if (maxBackoffMs < backoffMs) {
      throw new TypeError(
        `options.maxBackoffMs must be at least options.backoffMs (${backoffMs}), got ${maxBackoffMs}`,
      );
    }
    const decide = typeof eventOrDecide === 'function' ? eventOrDecide : undefined;
    const fixed = decide ? undefined : await validateEvent(eventOrDecide);
    for (let attempt = 1; ; attempt += 1) {
      options.signal?.throwIfAborted();
      try {
        const stored = await loadStored(id);
        let received = fixed;
        if (decide) {
          const returned = decide(view(stored));
          // Awaiting any other value reads its `then`, which a revoked proxy answers by throwing.
          const event = readable('event', () => returned instanceof Promise)
            ? await returned
            : returned;
          if (event === undefined) return undefined;
          received = await validateEvent(event);
        }
        return await applyTo(stored, received as AnyEvent);
      } catch (error) {
        if (!isFlowproofError(error, 'VERSION_CONFLICT') || attempt >= attempts) throw error;
        // Doubling stops at the cap (2 ** 999 would overflow any timer); jitter only shortens it.
        const wait = Math.min(backoffMs * 2 ** (attempt - 1), maxBackoffMs);
        await sleep(
          Math.min(Math.round(wait * (0.5 + Math.random())), maxBackoffMs),
          options.signal,
        );
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
        const what = `The data of entity "${id}" of machine "${machineId}"`;
        data = validOutput(await validated(schema, data, what), what, { machineId, entityId: id });
      }
      data = storableData(data, id);
      return withSpan(
        'flowproof.state_machine.create',
        { 'flowproof.machine': machineId },
        async () => {
          const entity = row(
            id,
            { state: machine.initial, stateVersion: 1, data },
            validNow(await store.now()),
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
      const expected = readObject(options, 'options', 'expectedVersion').expectedVersion;
      if (expected !== undefined) assertInteger(expected, 'options.expectedVersion', 1);
      const received = await validateEvent(event);
      const stored = await loadStored(id);
      if (expected !== undefined && expected !== stored.stateVersion) {
        throw conflict(id, expected, stored.stateVersion);
      }
      return applyTo(stored, received);
    },

    applyWithRetry: applyWithRetry as Entities<S, ES, D, Fx>['applyWithRetry'],

    async history(id, input = {}) {
      assertEntityId(id);
      const options = readObject(input, 'options', 'cursor limit') as HistoryOptions;
      const limit = options.limit ?? 100;
      assertInteger(limit, 'options.limit', 1, 1000);
      const cursor = options.cursor;
      // Bounded by what every store compares: PostgreSQL refuses a larger integer outright.
      if (
        cursor !== undefined &&
        !(typeof cursor === 'string' && CURSOR.test(cursor) && Number(cursor) <= MAX_CURSOR)
      ) {
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
      if (stored.machineVersion === version) return view(stored);
      const migrated = current(stored, await storeNow(store));
      await write(stored, migrated, record(migrated, stored.state, '@migrate', migrated.data));
      return view(migrated);
    },
  };
  timerFirers.set(entities, async (due, dueBy) => {
    const stored = await store.load(machineId, due.entityId);
    // Re-checked on the row read now; the compare-and-set below makes the decision atomic.
    if (
      !stored?.timer ||
      stored.stateVersion !== due.stateVersion ||
      stored.timer.event !== due.timer.event ||
      Date.parse(stored.timer.at) > dueBy.getTime()
    ) {
      return false;
    }
    const actor = getContext()?.actor ?? TIMER_ACTOR;
    const now = await storeNow(store);
    // Written by an older version: the deadline is the migrated state's (its event, the same due
    // time), fired with the migration in one write; a migrated state without one only migrates,
    // which clears the deadline (reported as skipped).
    const base = current(stored, now);
    if (base.timer === null) {
      await write(stored, base, record(base, stored.state, '@migrate', base.data, actor));
      return false;
    }
    await applyTo(stored, { type: base.timer.event }, actor, { base, now });
    return true;
  });
  return entities;
}

/**
 * `schema`'s verdict on `value` (awaited), or a `TypeError` naming `what` when the schema threw
 * instead of answering (it could not read the value: a revoked proxy, a getter that throws).
 */
async function validated(
  schema: StandardSchemaV1,
  value: unknown,
  what: string,
): Promise<SchemaValidation<unknown>> {
  try {
    return await validateWithSchema(schema, value);
  } catch (cause) {
    throw new TypeError(`${what} cannot be read`, { cause });
  }
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

/**
 * Ids are compared and stored as they are by every store only when they are well-formed Unicode
 * without NUL: SQLite replaces a lone surrogate (so the entity is written under another id),
 * PostgreSQL maps several to one and refuses NUL.
 */
function assertEntityId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) {
    throw new TypeError(
      `id must be a non-empty string, got ${id === '' ? 'an empty string' : describeValue(id)}`,
    );
  }
  if (id.length > 255) throw new TypeError('id must be at most 255 characters');
  if (!isWellFormed(id)) {
    throw new TypeError(
      `id must be well-formed Unicode (no lone surrogates), got ${JSON.stringify(id)}`,
    );
  }
  if (id.includes('\u0000')) {
    throw new TypeError(`id must not contain NUL (U+0000), got ${JSON.stringify(id)}`);
  }
}

function assertStore(store: unknown, name: string): asserts store is EntityStore {
  // Not copied: a store's methods may live on its prototype.
  if (typeof store !== 'object' || store === null) {
    throw new TypeError(`${name} must be an object, got ${describeValue(store)}`);
  }
  for (const method of ['load', 'insert', 'compareAndSet', 'listHistory', 'dueTimers', 'now']) {
    const where = `${name}.${method}`;
    assertFunction(
      readable(where, () => (store as Record<string, unknown>)[method]),
      where,
    );
  }
}

/**
 * @internal The store clock, checked where it is used: a clock injected into the store's backend
 * that gives no valid `Date` is a programmer mistake, reported before it becomes a `RangeError`
 * deep inside a write.
 *
 * @throws TypeError naming the clock.
 */
export async function storeNow(store: EntityStore): Promise<Date> {
  return validNow(await store.now());
}

/** `now`, read from the store clock, unless it is no valid `Date` (see {@link storeNow}). */
function validNow(now: unknown): Date {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    throw new TypeError(
      `store.now() must resolve to a valid Date (check the clock of the store's backend), got ${now instanceof Date ? 'an invalid Date' : describeValue(now)}`,
    );
  }
  return now;
}

/** `String.prototype.isWellFormed` (ES2024, in Node 20), which the ES2023 typings lack. */
function isWellFormed(value: string): boolean {
  return (value as string & { isWellFormed(): boolean }).isWellFormed();
}

/** Deeper values are refused: they are circular, or would overflow the stack of a JSON parser. */
const MAX_JSON_DEPTH = 1000;

/** Where a value stops being JSON data, and why; {@link jsonData} turns it into an issue. */
class NotJsonData {
  constructor(
    readonly path: readonly (string | number)[],
    readonly message: string,
  ) {}
}

/**
 * `value` as every store keeps it, or `VALIDATION_FAILED` for `what` (with `details` and the
 * path of the offending value): plain objects, arrays, finite numbers, strings that are
 * well-formed Unicode without NUL (PostgreSQL refuses both), booleans and `null`; `undefined` at
 * the top (no value). A property whose value is `undefined` is left out and `-0` becomes `0`, as
 * JSON does, so the caller gets back exactly what a later read returns; for that the value is
 * copied along the path of the change, and otherwise returned as it is. One walk, no
 * serialisation.
 */
function jsonData(value: unknown, what: () => Described): unknown {
  if (value === undefined) return undefined;
  // Where the walk is; when reading a value throws (a revoked proxy, a getter), it is there.
  const path: (string | number)[] = [];
  try {
    return toJsonData(value, path, 0);
  } catch (error) {
    if (error instanceof NotJsonData) {
      return invalid({ path: error.path, code: 'not_json', message: error.message }, what);
    }
    return invalid({ path, code: 'not_json', message: 'the value cannot be read' }, what, error);
  }
}

/** What a value is (`The data of entity …`) and the details its `VALIDATION_FAILED` carries. */
type Described = readonly [what: string, details: Readonly<Record<string, unknown>>];

/**
 * `VALIDATION_FAILED` for `issue` in the value `what` describes (built only on failure), with
 * `cause` when reading the value threw.
 */
function invalid(issue: ValidationIssue, what: () => Described, cause?: unknown): never {
  // validOutput throws for a failed result, in the words of every VALIDATION_FAILED of the module.
  return validOutput({ ok: false, issues: [issue] }, ...what(), cause) as never;
}

/** {@link jsonData}'s walk; `path` is the position of `value`, shared and restored. */
function toJsonData(value: unknown, path: (string | number)[], depth: number): unknown {
  switch (typeof value) {
    case 'string': {
      const problem = stringProblem(value);
      if (problem) throw new NotJsonData([...path], `the string ${problem}`);
      return value;
    }
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) {
        throw new NotJsonData([...path], `${value} is not JSON data (only finite numbers are)`);
      }
      return value === 0 ? 0 : value;
    case 'object': {
      if (value === null) return null;
      if (depth >= MAX_JSON_DEPTH) {
        // Where the nesting starts is enough: the full path would be a thousand segments long.
        throw new NotJsonData(
          path.slice(0, 10),
          `the value here is nested deeper than ${MAX_JSON_DEPTH} levels (or circular)`,
        );
      }
      if (Array.isArray(value)) return arrayData(value, path, depth);
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) {
        throw new NotJsonData([...path], notPlain(value));
      }
      // A null-prototype object is copied: what the store gives back has Object's prototype.
      return objectData(value as Record<string, unknown>, path, depth, prototype === null);
    }
    case 'undefined':
      throw new NotJsonData([...path], 'undefined is not JSON data (in an array, use null)');
    default:
      throw new NotJsonData([...path], `a ${typeof value} is not JSON data`);
  }
}

function arrayData(array: readonly unknown[], path: (string | number)[], depth: number) {
  let copy: unknown[] | undefined;
  for (let i = 0; i < array.length; i += 1) {
    const item = array[i];
    path.push(i);
    const data = toJsonData(item, path, depth + 1);
    path.pop();
    if (copy) copy.push(data);
    else if (!Object.is(data, item)) {
      copy = array.slice(0, i);
      copy.push(data);
    }
  }
  return copy ?? array;
}

function objectData(
  object: Record<string, unknown>,
  path: (string | number)[],
  depth: number,
  copied: boolean,
) {
  let copy: Record<string, unknown> | undefined = copied ? {} : undefined;
  const keys = Object.keys(object);
  for (let i = 0; i < keys.length; i += 1) {
    const key = keys[i] as string;
    const problem = stringProblem(key);
    if (problem) throw new NotJsonData([...path], `the key ${JSON.stringify(key)} ${problem}`);
    const item = object[key];
    // Left out, as JSON leaves it out: `{ ...data, error: undefined }` is how data drops a field.
    const data = item === undefined ? undefined : withKey(path, key, item, depth);
    if (copy) {
      if (data !== undefined) defineData(copy, key, data);
    } else if (!Object.is(data, item) || item === undefined) {
      copy = {};
      for (let j = 0; j < i; j += 1) {
        const earlier = keys[j] as string;
        defineData(copy, earlier, object[earlier]);
      }
      if (data !== undefined) defineData(copy, key, data);
    }
  }
  return copy ?? object;
}

function withKey(path: (string | number)[], key: string, item: unknown, depth: number) {
  path.push(key);
  const data = toJsonData(item, path, depth + 1);
  path.pop();
  return data;
}

/** An own data property, even for the key `__proto__` (plain assignment would set the prototype). */
function defineData(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(object, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else object[key] = value;
}

/** Why PostgreSQL cannot store string `value` (a lone surrogate, NUL), or `undefined`. */
function stringProblem(value: string): string | undefined {
  if (!isWellFormed(value)) {
    return 'is not well-formed Unicode (it has a lone surrogate), which PostgreSQL cannot store';
  }
  if (value.includes('\u0000')) return 'contains NUL (U+0000), which PostgreSQL cannot store';
  return undefined;
}

/** Why an object that is neither plain nor an array is not JSON data. */
function notPlain(value: object): string {
  if (value instanceof Date) return 'a Date is not JSON data (store it as an ISO-8601 string)';
  const name: unknown = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return `an object of class ${typeof name === 'string' && name !== '' ? name : 'unknown'} is not JSON data (only plain objects and arrays are)`;
}
