/**
 * `createSagas`: the engine over a saga store. It starts sagas (idempotently by id) and runs them
 * in this process at once; as a runner (`startRunner`) it also claims sagas other processes left
 * behind (a crash, a released retry wait) once their lease ends; it shows status and history,
 * redrives the dead-letter queue and purges finished sagas.
 */
import { MAX_TIMER_MS } from '../core/async.js';
import { getContext, serializeContext } from '../core/context.js';
import { errorRecord } from '../core/error-record.js';
import { FlowproofError } from '../core/errors.js';
import { createId } from '../core/ids.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../core/logger.js';
import {
  assertFunction,
  assertInteger,
  assertKnownKeys,
  assertNonEmptyString,
  assertOptionsObject,
} from '../core/options.js';
import { parseWithSchema } from '../core/standard-schema.js';
import { defaultWorkerName } from '../core/worker-name.js';
import { canonicalJson } from '../idempotency/fingerprint.js';
import type { NoSteps, SagaDefinition } from './define-saga.js';
import { type SagaLog, type SagaState, toLogValue, toSagaState } from './saga-log.js';
import { inSagaContext, SagaRun, type SagaRunHost } from './saga-run.js';
import {
  ACTIVE_SAGA_STATUSES,
  type ClaimedSaga,
  DEAD_LETTER_STATUSES,
  FINISHED_SAGA_STATUSES,
  SAGA_STATUSES,
  type SagaStatus,
  type SagaStore,
  type StoredSaga,
} from './saga-store.js';

/** Options of {@link createSagas}. */
export interface SagasOptions {
  /** Where sagas are kept: `createMemorySagaStore`, `createSqliteSagaStore`, `createPostgresSagaStore`. */
  readonly store: SagaStore;
  /** The definitions this process runs; several versions of one saga may be given. */
  readonly sagas: readonly SagaDefinition<never, NoSteps>[];
  /** Where events go (pino fits). @default silent */
  readonly logger?: Logger;
  /** This runner's id, recorded as lease owner. @default host name, process id and a random part */
  readonly runnerId?: string;
  /**
   * How long a runner holds a saga without renewing; a runner that dies leaves its sagas to
   * another after this (plus one poll). Renewed every third of it. @default 30000
   */
  readonly leaseMs?: number;
  /** How often a runner looks for sagas to take over or resume. @default 1000 */
  readonly pollIntervalMs?: number;
  /** Sagas this process runs at once. @default 32 */
  readonly concurrency?: number;
  /** Retry waits at least this long release the saga (any runner resumes it when due). @default 5000 */
  readonly holdLimitMs?: number;
  /**
   * How long finished sagas (`completed`, `compensated`) are kept; a runner purges older ones in
   * batches. `false` keeps them. @default 7 days
   */
  readonly retainFinishedMs?: number | false;
  /**
   * Called with the saga's state when a saga this engine runs completes, compensates or is
   * dead-lettered (to emit it as lineage, say); a saga another process finishes is reported there.
   * It costs one store read per finished saga. What it throws is logged and ignored. Rarely, a
   * saga taken over while it finished is reported by both runners.
   * @default none
   */
  readonly onSettled?: (saga: SagaState) => void;
}

/** Options of {@link Sagas.start}. */
export interface StartOptions {
  /**
   * The saga's id: a business key (`order-1234`) makes `start` idempotent: a second call returns
   * the saga the first started. @default a new ULID
   */
  readonly id?: string;
}

/** What {@link Sagas.start} returns. */
export interface StartedSaga {
  /** The saga's id. */
  readonly id: string;
  /** `false` when a saga with this id already existed (nothing new was started). */
  readonly created: boolean;
}

/** Options of {@link Sagas.list}. */
export interface ListSagasOptions {
  /** Only sagas in this status (or these). */
  readonly status?: SagaStatus | readonly SagaStatus[];
  /** Only sagas of this definition. */
  readonly name?: string;
  /** Page size (1–1000). @default 50 */
  readonly limit?: number;
  /** The previous page's `nextCursor`. */
  readonly cursor?: string;
}

/** A page of sagas. */
export interface SagaPage {
  /** The sagas, ordered by id. */
  readonly sagas: readonly SagaState[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  readonly nextCursor?: string;
}

/** What {@link Sagas.redrive} does with a batch. */
export interface RedriveOptions {
  /** Only dead-lettered sagas of this definition. */
  readonly name?: string;
  /** At most this many (1–1000). @default 100 */
  readonly limit?: number;
}

/** A saga {@link Sagas.redrive} runs again (in this process; `wait(id)` for its outcome). */
export interface RedrivenSaga {
  /** The saga's id. */
  readonly id: string;
}

/** The outcome of a batch redrive. */
export interface RedriveReport {
  /** Sagas now running again. */
  readonly redriven: readonly string[];
}

/** The engine. */
export interface Sagas {
  /**
   * Starts a saga and runs it in this process. Idempotent by `options.id`: a second call with the
   * same id returns `{ created: false }` and starts nothing.
   *
   * @throws TypeError when `definition` is not registered or an option is invalid;
   * `VALIDATION_FAILED` when the input fails the definition's schema; `SAGA_VALUE_UNENCODABLE`
   * when it is not JSON; `SAGA_ID_CONFLICT` when the id belongs to another saga or input.
   */
  start<I, S>(
    definition: SagaDefinition<I, S>,
    input: I,
    options?: StartOptions,
  ): Promise<StartedSaga>;
  /** Starts a saga and waits until it is finished or dead-lettered; returns its final state. */
  run<I, S>(
    definition: SagaDefinition<I, S>,
    input: I,
    options?: StartOptions & { readonly timeoutMs?: number },
  ): Promise<SagaState<S>>;
  /**
   * Waits until the saga is finished or dead-lettered (wherever it runs) and returns its state.
   * @throws `SAGA_NOT_FOUND`; `SAGA_WAIT_TIMEOUT` after `timeoutMs`.
   */
  wait(id: string, options?: { readonly timeoutMs?: number }): Promise<SagaState>;
  /** The saga's state with its step timeline, or `undefined`. */
  get(id: string): Promise<SagaState | undefined>;
  /** Sagas by status and name, a page at a time. */
  list(options?: ListSagasOptions): Promise<SagaPage>;
  /** The dead-letter queue (`failed` and `compensation_failed` sagas), a page at a time. */
  deadLetters(options?: Omit<ListSagasOptions, 'status'>): Promise<SagaPage>;
  /**
   * Runs a dead-lettered saga again, in this process: a `failed` one from the step that failed, a
   * `compensation_failed` one from the compensation that failed, each with a fresh retry budget
   * under the same policy (failing again dead-letters it again). By id, or a batch.
   *
   * @throws `SAGA_NOT_FOUND`, `SAGA_NOT_DEAD_LETTERED` (by id).
   */
  redrive(id: string): Promise<RedrivenSaga>;
  /** Redrives up to `options.limit` dead-lettered sagas (of `options.name`); see the other overload. */
  redrive(options?: RedriveOptions): Promise<RedriveReport>;
  /** Deletes finished sagas older than `olderThanMs`, up to `limit`; returns how many. */
  purge(options: { readonly olderThanMs: number; readonly limit?: number }): Promise<number>;
  /** Starts polling for sagas to take over or resume (idempotent). */
  startRunner(): void;
  /**
   * Stops polling and lets running sagas reach their next persistence point, where they are
   * released for another runner (waiting at most `timeoutMs`, default the lease). Does not close
   * the store.
   */
  close(options?: { readonly timeoutMs?: number }): Promise<void>;
}

const OPTION_KEYS = [
  'store',
  'sagas',
  'logger',
  'runnerId',
  'leaseMs',
  'pollIntervalMs',
  'concurrency',
  'holdLimitMs',
  'retainFinishedMs',
  'onSettled',
] as const;
const STORE_METHODS = [
  'migrate',
  'create',
  'claim',
  'save',
  'heartbeat',
  'get',
  'list',
  'purge',
] as const;
const MAX_ID_LENGTH = 200;
const DAY_MS = 86_400_000;
const PURGE_BATCH = 500;
const PURGE_EVERY_MS = 60_000;

type AnyDefinition = SagaDefinition<unknown, Record<string, unknown>>;

/**
 * Creates the saga engine over `options.store` for the given definitions.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const sagas = createSagas({ store, sagas: [orderSaga] });
 * sagas.startRunner(); // resume what crashed runners left behind
 * const { id } = await sagas.start(orderSaga, { orderId: 'o-1', amount: 42 }, { id: 'order-o-1' });
 * ```
 */
export function createSagas(options: SagasOptions): Sagas {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, OPTION_KEYS, 'options');
  const store = options.store;
  assertOptionsObject(store, 'options.store');
  for (const method of STORE_METHODS) {
    if (typeof (store as unknown as Record<string, unknown>)[method] !== 'function') {
      throw new TypeError(`options.store must be a saga store (it has no ${method}())`);
    }
  }
  if (!Array.isArray(options.sagas) || options.sagas.length === 0) {
    throw new TypeError('options.sagas must be a non-empty array of saga definitions');
  }
  const byName = new Map<string, Map<number, AnyDefinition>>();
  options.sagas.forEach((definition, i) => {
    const d = definition as unknown as AnyDefinition;
    if (
      typeof d?.name !== 'string' ||
      !Array.isArray(d.steps) ||
      typeof d.toMermaid !== 'function'
    ) {
      throw new TypeError(`options.sagas[${i}] must be a saga definition (from defineSaga)`);
    }
    if (d.steps.length === 0) throw new TypeError(`options.sagas[${i}] (${d.name}) has no steps`);
    const versions = byName.get(d.name) ?? new Map<number, AnyDefinition>();
    if (versions.has(d.version)) {
      throw new TypeError(`options.sagas has ${d.name} version ${d.version} twice`);
    }
    // A transactional step writes SQL in the store's transaction: the memory store has no SQL.
    if (
      d.steps.some((s) => s.options.transactional) &&
      (store.saveInTransaction === undefined || store.kind === 'memory')
    ) {
      throw new TypeError(
        `options.sagas[${i}] (${d.name}) has transactional steps, which need a store with transactions (SQLite or PostgreSQL)`,
      );
    }
    versions.set(d.version, d);
    byName.set(d.name, versions);
  });
  const logger = options.logger ?? silentLogger;
  assertLogger(logger, 'options.logger');
  const runnerId = options.runnerId ?? defaultWorkerName();
  assertNonEmptyString(runnerId, 'options.runnerId');
  const leaseMs = options.leaseMs ?? 30_000;
  assertInteger(leaseMs, 'options.leaseMs', 100, 86_400_000);
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  assertInteger(pollIntervalMs, 'options.pollIntervalMs', 10, 3_600_000);
  const concurrency = options.concurrency ?? 32;
  assertInteger(concurrency, 'options.concurrency', 1, 10_000);
  const holdLimitMs = options.holdLimitMs ?? 5_000;
  assertInteger(holdLimitMs, 'options.holdLimitMs', 0, 86_400_000);
  const retain = options.retainFinishedMs ?? 7 * DAY_MS;
  if (retain !== false) assertInteger(retain, 'options.retainFinishedMs', 0);
  if (options.onSettled !== undefined) assertFunction(options.onSettled, 'options.onSettled');
  return new SagaEngine(
    store,
    byName,
    logger,
    runnerId,
    leaseMs,
    pollIntervalMs,
    concurrency,
    holdLimitMs,
    retain,
    options.onSettled,
  );
}

class SagaEngine implements Sagas, SagaRunHost {
  readonly store: SagaStore;
  readonly logger: Logger;
  readonly leaseMs: number;
  readonly holdLimitMs: number;
  closing = false;
  readonly #definitions: Map<string, Map<number, AnyDefinition>>;
  readonly #names: readonly string[];
  readonly #runnerId: string;
  readonly #pollIntervalMs: number;
  readonly #concurrency: number;
  readonly #retain: number | false;
  readonly #onSettled: ((saga: SagaState) => void) | undefined;
  /** Runs in this process by saga id, with the promise that settles when each stops. */
  readonly #running = new Map<string, { run: SagaRun; done: Promise<void> }>();
  readonly #wakeTimers = new Set<ReturnType<typeof setTimeout>>();
  #poller: ReturnType<typeof setTimeout> | undefined;
  #polling = false;
  #lastPurge = 0;
  /** The last poll filled every free slot: more sagas may be waiting. */
  #backlog = false;

  constructor(
    store: SagaStore,
    definitions: Map<string, Map<number, AnyDefinition>>,
    logger: Logger,
    runnerId: string,
    leaseMs: number,
    pollIntervalMs: number,
    concurrency: number,
    holdLimitMs: number,
    retain: number | false,
    onSettled: ((saga: SagaState) => void) | undefined,
  ) {
    this.store = store;
    this.#definitions = definitions;
    this.#names = [...definitions.keys()];
    this.logger = logger;
    this.#runnerId = runnerId;
    this.leaseMs = leaseMs;
    this.#pollIntervalMs = pollIntervalMs;
    this.#concurrency = concurrency;
    this.holdLimitMs = holdLimitMs;
    this.#retain = retain;
    this.#onSettled = onSettled;
  }

  async start<I, S>(
    definition: SagaDefinition<I, S>,
    input: I,
    options: StartOptions = {},
  ): Promise<StartedSaga> {
    const d = this.#registered(definition);
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, ['id'], 'options');
    const id = options.id ?? createId();
    assertSagaId(id, 'options.id');
    this.#assertOpen();
    const validated = d.input
      ? await parseWithSchema(d.input, input, `the input of saga ${d.name}`)
      : input;
    let json: unknown;
    try {
      json = toLogValue(validated);
    } catch (error) {
      throw new FlowproofError(
        'SAGA_VALUE_UNENCODABLE',
        `the input of saga ${JSON.stringify(d.name)} ${JSON.stringify(id)} is not JSON data: ${(error as Error).message}`,
        { details: { sagaId: id }, cause: error },
      );
    }
    const first = d.steps.filter((step) => step.group === 0);
    const now = Date.now();
    const log: SagaLog = {
      format: 1,
      input: json,
      // The first group's intents are written with the saga: its creator runs them at once.
      steps: first.map((step) => ({
        step: step.name,
        index: step.index,
        hash: step.hash,
        status: 'running',
        attempts: [{ startedAt: now }],
      })),
      redrives: 0,
      ...(getContext() ? { context: serializeContext() } : {}),
      ...(d.timeoutMs !== undefined ? { deadlineAt: now + d.timeoutMs } : {}),
    };
    const asked = performance.now();
    const result = await this.store.create(
      { id, name: d.name, version: d.version, status: 'running', log },
      { owner: this.#runnerId, leaseMs: this.leaseMs },
    );
    if (!result.created) {
      const existing = result.saga;
      const sameInput =
        existing.name === d.name &&
        canonicalJson((existing.log as SagaLog).input) === canonicalJson(json);
      if (!sameInput) {
        throw new FlowproofError(
          'SAGA_ID_CONFLICT',
          `saga id ${JSON.stringify(id)} is taken by a ${existing.name} saga with ${existing.name === d.name ? 'another input' : 'another definition'}; a business key must name one saga`,
          { details: { sagaId: id, name: existing.name } },
        );
      }
      return { id, created: false };
    }
    logEvent(
      this.logger,
      'info',
      { event: 'saga.started', sagaId: id, saga: d.name },
      'saga started',
    );
    this.#launch(
      d,
      result.saga,
      result.lease ?? { owner: this.#runnerId, token: 1 },
      'created',
      asked,
    );
    return { id, created: true };
  }

  async run<I, S>(
    definition: SagaDefinition<I, S>,
    input: I,
    options: StartOptions & { readonly timeoutMs?: number } = {},
  ): Promise<SagaState<S>> {
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, ['id', 'timeoutMs'], 'options');
    // Checked before anything is started: a bad wait option must not leave a saga behind.
    if (options.timeoutMs !== undefined)
      assertInteger(options.timeoutMs, 'options.timeoutMs', 0, MAX_TIMER_MS);
    const { timeoutMs, ...startOptions } = options;
    const { id } = await this.start(definition, input, startOptions);
    const waitOptions = timeoutMs === undefined ? {} : { timeoutMs };
    return (await this.wait(id, waitOptions)) as SagaState<S>;
  }

  async wait(id: string, options: { readonly timeoutMs?: number } = {}): Promise<SagaState> {
    assertSagaId(id, 'id');
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, ['timeoutMs'], 'options');
    if (options.timeoutMs !== undefined)
      assertInteger(options.timeoutMs, 'options.timeoutMs', 0, MAX_TIMER_MS);
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    // The engine's own timers do not hold the process open; a caller waiting for a saga does
    // (a script awaiting run() would otherwise exit while the saga waits for a retry).
    const keepAlive = setInterval(() => {}, 1 << 30);
    try {
      return await this.#waitUntilFinished(id, deadline, options.timeoutMs);
    } finally {
      clearInterval(keepAlive);
    }
  }

  async #waitUntilFinished(
    id: string,
    deadline: number,
    timeoutMs: number | undefined,
  ): Promise<SagaState> {
    let pause = 20;
    for (;;) {
      const local = this.#running.get(id);
      if (local) {
        const remaining = deadline - Date.now();
        await (remaining === Infinity ? local.done : Promise.race([local.done, delay(remaining)]));
      }
      const stored = await this.store.get(id);
      if (!stored) {
        throw new FlowproofError('SAGA_NOT_FOUND', `no saga ${JSON.stringify(id)}`, {
          details: { sagaId: id },
        });
      }
      if (!ACTIVE_SAGA_STATUSES.includes(stored.status)) return toSagaState(stored);
      if (Date.now() >= deadline) {
        throw new FlowproofError(
          'SAGA_WAIT_TIMEOUT',
          `saga ${JSON.stringify(id)} is still ${stored.status} after ${timeoutMs} ms`,
          { details: { sagaId: id, status: stored.status, timeoutMs: timeoutMs! } },
        );
      }
      if (!this.#running.has(id)) {
        await delay(Math.min(pause, deadline - Date.now()));
        pause = Math.min(pause * 2, this.#pollIntervalMs);
      }
    }
  }

  async get(id: string): Promise<SagaState | undefined> {
    assertSagaId(id, 'id');
    const stored = await this.store.get(id);
    return stored ? toSagaState(stored) : undefined;
  }

  async list(options: ListSagasOptions = {}): Promise<SagaPage> {
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, ['status', 'name', 'limit', 'cursor'], 'options');
    const statuses =
      options.status === undefined
        ? undefined
        : typeof options.status === 'string'
          ? [options.status]
          : options.status;
    if (statuses !== undefined) {
      if (!Array.isArray(statuses) || statuses.some((s) => !SAGA_STATUSES.includes(s))) {
        throw new TypeError(
          `options.status must be one of ${SAGA_STATUSES.join(', ')} (or an array of them)`,
        );
      }
    }
    return this.#page(statuses, options);
  }

  deadLetters(options: Omit<ListSagasOptions, 'status'> = {}): Promise<SagaPage> {
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, ['name', 'limit', 'cursor'], 'options');
    return this.#page(DEAD_LETTER_STATUSES, options);
  }

  redrive(id: string): Promise<RedrivenSaga>;
  redrive(options?: RedriveOptions): Promise<RedriveReport>;
  async redrive(target: string | RedriveOptions = {}): Promise<RedrivenSaga | RedriveReport> {
    this.#assertOpen();
    if (typeof target === 'string') {
      assertSagaId(target, 'id');
      const asked = performance.now();
      const [claimed] = await this.store.claim({
        owner: this.#runnerId,
        leaseMs: this.leaseMs,
        limit: 1,
        ids: [target],
        statuses: DEAD_LETTER_STATUSES,
      });
      if (!claimed) {
        const stored = await this.store.get(target);
        if (!stored) {
          throw new FlowproofError('SAGA_NOT_FOUND', `no saga ${JSON.stringify(target)}`, {
            details: { sagaId: target },
          });
        }
        throw new FlowproofError(
          'SAGA_NOT_DEAD_LETTERED',
          `saga ${JSON.stringify(target)} is ${stored.status}, not in the dead-letter queue (or another redrive holds it)`,
          { details: { sagaId: target, status: stored.status } },
        );
      }
      this.#redriveClaimed(claimed, asked);
      return { id: target };
    }
    assertOptionsObject(target, 'options');
    assertKnownKeys(target, ['name', 'limit'], 'options');
    const limit = target.limit ?? 100;
    assertInteger(limit, 'options.limit', 1, 1000);
    if (target.name !== undefined) assertNonEmptyString(target.name, 'options.name');
    const names =
      target.name === undefined
        ? this.#names
        : [target.name].filter((n) => this.#definitions.has(n));
    if (names.length === 0) return { redriven: [] };
    const asked = performance.now();
    const claimed = await this.store.claim({
      owner: this.#runnerId,
      leaseMs: this.leaseMs,
      limit,
      names,
      statuses: DEAD_LETTER_STATUSES,
    });
    for (const saga of claimed) this.#redriveClaimed(saga, asked);
    return { redriven: claimed.map((c) => c.saga.id) };
  }

  async purge(options: { readonly olderThanMs: number; readonly limit?: number }): Promise<number> {
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, ['olderThanMs', 'limit'], 'options');
    assertInteger(options.olderThanMs, 'options.olderThanMs', 0);
    const limit = options.limit ?? PURGE_BATCH;
    assertInteger(limit, 'options.limit', 1, 10_000);
    return this.store.purge({
      statuses: FINISHED_SAGA_STATUSES,
      finishedBeforeMs: options.olderThanMs,
      limit,
    });
  }

  startRunner(): void {
    this.#assertOpen();
    if (this.#polling) return;
    this.#polling = true;
    this.#schedulePoll(0);
  }

  async close(options: { readonly timeoutMs?: number } = {}): Promise<void> {
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, ['timeoutMs'], 'options');
    const timeoutMs = options.timeoutMs ?? this.leaseMs;
    assertInteger(timeoutMs, 'options.timeoutMs', 0, MAX_TIMER_MS);
    this.closing = true;
    this.#polling = false;
    clearTimeout(this.#poller);
    for (const timer of this.#wakeTimers) clearTimeout(timer);
    this.#wakeTimers.clear();
    const runs = [...this.#running.values()];
    const all = Promise.all(runs.map((r) => r.done));
    await Promise.race([all, delay(timeoutMs)]);
    for (const { run } of this.#running.values()) run.abandon();
    await all;
  }

  // ---- SagaRunHost ----------------------------------------------------------------------------

  wakeLater(id: string, delayMs: number): void {
    if (this.closing) return;
    const timer = setTimeout(() => {
      this.#wakeTimers.delete(timer);
      void this.#claim([id]).catch(() => {});
    }, delayMs);
    timer.unref?.();
    this.#wakeTimers.add(timer);
  }

  // ---- internals ------------------------------------------------------------------------------

  #registered(definition: unknown): AnyDefinition {
    const d = definition as AnyDefinition;
    const registered = this.#definitions.get(d?.name)?.get(d?.version);
    if (!registered || registered !== d) {
      throw new TypeError(
        `definition must be one of the sagas given to createSagas${typeof d?.name === 'string' ? ` (${d.name} version ${d.version} is not)` : ''}`,
      );
    }
    return registered;
  }

  /** The definition a stored saga runs under: its own version, else the newest of its name. */
  #definitionFor(saga: StoredSaga): AnyDefinition | undefined {
    const versions = this.#definitions.get(saga.name);
    if (!versions) return undefined;
    return versions.get(saga.version) ?? versions.get(Math.max(...versions.keys()));
  }

  #launch(
    definition: AnyDefinition,
    saga: StoredSaga,
    lease: ClaimedSaga['lease'],
    how: 'created' | 'claimed' | 'redriven',
    /** When the request that leased it was sent (the lease runs from no earlier). */
    leasedAt: number,
  ) {
    const run = new SagaRun(this, definition, saga, lease, how === 'created', leasedAt);
    if (how === 'redriven') run.prepareRedrive();
    const drive = run.drive();
    const done = (this.#onSettled ? drive.then(() => this.#reportSettled(saga)) : drive).finally(
      () => {
        if (this.#running.get(saga.id)?.run === run) this.#running.delete(saga.id);
        // A free slot while work was left over at the last poll: look for it now.
        if (this.#polling && !this.closing && this.#backlog) this.#schedulePoll(0);
      },
    );
    this.#running.set(saga.id, { run, done });
  }

  /** Tells `onSettled` about the saga when its run stopped because it finished. */
  async #reportSettled(saga: StoredSaga): Promise<void> {
    try {
      const stored = await this.store.get(saga.id);
      if (stored && !ACTIVE_SAGA_STATUSES.includes(stored.status)) {
        this.#onSettled?.(toSagaState(stored));
      }
    } catch (error) {
      inSagaContext(saga, () =>
        logEvent(
          this.logger,
          'warn',
          {
            event: 'saga.on_settled_failed',
            sagaId: saga.id,
            saga: saga.name,
            error: errorRecord(error),
          },
          'onSettled could not be told about a finished saga',
        ),
      );
    }
  }

  #redriveClaimed(claimed: ClaimedSaga, leasedAt: number): void {
    const definition = this.#definitionFor(claimed.saga);
    if (!definition) {
      // Not ours to run: hand it back at once.
      void this.store
        .save(
          {
            id: claimed.saga.id,
            status: claimed.saga.status,
            log: claimed.saga.log,
            wakeInMs: 0,
            lease: 'release',
          },
          claimed.lease,
        )
        .catch(() => {});
      return;
    }
    inSagaContext(claimed.saga, () =>
      logEvent(
        this.logger,
        'info',
        { event: 'saga.redriven', sagaId: claimed.saga.id, saga: claimed.saga.name },
        'saga redriven',
      ),
    );
    this.#launch(definition, claimed.saga, claimed.lease, 'redriven', leasedAt);
  }

  async #claim(ids?: readonly string[]): Promise<number> {
    const free = this.#concurrency - this.#running.size;
    if (free <= 0 || this.closing) return 0;
    const asked = performance.now();
    const claimed = await this.store.claim({
      owner: this.#runnerId,
      leaseMs: this.leaseMs,
      limit: ids ? Math.min(free, ids.length) : free,
      statuses: ACTIVE_SAGA_STATUSES,
      names: this.#names,
      ...(ids ? { ids } : {}),
    });
    if (!ids) this.#backlog = claimed.length === free;
    for (const { saga, lease } of claimed) {
      const definition = this.#definitionFor(saga)!;
      inSagaContext(saga, () =>
        logEvent(
          this.logger,
          'info',
          { event: 'saga.resumed', sagaId: saga.id, saga: saga.name },
          'saga resumed',
        ),
      );
      this.#launch(definition, saga, lease, 'claimed', asked);
    }
    return claimed.length;
  }

  #schedulePoll(ms: number): void {
    clearTimeout(this.#poller);
    this.#poller = setTimeout(() => void this.#poll(), ms);
    this.#poller.unref?.();
  }

  async #poll(): Promise<void> {
    if (!this.#polling || this.closing) return;
    try {
      await this.#claim();
      if (this.#retain !== false && Date.now() - this.#lastPurge >= PURGE_EVERY_MS) {
        this.#lastPurge = Date.now();
        await this.purge({ olderThanMs: this.#retain, limit: PURGE_BATCH });
      }
    } catch (error) {
      // A store outage (a restart, a dropped connection) is waited out, not fatal to the runner.
      logEvent(
        this.logger,
        'warn',
        {
          event: 'saga.poll_failed',
          error: error instanceof Error ? error.message : String(error),
        },
        'saga runner poll failed; retrying',
      );
    }
    // Jitter keeps runners started together from polling in step.
    if (this.#polling && !this.closing) {
      this.#schedulePoll(Math.round(this.#pollIntervalMs * (0.75 + Math.random() * 0.5)));
    }
  }

  async #page(
    statuses: readonly SagaStatus[] | undefined,
    options: { readonly name?: string; readonly limit?: number; readonly cursor?: string },
  ): Promise<SagaPage> {
    const limit = options.limit ?? 50;
    assertInteger(limit, 'options.limit', 1, 1000);
    if (options.name !== undefined) assertNonEmptyString(options.name, 'options.name');
    if (options.cursor !== undefined) assertNonEmptyString(options.cursor, 'options.cursor');
    const rows = await this.store.list({
      limit: limit + 1,
      ...(statuses ? { statuses } : {}),
      ...(options.name ? { name: options.name } : {}),
      ...(options.cursor ? { afterId: decodeCursor(options.cursor) } : {}),
    });
    const page = rows.slice(0, limit);
    return {
      sagas: page.map(toSagaState),
      ...(rows.length > limit ? { nextCursor: encodeCursor(page[page.length - 1]!.id) } : {}),
    };
  }

  #assertOpen(): void {
    if (this.closing) {
      throw new FlowproofError('SAGAS_CLOSED', 'the saga engine was closed', { details: {} });
    }
  }
}

function assertSagaId(value: unknown, name: string): asserts value is string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > MAX_ID_LENGTH ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
    /[\u0000-\u001f\u007f]/.test(value)
  ) {
    throw new TypeError(
      `${name} must be a string of 1 to ${MAX_ID_LENGTH} characters without control characters`,
    );
  }
}

const encodeCursor = (id: string) => Buffer.from(id, 'utf8').toString('base64url');
function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (encodeCursor(id) !== cursor)
    throw new TypeError('options.cursor is not a cursor this list returned');
  return id;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, ms));
    timer.unref?.();
  });
}
