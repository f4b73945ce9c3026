/**
 * Persisted entities: a machine over an {@link EntityStore}. Applying an event loads the entity,
 * decides with the pure transition function and writes with one compare-and-set on its version,
 * appending the history row in the same transaction. A stale writer gets `VERSION_CONFLICT`;
 * {@link Entities.applyWithRetry} re-reads and decides again.
 */
import { sleep } from '../core/async.js';
import { type Actor, getContext } from '../core/context.js';
import { FlowproofError, isFlowproofError } from '../core/errors.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../core/logger.js';
import {
  assertFunction,
  assertInteger,
  assertNonEmptyString,
  assertOptionsObject,
} from '../core/options.js';
import { summariseIssues, validateWithSchema } from '../core/standard-schema.js';
import { withSpan } from '../core/tracing.js';
import {
  type EventSchemas,
  type Machine,
  type MachineEvent,
  type MachineInternals,
  machineInternals,
  type Snapshot,
} from './define-machine.js';
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
  return new EntitiesImpl(options.machine, internals, options.store, logger);
}

class EntitiesImpl<S extends string, ES extends EventSchemas, D, Fx extends string>
  implements Entities<S, ES, D, Fx>
{
  readonly machine: Machine<S, ES, D, Fx>;
  readonly store: EntityStore;
  readonly #internals: MachineInternals;
  readonly #logger: Logger;

  constructor(
    machine: Machine<S, ES, D, Fx>,
    internals: MachineInternals,
    store: EntityStore,
    logger: Logger,
  ) {
    this.machine = machine;
    this.store = store;
    this.#internals = internals;
    this.#logger = logger;
    timerFirers.set(this, (due, now) => this.#fireTimer(due, now));
  }

  withStore(store: EntityStore): Entities<S, ES, D, Fx> {
    assertStore(store, 'store');
    return new EntitiesImpl(this.machine, this.#internals, store, this.#logger);
  }

  async create(id: string, ...args: [data?: D]): Promise<Entity<S, D>> {
    assertEntityId(id);
    const { machine } = this;
    let data: unknown = args[0];
    const schema = this.#internals.dataSchema;
    if (schema) {
      const result = await validateWithSchema(schema, data);
      if (!result.ok) {
        throw new FlowproofError(
          'VALIDATION_FAILED',
          `The data of entity "${id}" of machine "${machine.id}" is invalid: ${summariseIssues(result.issues)}`,
          { details: { machineId: machine.id, entityId: id, issues: result.issues } },
        );
      }
      data = result.value;
    }
    return withSpan(
      'flowproof.state_machine.create',
      { 'flowproof.machine': machine.id },
      async () => {
        const now = await this.store.now();
        const at = now.toISOString();
        const entity: StoredEntity = {
          machineId: machine.id,
          id,
          machineVersion: machine.version,
          state: machine.initial,
          stateVersion: 1,
          data,
          timer: this.#timerFor(machine.initial, now),
          createdAt: at,
          updatedAt: at,
        };
        const inserted = await this.store.insert({
          entity,
          history: this.#record(entity, null, '@create', data, at),
        });
        if (!inserted) {
          throw new FlowproofError(
            'ENTITY_EXISTS',
            `Entity "${id}" of machine "${machine.id}" already exists`,
            { details: { machineId: machine.id, entityId: id } },
          );
        }
        logEvent(this.#logger, 'debug', { machineId: machine.id, entityId: id }, 'entity created');
        return toEntity<S, D>(entity);
      },
    );
  }

  async get(id: string): Promise<Entity<S, D> | undefined> {
    assertEntityId(id);
    const stored = await this.store.load(this.machine.id, id);
    return stored === undefined ? undefined : this.#view(stored);
  }

  async load(id: string): Promise<Entity<S, D>> {
    return this.#view(await this.#loadStored(id));
  }

  async apply(
    id: string,
    event: MachineEvent<ES>,
    options: ApplyOptions = {},
  ): Promise<ApplyResult<S, D, Fx>> {
    assertEntityId(id);
    assertOptionsObject(options, 'options');
    if (options.expectedVersion !== undefined) {
      assertInteger(options.expectedVersion, 'options.expectedVersion', 1);
    }
    const received = await this.#validateEvent(event);
    const stored = await this.#loadStored(id);
    if (options.expectedVersion !== undefined && options.expectedVersion !== stored.stateVersion) {
      throw this.#conflict(id, options.expectedVersion, stored.stateVersion);
    }
    return this.#applyTo(stored, received, undefined);
  }

  applyWithRetry(
    id: string,
    event: MachineEvent<ES>,
    options?: RetryOptions,
  ): Promise<ApplyResult<S, D, Fx>>;
  applyWithRetry(
    id: string,
    decide: Decider<S, ES, D>,
    options?: RetryOptions,
  ): Promise<ApplyResult<S, D, Fx> | undefined>;
  async applyWithRetry(
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
    const fixed =
      decide === undefined
        ? await this.#validateEvent(eventOrDecide as MachineEvent<ES>)
        : undefined;
    for (let attempt = 1; ; attempt += 1) {
      options.signal?.throwIfAborted();
      try {
        const stored = await this.#loadStored(id);
        let received = fixed;
        if (decide) {
          const event = await decide(this.#view(stored));
          if (event === undefined) return undefined;
          received = await this.#validateEvent(event);
        }
        return await this.#applyTo(stored, received as ValidEvent, undefined);
      } catch (error) {
        if (!isFlowproofError(error, 'VERSION_CONFLICT') || attempt >= attempts) throw error;
        const wait = backoffMs * 2 ** (attempt - 1);
        await sleep(Math.round(wait * (0.5 + Math.random())), options.signal);
      }
    }
  }

  async history(id: string, options: HistoryOptions = {}): Promise<HistoryPage> {
    assertEntityId(id);
    assertOptionsObject(options, 'options');
    const limit = options.limit ?? 100;
    assertInteger(limit, 'options.limit', 1, 1000);
    let after = 0;
    if (options.cursor !== undefined) {
      if (typeof options.cursor !== 'string' || !CURSOR.test(options.cursor)) {
        throw new TypeError('options.cursor must be a nextCursor returned by history()');
      }
      after = Number(options.cursor);
    }
    const rows = await this.store.listHistory({
      machineId: this.machine.id,
      entityId: id,
      afterStateVersion: after,
      limit: limit + 1,
    });
    if (rows.length <= limit) return { entries: rows };
    const entries = rows.slice(0, limit);
    return { entries, nextCursor: String(entries[entries.length - 1]?.stateVersion) };
  }

  async rebuild(id: string): Promise<Snapshot<S, D>> {
    const { machine } = this;
    await this.#loadStored(id);
    const rows: HistoryRecord[] = [];
    for (let after = 0; ; ) {
      const page = await this.store.listHistory({
        machineId: machine.id,
        entityId: id,
        afterStateVersion: after,
        limit: 500,
      });
      rows.push(...page);
      if (page.length < 500) break;
      after = page[page.length - 1]?.stateVersion ?? after;
    }
    let start = -1;
    for (let i = rows.length - 1; i >= 0; i -= 1) {
      const event = rows[i]?.event;
      if (event === '@create' || event === '@migrate') {
        start = i;
        break;
      }
    }
    const checkpoint = rows[start];
    if (checkpoint === undefined) {
      throw new FlowproofError(
        'ENTITY_NOT_FOUND',
        `The history of entity "${id}" of machine "${machine.id}" has no creation record`,
        { details: { machineId: machine.id, entityId: id, reason: 'history-missing' } },
      );
    }
    if (checkpoint.machineVersion !== machine.version) {
      throw new FlowproofError(
        'MACHINE_VERSION_MISMATCH',
        `The history of entity "${id}" since its last checkpoint was written by version ${checkpoint.machineVersion} of machine "${machine.id}", not ${machine.version}: call upgrade() first`,
        {
          details: {
            machineId: machine.id,
            entityId: id,
            expected: machine.version,
            found: checkpoint.machineVersion,
          },
        },
      );
    }
    let snapshot: Snapshot<string, unknown> = {
      machineId: machine.id,
      version: machine.version,
      state: checkpoint.to,
      stateVersion: checkpoint.stateVersion,
      data: checkpoint.payload,
    };
    for (let i = start + 1; i < rows.length; i += 1) {
      const row = rows[i] as HistoryRecord;
      snapshot = this.#internals.decide(snapshot, {
        type: row.event,
        payload: row.payload,
      }).snapshot;
    }
    return snapshot as Snapshot<S, D>;
  }

  async upgrade(id: string): Promise<Entity<S, D>> {
    const stored = await this.#loadStored(id);
    return toEntity<S, D>(
      stored.machineVersion === this.machine.version
        ? stored
        : await this.#persistMigration(stored),
    );
  }

  async #applyTo(
    loaded: StoredEntity,
    received: ValidEvent,
    actor: Actor | undefined,
  ): Promise<ApplyResult<S, D, Fx>> {
    const { machine } = this;
    const stored =
      loaded.machineVersion === machine.version ? loaded : await this.#persistMigration(loaded);
    return withSpan(
      'flowproof.state_machine.apply',
      { 'flowproof.machine': machine.id, 'flowproof.event': received.type },
      async (span) => {
        const current: Snapshot<string, unknown> = {
          machineId: stored.machineId,
          version: stored.machineVersion,
          state: stored.state,
          stateVersion: stored.stateVersion,
          data: stored.data,
        };
        const { snapshot, effects } = this.#internals.decide(current, received);
        const now = await this.store.now();
        const at = now.toISOString();
        const entity: StoredEntity = {
          machineId: machine.id,
          id: stored.id,
          machineVersion: machine.version,
          state: snapshot.state,
          stateVersion: snapshot.stateVersion,
          data: snapshot.data,
          timer: this.#timerFor(snapshot.state, now),
          createdAt: stored.createdAt,
          updatedAt: at,
        };
        const written = await this.store.compareAndSet({
          entity,
          expectedVersion: stored.stateVersion,
          history: this.#record(entity, stored.state, received.type, received.payload, at, actor),
        });
        if (!written) throw this.#conflict(stored.id, stored.stateVersion, undefined);
        span.setAttribute('flowproof.state', entity.state);
        logEvent(
          this.#logger,
          'debug',
          {
            machineId: machine.id,
            entityId: stored.id,
            event: received.type,
            from: stored.state,
            to: entity.state,
            stateVersion: entity.stateVersion,
          },
          'state transition',
        );
        return {
          entity: toEntity<S, D>(entity),
          from: stored.state as S,
          effects: effects as readonly Fx[],
        };
      },
    );
  }

  async #fireTimer(due: DueTimer, now: Date): Promise<boolean> {
    const stored = await this.store.load(this.machine.id, due.entityId);
    // Re-checked on the row read now; the compare-and-set below makes the decision atomic.
    if (
      stored === undefined ||
      stored.stateVersion !== due.stateVersion ||
      stored.timer === null ||
      stored.timer.event !== due.timer.event ||
      Date.parse(stored.timer.at) > now.getTime()
    ) {
      return false;
    }
    const actor = getContext()?.actor ?? TIMER_ACTOR;
    await this.#applyTo(stored, { type: stored.timer.event, payload: undefined }, actor);
    return true;
  }

  async #persistMigration(stored: StoredEntity): Promise<StoredEntity> {
    const { machine } = this;
    const migrated = machine.migrateSnapshot({
      machineId: stored.machineId,
      version: stored.machineVersion,
      state: stored.state,
      stateVersion: stored.stateVersion,
      data: stored.data,
    });
    const now = await this.store.now();
    const at = now.toISOString();
    const timerConfig = this.#internals.states[migrated.state]?.timer;
    const entity: StoredEntity = {
      ...stored,
      machineVersion: machine.version,
      state: migrated.state,
      stateVersion: stored.stateVersion + 1,
      data: migrated.data,
      // A deadline already running keeps its due time; the event is the new version's.
      timer:
        timerConfig === undefined
          ? null
          : stored.timer === null
            ? this.#timerFor(migrated.state, now)
            : { at: stored.timer.at, event: timerConfig.event },
      updatedAt: at,
    };
    const written = await this.store.compareAndSet({
      entity,
      expectedVersion: stored.stateVersion,
      history: this.#record(entity, stored.state, '@migrate', migrated.data, at),
    });
    if (!written) throw this.#conflict(stored.id, stored.stateVersion, undefined);
    logEvent(
      this.#logger,
      'debug',
      {
        machineId: machine.id,
        entityId: stored.id,
        fromVersion: stored.machineVersion,
        toVersion: machine.version,
      },
      'entity migrated',
    );
    return entity;
  }

  async #loadStored(id: string): Promise<StoredEntity> {
    assertEntityId(id);
    const stored = await this.store.load(this.machine.id, id);
    if (stored === undefined) {
      throw new FlowproofError(
        'ENTITY_NOT_FOUND',
        `Entity "${id}" of machine "${this.machine.id}" does not exist`,
        { details: { machineId: this.machine.id, entityId: id } },
      );
    }
    return stored;
  }

  #view(stored: StoredEntity): Entity<S, D> {
    if (stored.machineVersion === this.machine.version) return toEntity<S, D>(stored);
    const migrated = this.machine.migrateSnapshot({
      machineId: stored.machineId,
      version: stored.machineVersion,
      state: stored.state,
      stateVersion: stored.stateVersion,
      data: stored.data,
    });
    return {
      ...migrated,
      id: stored.id,
      timer: stored.timer,
      createdAt: stored.createdAt,
      updatedAt: stored.updatedAt,
    };
  }

  /** Validates the payload (awaiting asynchronous schemas); unknown events are left to decide(). */
  async #validateEvent(event: MachineEvent<ES>): Promise<ValidEvent> {
    if (typeof event !== 'object' || event === null || typeof event.type !== 'string') {
      throw new TypeError('event must be an object with a string type');
    }
    const schema = this.#internals.schemas[event.type];
    if (!schema) return event as ValidEvent;
    const result = await validateWithSchema(schema, event.payload);
    if (!result.ok) {
      throw new FlowproofError(
        'VALIDATION_FAILED',
        `The payload of event "${event.type}" is invalid: ${summariseIssues(result.issues)}`,
        { details: { machineId: this.machine.id, event: event.type, issues: result.issues } },
      );
    }
    return { type: event.type, payload: result.value };
  }

  #timerFor(state: string, now: Date): EntityTimer | null {
    const timer = this.#internals.states[state]?.timer;
    if (timer === undefined) return null;
    return { at: new Date(now.getTime() + timer.delayMs).toISOString(), event: timer.event };
  }

  #record(
    entity: StoredEntity,
    from: string | null,
    event: string,
    payload: unknown,
    at: string,
    actor?: Actor,
  ): HistoryRecord {
    const context = getContext();
    const who = actor ?? context?.actor;
    return {
      machineId: entity.machineId,
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
      at,
    };
  }

  #conflict(id: string, expectedVersion: number, found: number | undefined): FlowproofError {
    logEvent(
      this.#logger,
      'debug',
      { machineId: this.machine.id, entityId: id, expectedVersion },
      'version conflict',
    );
    return new FlowproofError(
      'VERSION_CONFLICT',
      `Entity "${id}" of machine "${this.machine.id}" was changed by another writer since version ${expectedVersion}: read it again and decide again`,
      {
        details: {
          machineId: this.machine.id,
          entityId: id,
          expectedVersion,
          ...(found === undefined ? {} : { foundVersion: found }),
        },
      },
    );
  }
}

/** An event whose payload passed its schema (or that has none). */
interface ValidEvent {
  readonly type: string;
  readonly payload?: unknown;
}

function toEntity<S extends string, D>(stored: StoredEntity): Entity<S, D> {
  return {
    machineId: stored.machineId,
    version: stored.machineVersion,
    state: stored.state as S,
    stateVersion: stored.stateVersion,
    data: stored.data as D,
    id: stored.id,
    timer: stored.timer,
    createdAt: stored.createdAt,
    updatedAt: stored.updatedAt,
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
