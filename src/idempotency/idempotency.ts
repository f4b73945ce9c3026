/**
 * `createIdempotency`: runs a function at most once per scoped key, stores its outcome and replays
 * it to duplicates, over any {@link IdempotencyStore}.
 */
import { performance } from 'node:perf_hooks';
import { sleep } from '../core/async.js';
import { type FlowContext, getContext } from '../core/context.js';
import { describeValue, FlowproofError, isFlowproofError } from '../core/errors.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../core/logger.js';
import {
  assertFunction,
  assertInteger,
  assertKnownKeys,
  assertOptionsObject,
} from '../core/options.js';
import {
  assertStandardSchema,
  type InferSchemaOutput,
  parseWithSchema,
  type StandardSchemaV1,
} from '../core/standard-schema.js';
import type { SpanAttributes, SpanHandle } from '../core/tracing.js';
import { ERROR_CODE_ATTRIBUTE, isTracingEnabled, withSpan } from '../core/tracing.js';
import { IdempotencyInProgressError } from './errors.js';
import { canonicalJson, sha256Hex } from './fingerprint.js';
import type { ClaimResult, IdempotencyRecord, IdempotencyStore } from './idempotency-store.js';
import { encodeJsonResult, type Jsonify, NotJsonResult } from './json-result.js';
import { ResultCache } from './result-cache.js';
import {
  assertClientKey,
  assertScope,
  contextScope,
  type IdempotencyScope,
  joinKey,
  unscopedWarned,
  warnUnscoped,
} from './scope.js';

/** Turns results into text for the store and back. */
export interface ResultSerializer {
  /** Encodes a result; must return a string. */
  serialize(value: unknown): string;
  /** Decodes what `serialize` produced; throw when the text is not valid. */
  deserialize(text: string): unknown;
}

/**
 * The default serializer: `JSON.stringify` / `JSON.parse`, refusing a value the round trip would
 * not give back as it is (a `Map`, a class instance, a `bigint`, `undefined` in an array, `NaN`,
 * a function, a cycle). A value with `toJSON()` (a `Date`) is taken in its JSON form, and
 * `undefined` object members are dropped, on the first call as on replays.
 */
export const jsonSerializer: ResultSerializer = Object.freeze({
  serialize: encodeJsonResult,
  deserialize: (text: string) => JSON.parse(text) as unknown,
});

/** What happens to a failure of `fn`. */
export type ErrorOutcome = 'store' | 'release';

/** Bounded waiting for a concurrent first call, instead of failing with `IDEMPOTENCY_IN_PROGRESS`. */
export interface WaitOptions {
  /** Longest wait, in milliseconds; then `IDEMPOTENCY_IN_PROGRESS` is thrown. */
  readonly timeoutMs: number;
  /**
   * Pause between polls (each poll is one claim attempt: one round trip).
   * @default 50
   */
  readonly intervalMs?: number;
}

/**
 * What a store's `transaction` hands its callback: the backend bound to the transaction (e.g.
 * `PostgresBackend`, with `query`), which `runInTransaction` passes to `fn` as `tx`.
 */
export type StoreTransaction<S> = S extends IdempotencyStore<infer Tx> ? Tx : never;

/**
 * Options of {@link createIdempotency}.
 *
 * @typeParam S - the store's type; its transaction type ({@link StoreTransaction}) types the `tx`
 * of `runInTransaction`.
 */
export interface IdempotencyOptions<S extends IdempotencyStore<unknown> = IdempotencyStore> {
  /** Where records live: `createPostgresIdempotencyStore({ backend })`… */
  readonly store: S;
  /**
   * Operation name used when `run()` is not given one. Keys are scoped by operation: the same
   * client key on two operations means two records.
   * @default undefined (each call must name its operation)
   */
  readonly operation?: string;
  /**
   * Lease of an in-progress call, in milliseconds. A crashed owner's key can be claimed again once
   * its lease ends (by the store's clock). Renewed while `fn` runs when `heartbeat` is on.
   * @default 30000
   */
  readonly leaseMs?: number;
  /**
   * How long a completed result is kept and replayed, in milliseconds.
   * @default 86400000 (24 h)
   */
  readonly retentionMs?: number;
  /**
   * Renew the lease while `fn` runs. `true` renews every third of the lease.
   * @default true
   */
  readonly heartbeat?:
    | boolean
    | {
        /** Milliseconds between renewals; less than `leaseMs`. */
        readonly intervalMs: number;
      };
  /**
   * Chooses the request parts that make up the fingerprint (e.g. drop a client timestamp).
   * @default the whole request
   */
  readonly fingerprint?: (request: unknown) => unknown;
  /**
   * Who the key belongs to, for the current call.
   * @default the flow context's tenant and actor id
   */
  readonly scope?: (context: FlowContext | undefined) => IdempotencyScope;
  /**
   * What to do when `fn` throws: `store` records the error and replays it to duplicates (for
   * deterministic failures such as validation errors); `release` frees the key so a retry runs
   * again (for transient failures).
   * @default stores `VALIDATION_FAILED` and `IDEMPOTENCY_KEY_INVALID` errors, releases the rest
   */
  readonly onError?: (error: unknown) => ErrorOutcome;
  /**
   * Encodes results for the store and decodes them back. The first call returns what the
   * serializer decodes from its own encoding, exactly as replays do, so a serializer that revives
   * richer values (`Map`, `Date`, class instances) gives them to both. With one, `run()` is typed
   * as returning `fn`'s type; with the default, its JSON form ({@link Jsonify}).
   * @default {@link jsonSerializer} (refuses results JSON would alter)
   */
  readonly serializer?: ResultSerializer;
  /**
   * Validates results as replays will see them, on the first call as on replays (after the
   * serializer); the schema's output is returned, so it may revive values (`z.coerce.date()`).
   * A first result it refuses is not stored (`VALIDATION_FAILED`, the key released); a stored
   * result it refuses on a replay is `VALIDATION_FAILED` too. For a typed result, pass the schema
   * per call (`run(…, { resultSchema })`).
   * @default undefined (no validation beyond the serializer's)
   */
  readonly resultSchema?: StandardSchemaV1;
  /**
   * When the store cannot be reached: `fail-closed` throws `IDEMPOTENCY_UNAVAILABLE` without
   * running `fn`; `fail-open` runs `fn` unprotected (and logs a warning).
   * @default 'fail-closed'
   */
  readonly onUnavailable?: 'fail-closed' | 'fail-open';
  /**
   * When the previous owner died after `markSideEffectStarted()`: `throw` raises
   * `IDEMPOTENCY_OUTCOME_UNKNOWN`; `rerun` runs `fn` again.
   * @default 'throw'
   */
  readonly onOutcomeUnknown?: 'throw' | 'rerun';
  /**
   * Wait for a concurrent first call to finish (polling) instead of failing at once.
   * @default undefined (fail at once with `IDEMPOTENCY_IN_PROGRESS`)
   */
  readonly wait?: WaitOptions;
  /**
   * Keep completed results in process, so duplicates of recent keys cost no round trip. An entry
   * holds the stored result and, when the request's canonical JSON is at most 512 characters, the
   * request itself (a duplicate is then checked without hashing); budget memory accordingly.
   * @default undefined (no cache)
   */
  readonly cache?: {
    /** Most entries kept (least recently used are dropped). */
    readonly maxEntries: number;
    /**
     * Longest time an entry is kept, in milliseconds; never beyond the record's retention.
     * @default retentionMs
     */
    readonly ttlMs?: number;
  };
  /**
   * A pino-compatible logger for the events (claim, replay, conflict, mismatch, lease expired,
   * stale owner, outcome unknown, unavailable).
   * @default silent
   */
  readonly logger?: Logger;
}

/** Per-call options of {@link Idempotency.run}. */
export interface RunOptions {
  /** The operation; overrides the one given to {@link createIdempotency}. */
  readonly operation?: string;
  /** Who the key belongs to; overrides the `scope` option for this call. */
  readonly scope?: IdempotencyScope;
  /** Overrides `onOutcomeUnknown` for this call. */
  readonly onOutcomeUnknown?: 'throw' | 'rerun';
  /** Overrides `wait` for this call; `false` turns it off. */
  readonly wait?: WaitOptions | false;
  /**
   * Validates the result as replays see it, on the first call and on replays, and returns the
   * schema's output (so `run()` is typed by it); overrides the `resultSchema` option.
   */
  readonly resultSchema?: StandardSchemaV1;
}

/** {@link RunOptions} with a `resultSchema`: `run()` then resolves to the schema's output. */
export interface RunOptionsWithSchema<S extends StandardSchemaV1> extends RunOptions {
  /** Validates (and may revive) the result on the first call and on replays. */
  readonly resultSchema: S;
}

/** Options of {@link Idempotency.runInTransaction}. */
export interface RunInTransactionOptions<JoinTx> extends RunOptions {
  /**
   * A store bound to a transaction the application opened
   * (`store.withBackend(backend.withTransactionClient(client))`); the commit is the application's.
   */
  readonly join?: IdempotencyStore<JoinTx>;
}

/**
 * What `run()` resolves to for a result of type `R`: its JSON form ({@link Jsonify}) with the
 * default serializer, `R` itself with a custom serializer (which must revive it).
 */
export type ReplayedResult<R, CustomSerializer extends boolean> = CustomSerializer extends true
  ? R
  : Jsonify<R>;

/** What `fn` receives. */
export interface RunContext {
  /** The scoped key being run. */
  readonly key: string;
  /** The fencing token of this claim; pass it to downstream writes that can check it. */
  readonly token: number;
  /**
   * Aborted when the lease is lost (a heartbeat found the key re-claimed): stop, your outcome will
   * not be recorded.
   */
  readonly signal: AbortSignal;
  /**
   * Records, before an irreversible side effect (a charge, an email), that it is about to start.
   * If this owner then dies, duplicates get `IDEMPOTENCY_OUTCOME_UNKNOWN` instead of silently
   * running `fn` again. One round trip.
   *
   * @throws FlowproofError `IDEMPOTENCY_STALE_OWNER` (do not start the side effect: the lease is
   * lost) or `IDEMPOTENCY_UNAVAILABLE`.
   */
  markSideEffectStarted(): Promise<void>;
}

/** A claim taken by {@link Idempotency.begin}: finish it with `complete` or `fail`. */
export interface IdempotencyClaim extends RunContext {
  /**
   * Stores `value` and ends the claim. A store failure is not thrown (the work is done; it is
   * logged at error level as `idempotency.complete_failed`): the record stays in progress until its
   * lease ends, then a duplicate runs again, or gets `IDEMPOTENCY_OUTCOME_UNKNOWN` when the side
   * effect was marked. Inside `runInTransaction` it is thrown, so the transaction rolls back.
   *
   * @throws FlowproofError `IDEMPOTENCY_STALE_OWNER` when the lease was lost;
   * `IDEMPOTENCY_RESULT_UNENCODABLE` when the serializer refuses `value`, or `VALIDATION_FAILED`
   * when the `resultSchema` refuses its stored form: nothing is stored, and the key is released
   * (left to its lease when the side effect was marked).
   * @throws TypeError naming `options.serializer` when it does not return a string.
   */
  complete(value: unknown): Promise<void>;
  /**
   * Ends the claim after a failure: stores `error` for replay or releases the key, as `onError`
   * (or `outcome`) decides. A store failure is logged, not thrown, except inside
   * `runInTransaction`, where it is thrown so the transaction rolls back.
   *
   * @throws TypeError when `outcome` is neither `store` nor `release`.
   * @throws FlowproofError `IDEMPOTENCY_STALE_OWNER` when the lease was lost (the key was
   * re-claimed), so nothing was stored or released.
   */
  fail(error: unknown, outcome?: ErrorOutcome): Promise<void>;
  /**
   * Releases the key without storing anything. Never throws a store failure (it is logged).
   *
   * @throws FlowproofError `IDEMPOTENCY_STALE_OWNER` when the lease was lost (the key was
   * re-claimed).
   */
  release(): Promise<void>;
}

/** What {@link Idempotency.begin} found. */
export type BeginResult =
  | {
      /** The key was completed before: here is its result. */
      readonly type: 'replay';
      /** The stored result. */
      readonly value: unknown;
    }
  | {
      /** This call owns the key now. */
      readonly type: 'claimed';
      /** The claim to finish. */
      readonly claim: IdempotencyClaim;
    }
  | {
      /** The store is unreachable and `onUnavailable` is `fail-open`: run without protection. */
      readonly type: 'unprotected';
    };

/** Options of {@link Idempotency.cleanup}. */
export interface CleanupOptions {
  /**
   * Records deleted per round trip.
   * @default 500
   */
  readonly batchSize?: number;
  /**
   * Most batches in one call.
   * @default 100
   */
  readonly maxBatches?: number;
}

/**
 * The idempotency runner returned by {@link createIdempotency}.
 *
 * @typeParam Tx - the store's transaction type, handed to `runInTransaction`'s callback.
 * @typeParam CustomSerializer - true when a `serializer` was given: results are then typed as
 * `fn` returns them, else as their JSON form.
 */
export interface Idempotency<Tx = unknown, CustomSerializer extends boolean = false> {
  /**
   * Runs `fn` at most once per scoped key (operation + tenant/principal + `key`) and returns its
   * result; duplicates get the stored result (or the stored error, rethrown). The first call
   * returns the result as replays get it: its JSON round trip by default (a `Date` becomes its
   * ISO string, on both paths), what the serializer decodes, or the `resultSchema`'s output.
   *
   * @throws FlowproofError `IDEMPOTENCY_KEY_INVALID`, `IDEMPOTENCY_KEY_REUSED` (same key, different
   * request), `IDEMPOTENCY_IN_PROGRESS` ({@link IdempotencyInProgressError}),
   * `IDEMPOTENCY_OUTCOME_UNKNOWN`, `IDEMPOTENCY_STALE_OWNER`, `IDEMPOTENCY_UNAVAILABLE`,
   * `IDEMPOTENCY_RESULT_UNENCODABLE` (the result cannot be stored for replay; the key is
   * released), `VALIDATION_FAILED` (the `resultSchema` refused it); whatever `fn` throws. A store
   * failure after `fn` succeeded is not thrown: the result is returned and the failure logged.
   * @throws TypeError naming the option at fault (e.g. `options.scope.tenant`), or
   * `options.serializer` when it does not return a string.
   * @example
   * ```ts
   * const order = await idempotency.run(key, input, () => createOrder(input), {
   *   resultSchema: z.object({ id: z.string(), createdAt: z.coerce.date() }),
   * }); // order.createdAt is a Date, on the first call and on every replay
   * ```
   */
  run<S extends StandardSchemaV1>(
    key: string,
    request: unknown,
    fn: (context: RunContext) => unknown,
    options: RunOptionsWithSchema<S>,
  ): Promise<InferSchemaOutput<S>>;
  /**
   * Runs `fn` at most once per scoped key and returns its result as every replay gets it: the
   * JSON form ({@link Jsonify}) with the default serializer, what a custom serializer decodes.
   * Throws as the overload with a `resultSchema` does.
   */
  run<R>(
    key: string,
    request: unknown,
    fn: (context: RunContext) => Promise<R> | R,
    options?: RunOptions,
  ): Promise<ReplayedResult<R, CustomSerializer>>;
  /**
   * Runs claim, `fn` and completion in one transaction of the store's backend (SQL backends): a
   * database-only side effect done through `tx` happens exactly once. `tx` is the backend bound to
   * the transaction, typed by the store (PostgreSQL: `PostgresBackend`, with `query`). Concurrent
   * duplicates wait for the transaction to end. `fn`'s writes are rolled back when it throws; a
   * stored error (`onError` → `store`) is committed without them. With `join`, the store is one
   * bound to a transaction the application opened, and commit is the application's. Returns what
   * `run` would.
   *
   * @throws FlowproofError `TRANSACTION_UNSUPPORTED` when the store has no transactions, or (memory
   * and SQLite) when called inside a transaction of the same store; like `run`, except that a store
   * failure on completion (or on storing an error) is thrown (the transaction rolls back).
   */
  runInTransaction<R, JoinTx = Tx>(
    key: string,
    request: unknown,
    fn: (tx: JoinTx, context: RunContext) => Promise<R>,
    options?: RunInTransactionOptions<JoinTx>,
  ): Promise<ReplayedResult<R, CustomSerializer>>;
  /**
   * The two-phase form of `run`, for frameworks whose hooks split the work (Fastify's preHandler
   * and onSend): replays, throws, or hands back a claim to finish.
   *
   * @throws FlowproofError like `run`.
   */
  begin(key: string, request: unknown, options?: RunOptions): Promise<BeginResult>;
  /** Deletes records past retention in batches; returns how many were deleted. */
  cleanup(options?: CleanupOptions): Promise<number>;
}

interface Config {
  readonly store: IdempotencyStore;
  readonly operation: string | undefined;
  readonly leaseMs: number;
  readonly retentionMs: number;
  readonly heartbeatMs: number | undefined;
  readonly fingerprint: ((request: unknown) => unknown) | undefined;
  readonly scope: (context: FlowContext | undefined) => IdempotencyScope;
  readonly onError: (error: unknown) => ErrorOutcome;
  readonly serializer: ResultSerializer;
  readonly resultSchema: StandardSchemaV1 | undefined;
  readonly onUnavailable: 'fail-closed' | 'fail-open';
  readonly onOutcomeUnknown: 'throw' | 'rerun';
  readonly wait: Required<WaitOptions> | undefined;
  readonly cache: ResultCache | undefined;
  readonly logger: Logger;
  /** Name of the span around `run()` (dedupe names its own). */
  readonly spanName: string;
}

/** Stored payload prefixes: a value, `undefined`, or an error. */
const VALUE = 'v';
const UNDEFINED = 'u';
const ERROR = 'e';
const RETRY_HINT_CAP_MS = 1_000;
/** "Not in the in-process cache" (a cached result may be `undefined`). */
const MISS = Symbol('miss');

/**
 * Creates an idempotency runner over a store.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import { createIdempotency } from 'flowproof/idempotency';
 * import { createPostgresIdempotencyStore } from 'flowproof/adapters/postgres';
 *
 * const store = createPostgresIdempotencyStore({ backend });
 * await store.migrate();
 * const idempotency = createIdempotency({ store, operation: 'orders.create' });
 *
 * const order = await idempotency.run(idempotencyKey, input, async ({ markSideEffectStarted }) => {
 *   await markSideEffectStarted();
 *   return payments.charge(input); // runs once per key, whatever the retries
 * });
 * ```
 */
export function createIdempotency<S extends IdempotencyStore<unknown>>(
  options: IdempotencyOptions<S> & { readonly serializer: ResultSerializer },
): Idempotency<StoreTransaction<S>, true>;
export function createIdempotency<S extends IdempotencyStore<unknown>>(
  options: IdempotencyOptions<S>,
): Idempotency<StoreTransaction<S>>;
export function createIdempotency<S extends IdempotencyStore<unknown>>(
  options: IdempotencyOptions<S>,
): Idempotency<StoreTransaction<S>, boolean> {
  return new IdempotencyImpl(checkOptions(options, 'flowproof.idempotency.run')) as Idempotency<
    StoreTransaction<S>,
    boolean
  >;
}

/**
 * {@link createIdempotency} whose `run()` span has another name, for the modules built on it
 * (`createDedupe`).
 *
 * @internal
 */
export function createIdempotencyWithSpanName(
  options: IdempotencyOptions,
  spanName: string,
): Idempotency {
  return new IdempotencyImpl(checkOptions(options, spanName)) as Idempotency;
}

/** The keys of {@link IdempotencyOptions}, to refuse misspelled ones. */
const OPTION_KEYS: readonly string[] = [
  'store',
  'operation',
  'leaseMs',
  'retentionMs',
  'heartbeat',
  'fingerprint',
  'scope',
  'onError',
  'serializer',
  'resultSchema',
  'onUnavailable',
  'onOutcomeUnknown',
  'wait',
  'cache',
  'logger',
];
/** The keys of {@link RunOptions}. */
const RUN_OPTION_KEYS: readonly string[] = [
  'operation',
  'scope',
  'onOutcomeUnknown',
  'wait',
  'resultSchema',
];
const TRANSACTION_OPTION_KEYS: readonly string[] = [...RUN_OPTION_KEYS, 'join'];

function checkOptions(
  options: IdempotencyOptions<IdempotencyStore<unknown>>,
  spanName: string,
): Config {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, OPTION_KEYS, 'options');
  const { store } = options;
  for (const method of [
    'claim',
    'complete',
    'release',
    'heartbeat',
    'get',
    'deleteExpired',
  ] as const) {
    if (typeof (store as unknown as Record<string, unknown> | undefined)?.[method] !== 'function') {
      throw new TypeError(`options.store must be an IdempotencyStore (missing ${method}())`);
    }
  }
  if (options.operation !== undefined) checkOperation(options.operation, 'options.operation');
  const leaseMs = options.leaseMs ?? 30_000;
  assertInteger(leaseMs, 'options.leaseMs', 1, 86_400_000);
  const retentionMs = options.retentionMs ?? 86_400_000;
  assertInteger(retentionMs, 'options.retentionMs', 1, 31_536_000_000);
  let heartbeatMs: number | undefined;
  const heartbeat = options.heartbeat ?? true;
  if (heartbeat === true) heartbeatMs = Math.max(1, Math.floor(leaseMs / 3));
  else if (heartbeat !== false) {
    assertOptionsObject(heartbeat, 'options.heartbeat');
    assertKnownKeys(heartbeat, ['intervalMs'], 'options.heartbeat');
    assertInteger(heartbeat.intervalMs, 'options.heartbeat.intervalMs', 1, leaseMs - 1);
    heartbeatMs = heartbeat.intervalMs;
  }
  if (options.fingerprint !== undefined) assertFunction(options.fingerprint, 'options.fingerprint');
  if (options.scope !== undefined) assertFunction(options.scope, 'options.scope');
  if (options.onError !== undefined) assertFunction(options.onError, 'options.onError');
  const serializer = options.serializer ?? jsonSerializer;
  if (typeof serializer?.serialize !== 'function' || typeof serializer.deserialize !== 'function') {
    throw new TypeError('options.serializer must have serialize() and deserialize() methods');
  }
  if (options.resultSchema !== undefined) {
    checkResultSchema(options.resultSchema, 'options.resultSchema');
  }
  const onUnavailable = options.onUnavailable ?? 'fail-closed';
  if (onUnavailable !== 'fail-closed' && onUnavailable !== 'fail-open') {
    throw new TypeError("options.onUnavailable must be 'fail-closed' or 'fail-open'");
  }
  const onOutcomeUnknown = checkOutcomeUnknown(
    options.onOutcomeUnknown,
    'options.onOutcomeUnknown',
  );
  const wait = options.wait === undefined ? undefined : checkWait(options.wait, 'options.wait');
  let cache: ResultCache | undefined;
  if (options.cache !== undefined) {
    assertOptionsObject(options.cache, 'options.cache');
    assertKnownKeys(options.cache, ['maxEntries', 'ttlMs'], 'options.cache');
    assertInteger(options.cache.maxEntries, 'options.cache.maxEntries', 1, 10_000_000);
    const ttlMs = options.cache.ttlMs ?? retentionMs;
    assertInteger(ttlMs, 'options.cache.ttlMs', 1, retentionMs);
    cache = new ResultCache(options.cache.maxEntries, ttlMs);
  }
  const logger = options.logger ?? silentLogger;
  assertLogger(logger, 'options.logger');
  return Object.freeze({
    store,
    operation: options.operation,
    leaseMs,
    retentionMs,
    heartbeatMs,
    fingerprint: options.fingerprint,
    scope: options.scope ?? contextScope,
    onError: options.onError ?? defaultOnError,
    serializer,
    resultSchema: options.resultSchema,
    onUnavailable,
    onOutcomeUnknown,
    wait,
    cache,
    logger,
    spanName,
  });
}

/**
 * Checks an operation name: 1 to 128 printable ASCII characters without spaces.
 *
 * @throws TypeError naming `name`.
 * @internal
 */
export function checkOperation(operation: unknown, name: string): asserts operation is string {
  if (typeof operation !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(operation)) {
    throw new TypeError(`${name} must be 1 to 128 printable ASCII characters without spaces`);
  }
}

function checkResultSchema(schema: unknown, name: string): StandardSchemaV1 {
  assertStandardSchema(schema, name);
  return schema;
}

function checkOutcomeUnknown(value: unknown, name: string): 'throw' | 'rerun' {
  const checked = value ?? 'throw';
  if (checked !== 'throw' && checked !== 'rerun') {
    throw new TypeError(`${name} must be 'throw' or 'rerun'`);
  }
  return checked;
}

function checkWait(wait: WaitOptions, name: string): Required<WaitOptions> {
  assertOptionsObject(wait, name);
  assertKnownKeys(wait, ['timeoutMs', 'intervalMs'], name);
  assertInteger(wait.timeoutMs, `${name}.timeoutMs`, 0, 3_600_000);
  const intervalMs = wait.intervalMs ?? 50;
  assertInteger(intervalMs, `${name}.intervalMs`, 1, 60_000);
  return { timeoutMs: wait.timeoutMs, intervalMs };
}

function defaultOnError(error: unknown): ErrorOutcome {
  return isFlowproofError(error, 'VALIDATION_FAILED') ||
    isFlowproofError(error, 'IDEMPOTENCY_KEY_INVALID')
    ? 'store'
    : 'release';
}

/**
 * True for store failures that mean "unreachable" (as opposed to misconfigured or a bug).
 *
 * @internal
 */
export function isUnavailable(error: unknown): boolean {
  return (
    isFlowproofError(error, 'BACKEND_UNAVAILABLE') ||
    isFlowproofError(error, 'BACKEND_TIMEOUT') ||
    isFlowproofError(error, 'BACKEND_CLOSED')
  );
}

/** {@link BeginResult}, with the claim this process holds. */
type Begun = Exclude<BeginResult, { type: 'claimed' }> | { type: 'claimed'; claim: OwnedClaim };

/** Everything one call resolves before touching the store. */
interface Call {
  readonly clientKey: string;
  readonly key: string;
  readonly operation: string;
  /** The canonical JSON of the fingerprinted request parts. */
  readonly request: string;
  /** Its SHA-256, worked out on first use: a duplicate served from the cache never needs it. */
  fingerprint?: string;
  readonly onOutcomeUnknown: 'throw' | 'rerun';
  readonly wait: Required<WaitOptions> | undefined;
  readonly resultSchema: StandardSchemaV1 | undefined;
  readonly span: SpanHandle | undefined;
}

/** The runner; typed for callers through {@link Idempotency} (its results are `unknown` here). */
class IdempotencyImpl {
  readonly #config: Config;

  constructor(config: Config) {
    this.#config = config;
  }

  run<R>(
    key: string,
    request: unknown,
    fn: (context: RunContext) => Promise<R> | R,
    options: RunOptions = {},
  ): Promise<unknown> {
    // Not an async function: a duplicate served from the cache then costs one promise, not three.
    let call: Call;
    try {
      assertFunction(fn, 'fn');
      call = this.#prepare(key, request, options, RUN_OPTION_KEYS);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!isTracingEnabled()) return this.#run(call, fn);
    return withSpan(
      this.#config.spanName,
      { 'flowproof.idempotency.operation': call.operation },
      (span) => this.#run({ ...call, span }, fn),
    );
  }

  async begin(key: string, request: unknown, options: RunOptions = {}): Promise<BeginResult> {
    const call = this.#prepare(key, request, options, RUN_OPTION_KEYS);
    return this.#begin(call, this.#config.store, true);
  }

  runInTransaction<R, Tx = unknown>(
    key: string,
    request: unknown,
    fn: (tx: Tx, context: RunContext) => Promise<R>,
    options: RunInTransactionOptions<Tx> = {},
  ): Promise<unknown> {
    let call: Call;
    let base: IdempotencyStore<Tx>;
    try {
      assertFunction(fn, 'fn');
      call = this.#prepare(key, request, options, TRANSACTION_OPTION_KEYS);
      if (options.join !== undefined && typeof options.join?.claim !== 'function') {
        throw new TypeError(
          `options.join must be an IdempotencyStore bound to a transaction, got ${describeValue(options.join)}`,
        );
      }
      base = (options.join ?? this.#config.store) as IdempotencyStore<Tx>;
      if (typeof base.transaction !== 'function') {
        throw new FlowproofError(
          'TRANSACTION_UNSUPPORTED',
          `The ${base.kind} idempotency store has no transactions; use run()`,
          { details: { store: base.kind } },
        );
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const join = options.join;
    if (!isTracingEnabled()) return this.#runInTransaction(call, base, join, fn);
    return withSpan(
      'flowproof.idempotency.run_in_transaction',
      { 'flowproof.idempotency.operation': call.operation },
      (span) => this.#runInTransaction({ ...call, span }, base, join, fn),
    );
  }

  async cleanup(options: CleanupOptions = {}): Promise<number> {
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, ['batchSize', 'maxBatches'], 'options');
    const batchSize = options.batchSize ?? 500;
    assertInteger(batchSize, 'options.batchSize', 1, 100_000);
    const maxBatches = options.maxBatches ?? 100;
    assertInteger(maxBatches, 'options.maxBatches', 1, 1_000_000);
    let total = 0;
    for (let i = 0; i < maxBatches; i += 1) {
      const deleted = await this.#config.store.deleteExpired(batchSize);
      total += deleted;
      if (deleted < batchSize) break;
    }
    if (total > 0) {
      logEvent(
        this.#config.logger,
        'debug',
        { event: 'idempotency.cleanup', deleted: total },
        'Deleted expired idempotency records',
      );
    }
    return total;
  }

  async #runInTransaction<R, Tx>(
    call: Call,
    base: IdempotencyStore<Tx>,
    join: IdempotencyStore<Tx> | undefined,
    fn: (tx: Tx, context: RunContext) => Promise<R>,
  ): Promise<unknown> {
    const inTransaction = async (txStore: IdempotencyStore<Tx>): Promise<Outcome> => {
      const begun = await this.#begin(call, txStore, false);
      if (begun.type === 'replay') return { value: begun.value };
      if (begun.type === 'unprotected') {
        throw new FlowproofError('IDEMPOTENCY_UNAVAILABLE', 'The idempotency store is unavailable');
      }
      const { claim } = begun;
      let value: R;
      try {
        // A savepoint: fn's writes roll back on their own when it throws.
        value = await (txStore.transaction as NonNullable<IdempotencyStore<Tx>['transaction']>)(
          (_, tx) => fn(tx, claim),
        );
      } catch (error) {
        if (this.#config.onError(error) !== 'store') throw error;
        await failKeepingError(claim, error, 'store');
        return { error };
      }
      return { value: await claim.settle(value) };
    };
    const outcome = join
      ? await inTransaction(join)
      : await (base.transaction as NonNullable<IdempotencyStore<Tx>['transaction']>)((txStore) =>
          inTransaction(txStore),
        );
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  }

  #prepare(key: string, request: unknown, options: RunOptions, knownKeys: readonly string[]): Call {
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, knownKeys, 'options');
    const operation = options.operation ?? this.#config.operation;
    if (operation === undefined) {
      throw new TypeError('options.operation is required (here or in createIdempotency)');
    }
    if (options.operation !== undefined) checkOperation(operation, 'options.operation');
    assertClientKey(key);
    let scope: IdempotencyScope;
    if (options.scope === undefined) {
      scope = this.#config.scope(getContext());
      // The default reads the flow context, whose tenant and actor id are checked when it is set.
      if (this.#config.scope !== contextScope) assertScope(scope, 'options.scope()');
      else if (scope.tenant === undefined && scope.principal === undefined && !unscopedWarned()) {
        warnUnscoped(
          `flowproof: idempotency keys of operation ${operation} are not scoped (no scope option, and no tenant or actor in the flow context), so callers sending the same key and request share one record. Run inside runWithContext({ tenant, actor }), pass scope: { tenant, principal }, or scope: () => ({}) if every caller is the same client.`,
        );
      }
    } else {
      assertScope(options.scope, 'options.scope');
      scope = options.scope;
    }
    const parts = this.#config.fingerprint ? this.#config.fingerprint(request) : request;
    return {
      clientKey: key,
      key: joinKey(operation, key, scope),
      operation,
      request: parts === undefined ? 'null' : canonicalJson(parts),
      onOutcomeUnknown:
        options.onOutcomeUnknown === undefined
          ? this.#config.onOutcomeUnknown
          : checkOutcomeUnknown(options.onOutcomeUnknown, 'options.onOutcomeUnknown'),
      wait:
        options.wait === undefined
          ? this.#config.wait
          : options.wait === false
            ? undefined
            : checkWait(options.wait, 'options.wait'),
      resultSchema:
        options.resultSchema === undefined
          ? this.#config.resultSchema
          : checkResultSchema(options.resultSchema, 'options.resultSchema'),
      span: undefined,
    };
  }

  async #run<R>(call: Call, fn: (context: RunContext) => Promise<R> | R): Promise<unknown> {
    const cached = this.#fromCache(call);
    if (cached !== MISS) return cached;
    const begun = await this.#begin(call, this.#config.store, true);
    if (begun.type === 'replay') return begun.value;
    if (begun.type === 'unprotected') {
      const value = await fn({
        key: call.key,
        token: 0,
        signal: new AbortController().signal,
        markSideEffectStarted: async () => {},
      });
      // Nothing is stored, but the caller gets what a protected run would have returned.
      const left = 'nothing was stored (the store is unavailable and onUnavailable is fail-open)';
      return (await encodeResult(this.#config, call, value, left)).replayed;
    }
    const { claim } = begun;
    let value: R;
    try {
      value = await fn(claim);
    } catch (error) {
      await failKeepingError(claim, error, undefined);
      throw error;
    }
    // A store failure here is logged, not thrown: fn's work is done (see OwnedClaim.settle).
    return claim.settle(value);
  }

  async #begin(call: Call, store: IdempotencyStore, live: boolean): Promise<Begun> {
    const cached = this.#fromCache(call);
    if (cached !== MISS) return { type: 'replay', value: await cached };
    const { cache } = this.#config;
    const deadline = call.wait ? performance.now() + call.wait.timeoutMs : 0;
    for (;;) {
      let claimed: ClaimResult;
      try {
        claimed = await store.claim({
          key: call.key,
          fingerprint: fingerprintOf(call),
          leaseMs: this.#config.leaseMs,
          retentionMs: this.#config.retentionMs,
          reclaimStarted: call.onOutcomeUnknown === 'rerun',
        });
      } catch (error) {
        if (!isUnavailable(error)) throw error;
        if (this.#config.onUnavailable === 'fail-open') {
          this.#event(call, 'warn', 'unavailable', { failOpen: true });
          return { type: 'unprotected' };
        }
        this.#event(call, 'error', 'unavailable', { failOpen: false });
        throw new FlowproofError(
          'IDEMPOTENCY_UNAVAILABLE',
          'The idempotency store is unavailable, so the operation was not run',
          { cause: error, details: { operation: call.operation } },
        );
      }
      const { record } = claimed;
      if (claimed.claimed) {
        if (claimed.reclaimed === 'lease-expired') {
          this.#event(call, 'warn', 'lease_expired', {
            token: record.token,
            sideEffectStarted: false,
          });
        }
        this.#event(call, 'debug', 'claim', { token: record.token });
        return { type: 'claimed', claim: this.#claim(call, store, record, live) };
      }
      if (record.fingerprint !== fingerprintOf(call)) this.#mismatch(call);
      if (record.status === 'completed') {
        this.#event(call, 'debug', 'replay', { cached: false });
        const payload = record.result ?? UNDEFINED;
        // Inside a transaction the record may be one written by this, still uncommitted,
        // transaction (a joined one): caching it would outlive a rollback.
        if (live) {
          cache?.set(
            call.key,
            call.request,
            record.fingerprint,
            payload,
            record.expiresAt - record.now,
          );
        }
        return { type: 'replay', value: await this.#decode(payload, call) };
      }
      if (
        record.status === 'in_progress' &&
        record.sideEffectStarted &&
        record.leaseExpiresAt <= record.now
      ) {
        // The claim did not take it over: its owner reported a started side effect, then died.
        this.#event(call, 'error', 'outcome_unknown', { token: record.token });
        throw new FlowproofError(
          'IDEMPOTENCY_OUTCOME_UNKNOWN',
          `The previous call for this key stopped after starting its side effect, so whether it happened is unknown; reconcile, then re-run with onOutcomeUnknown: 'rerun'`,
          { details: { operation: call.operation, token: record.token } },
        );
      }
      const retryAfterMs = Math.max(
        1,
        Math.min(RETRY_HINT_CAP_MS, record.leaseExpiresAt - record.now),
      );
      if (call.wait) {
        const remaining = deadline - performance.now();
        if (remaining > 0) {
          await sleep(Math.min(call.wait.intervalMs, remaining));
          continue;
        }
      }
      this.#event(call, 'info', 'conflict', { retryAfterMs });
      throw new IdempotencyInProgressError(
        'Another call with this idempotency key is in progress',
        retryAfterMs,
        { details: { operation: call.operation } },
      );
    }
  }

  #claim(
    call: Call,
    store: IdempotencyStore,
    record: IdempotencyRecord,
    live: boolean,
  ): OwnedClaim {
    return new OwnedClaim(this.#config, call, store, record.token, live);
  }

  /** The cached result of a completed duplicate (or a promise of it), or {@link MISS}. */
  #fromCache(call: Call): unknown {
    const hit = this.#config.cache?.get(call.key);
    if (!hit) return MISS;
    // A short request is kept in the entry and compared as text, saving the hash.
    if (
      hit.request === undefined
        ? hit.fingerprint !== fingerprintOf(call)
        : hit.request !== call.request
    ) {
      this.#mismatch(call);
    }
    this.#event(call, 'debug', 'replay', { cached: true });
    return this.#decode(hit.payload, call);
  }

  /** The stored result; a promise only when an asynchronous `resultSchema` validates it. */
  #decode(payload: string, call: Call): unknown {
    const kind = payload[0];
    if (kind === UNDEFINED) return undefined;
    if (kind === ERROR) throw decodeError(payload.slice(1), () => this.#corrupt(call, 'error'));
    if (kind !== VALUE) throw this.#corrupt(call, 'result');
    let value: unknown;
    try {
      value = this.#config.serializer.deserialize(payload.slice(1));
    } catch (error) {
      throw this.#corrupt(call, 'result', error);
    }
    if (!call.resultSchema) return value;
    return parseWithSchema(call.resultSchema, value, 'stored idempotent result');
  }

  /**
   * The stored record cannot be decoded: it was written or changed outside flowproof (or by a
   * serializer that no longer reads what it wrote). A server-side fault, never the client's.
   */
  #corrupt(call: Call, field: 'result' | 'error', cause?: unknown): FlowproofError {
    return new FlowproofError(
      'STORE_DATA_CORRUPT',
      `The idempotency store holds a ${field} for a key of operation ${call.operation} that cannot be decoded; it was written or changed outside flowproof: repair or delete the record`,
      {
        ...(cause === undefined ? {} : { cause }),
        details: {
          backend: this.#config.store.kind,
          component: 'idempotency',
          id: call.key,
          field,
        },
      },
    );
  }

  #mismatch(call: Call): never {
    this.#event(call, 'warn', 'mismatch', {});
    throw new FlowproofError(
      'IDEMPOTENCY_KEY_REUSED',
      'This idempotency key was already used with a different request',
      { details: { operation: call.operation } },
    );
  }

  #event(
    call: Call,
    level: 'debug' | 'info' | 'warn' | 'error',
    event: string,
    fields: Record<string, unknown>,
  ): void {
    emit(this.#config, call, level, event, fields);
  }
}

/** The call's fingerprint: SHA-256 of its canonical request, computed once. */
function fingerprintOf(call: Call): string {
  call.fingerprint ??= sha256Hex(call.request);
  return call.fingerprint;
}

/**
 * Logs an event and marks the call's span with it. `message` overrides the event's usual one;
 * `error` (a store failure) tags the span event with its code.
 */
function emit(
  config: Config,
  call: Call,
  level: 'debug' | 'info' | 'warn' | 'error',
  event: string,
  fields: Record<string, unknown>,
  message?: string,
  error?: unknown,
): void {
  const { span } = call;
  if (span) {
    span.addEvent(`idempotency.${event}`, error === undefined ? {} : errorAttributes(error));
    if (OUTCOME_EVENTS.has(event)) span.setAttribute('flowproof.idempotency.outcome', event);
  }
  // Most runners log nothing: do not build the record for the silent logger.
  if (config.logger === silentLogger) return;
  const record: Record<string, unknown> = {
    event: `idempotency.${event}`,
    operation: call.operation,
    idempotencyKey: call.clientKey,
    ...fields,
  };
  if (error !== undefined) record.err = error;
  logEvent(config.logger, level, record, message ?? MESSAGES[event] ?? event);
}

function errorAttributes(error: unknown): SpanAttributes {
  const attributes: SpanAttributes = {
    'exception.type': error instanceof Error ? error.name : typeof error,
  };
  if (isFlowproofError(error)) attributes[ERROR_CODE_ATTRIBUTE] = error.code;
  return attributes;
}

/**
 * Ends a claim after `fn` failed, keeping `fn`'s error for the caller: a stale-owner rejection of
 * the release (or stored error) is already logged as `idempotency.stale_owner`, and the caller
 * needs to know why `fn` failed more than that its lease had run out.
 */
async function failKeepingError(
  claim: IdempotencyClaim,
  error: unknown,
  outcome: ErrorOutcome | undefined,
): Promise<void> {
  try {
    await claim.fail(error, outcome);
  } catch (failure) {
    if (!isFlowproofError(failure, 'IDEMPOTENCY_STALE_OWNER')) throw failure;
  }
}

/** Events that say how the call ended, recorded as the span's outcome attribute. */
const OUTCOME_EVENTS: ReadonlySet<string> = new Set([
  'replay',
  'claim',
  'conflict',
  'mismatch',
  'outcome_unknown',
]);

/**
 * A claim this process holds: renews its lease while `fn` runs, and finishes it. A class rather
 * than closures: a claim is made for every new key, and its methods are shared.
 */
class OwnedClaim implements IdempotencyClaim {
  readonly key: string;
  readonly token: number;
  readonly #config: Config;
  readonly #call: Call;
  readonly #store: IdempotencyStore;
  readonly #live: boolean;
  #sideEffectStarted = false;
  #finished = false;
  #renewing = false;
  #timer: NodeJS.Timeout | undefined;
  /** Made on first use of `signal`: an AbortController costs more than the rest of a claim. */
  #controller: AbortController | undefined;
  #abortReason: unknown;

  constructor(config: Config, call: Call, store: IdempotencyStore, token: number, live: boolean) {
    this.key = call.key;
    this.token = token;
    this.#config = config;
    this.#call = call;
    this.#store = store;
    this.#live = live;
    // Inside a transaction the record is invisible to others until commit: no lease to renew, and
    // nothing to cache before the commit.
    if (live && config.heartbeatMs !== undefined) {
      this.#timer = setInterval(() => this.#renew(), config.heartbeatMs);
      this.#timer.unref();
    }
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  markSideEffectStarted = async (): Promise<void> => {
    let renewed: boolean;
    try {
      renewed = await this.#store.heartbeat(this.key, this.token, this.#config.leaseMs, true);
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      throw new FlowproofError(
        'IDEMPOTENCY_UNAVAILABLE',
        'The idempotency store is unavailable: do not start the side effect',
        { cause: error, details: { operation: this.#call.operation } },
      );
    }
    if (!renewed) throw this.#staleOwner('side-effect mark');
    this.#sideEffectStarted = true;
  };

  async complete(value: unknown): Promise<void> {
    await this.settle(value);
  }

  /**
   * Stores `value` like {@link complete} and returns it as every replay will: decoded from what
   * was stored, then validated by the call's `resultSchema`. A value that cannot be stored so (the
   * serializer refuses it, or the schema rejects its stored form) is not stored: the key is
   * released (left to its lease when the side effect was marked) and the failure thrown.
   */
  async settle(value: unknown): Promise<unknown> {
    const config = this.#config;
    const call = this.#call;
    // Encoded before the claim counts as finished, so an unencodable result still ends it.
    let payload: string;
    let replayed: unknown;
    try {
      ({ payload, replayed } = await encodeResult(
        config,
        call,
        value,
        leftAs(this.#sideEffectStarted),
      ));
    } catch (error) {
      return this.#refuse(error);
    }
    this.#stop();
    let stored: boolean;
    try {
      stored = await this.#store.complete(this.key, this.token, payload, config.retentionMs);
    } catch (error) {
      // Inside a transaction the failure must reach it, so fn's writes roll back with the claim.
      if (!this.#live) throw error;
      this.#completeFailed(error);
      return replayed;
    }
    if (!stored) throw this.#staleOwner('completion');
    if (this.#live) {
      config.cache?.set(this.key, call.request, fingerprintOf(call), payload, config.retentionMs);
    }
    emit(config, call, 'debug', 'complete', { token: this.token });
    return replayed;
  }

  async fail(error: unknown, outcome?: ErrorOutcome): Promise<void> {
    if (outcome !== undefined && outcome !== 'store' && outcome !== 'release') {
      throw new TypeError(`outcome must be 'store' or 'release', got ${describeValue(outcome)}`);
    }
    this.#stop();
    const config = this.#config;
    if ((outcome ?? config.onError(error)) === 'release') {
      if (!(await this.#release('error'))) throw this.#staleOwner('release');
      return;
    }
    let stored: boolean;
    try {
      const payload = ERROR + JSON.stringify(encodeError(error));
      stored = await this.#store.complete(this.key, this.token, payload, config.retentionMs);
    } catch (storeError) {
      // Inside a transaction the failure must reach it, so it rolls back with the claim instead
      // of committing a record left in progress.
      if (!this.#live) throw storeError;
      emit(
        config,
        this.#call,
        'error',
        'complete_failed',
        { token: this.token, storedError: true },
        'Could not store a failed outcome; the key stays in progress until its lease ends',
        storeError,
      );
      return;
    }
    if (!stored) throw this.#staleOwner('completion');
    emit(config, this.#call, 'debug', 'complete', { token: this.token, storedError: true });
  }

  async release(): Promise<void> {
    this.#stop();
    if (!(await this.#release('released'))) throw this.#staleOwner('release');
  }

  /**
   * The store could not record a result `fn` produced. The result is still returned (the work is
   * done, and failing the call would invite a retry that repeats it); the record stays in progress
   * until its lease ends, and what a duplicate then gets is said in the log line.
   */
  #completeFailed(error: unknown): void {
    const started = this.#sideEffectStarted;
    emit(
      this.#config,
      this.#call,
      'error',
      'complete_failed',
      {
        token: this.token,
        sideEffectStarted: started,
        afterLease: started ? 'outcome_unknown' : 'rerun',
      },
      started
        ? 'Could not store an idempotent result (it was returned): the key stays in progress until its lease ends, then duplicates get IDEMPOTENCY_OUTCOME_UNKNOWN'
        : 'Could not store an idempotent result (it was returned): the key stays in progress until its lease ends, then a duplicate runs the operation again',
      error,
    );
  }

  /**
   * `fn` ran, but its result cannot be stored so that a replay gets it back, so nothing is stored.
   * As for a failure of `fn` that `onError` releases, the key is released and a retry runs `fn`
   * again; storing the error instead would replay a programmer error for the whole retention. But
   * when `fn` marked its side effect as started, a retry must not silently repeat it: the record
   * is left to its lease, as after a crash, and duplicates then get `IDEMPOTENCY_OUTCOME_UNKNOWN`.
   */
  async #refuse(error: unknown): Promise<never> {
    this.#stop();
    if (!this.#sideEffectStarted && !(await this.#release('unencodable'))) {
      this.#staleOwner('release');
    }
    throw error;
  }

  #renew(): void {
    if (this.#renewing || this.#finished) return;
    this.#renewing = true;
    const config = this.#config;
    this.#store
      .heartbeat(this.key, this.token, config.leaseMs, this.#sideEffectStarted)
      .then((renewed) => {
        if (!renewed && !this.#finished) {
          this.#stop();
          this.#abort(this.#staleOwner('heartbeat'));
        }
      })
      .catch((error: unknown) => {
        logEvent(
          config.logger,
          'warn',
          { event: 'idempotency.heartbeat_failed', operation: this.#call.operation, err: error },
          'Could not renew an idempotency lease',
        );
      })
      .finally(() => {
        this.#renewing = false;
      });
  }

  #abort(reason: unknown): void {
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  #stop(): void {
    this.#finished = true;
    if (this.#timer) clearInterval(this.#timer);
  }

  /**
   * Releases the key. False when the fencing token rejected it (a stale owner: the caller reports
   * it); a store failure is logged, not thrown, since the key becomes claimable when its lease ends.
   */
  async #release(why: string): Promise<boolean> {
    try {
      if (!(await this.#store.release(this.key, this.token))) return false;
    } catch (error) {
      emit(
        this.#config,
        this.#call,
        'error',
        'release_failed',
        { token: this.token },
        'Could not release an idempotency key; it becomes claimable when its lease ends',
        error,
      );
      return true;
    }
    emit(this.#config, this.#call, 'debug', 'release', { token: this.token, why });
    return true;
  }

  #staleOwner(what: string): FlowproofError {
    emit(this.#config, this.#call, 'warn', 'stale_owner', { token: this.token, rejected: what });
    return new FlowproofError(
      'IDEMPOTENCY_STALE_OWNER',
      `This call lost its lease on the key (another call re-claimed it), so its ${what} was rejected`,
      { details: { operation: this.#call.operation, token: this.token } },
    );
  }
}

type Outcome = { readonly value: unknown } | { readonly error: unknown };

/** What becomes of the key after a refused result, for messages. */
function leftAs(sideEffectStarted: boolean): string {
  return sideEffectStarted
    ? 'the result was not stored, and since the side effect was marked started the key is left to its lease (then IDEMPOTENCY_OUTCOME_UNKNOWN)'
    : 'the result was not stored and the key was released, so a retry runs fn again';
}

/**
 * Encodes `value` for the store and gives it back as every replay will see it: decoded from that
 * encoding, then validated by the call's `resultSchema`. `left` says, in messages, what became of
 * the key.
 *
 * @throws FlowproofError `IDEMPOTENCY_RESULT_UNENCODABLE` (the serializer refused the value) or
 * `VALIDATION_FAILED` (the schema refused its stored form); TypeError naming `options.serializer`
 * when it does not return a string.
 */
async function encodeResult(
  config: Config,
  call: Call,
  value: unknown,
  left: string,
): Promise<{ payload: string; replayed: unknown }> {
  let payload = UNDEFINED;
  let replayed: unknown;
  if (value !== undefined) {
    let text: unknown;
    try {
      text = config.serializer.serialize(value);
      if (typeof text === 'string') replayed = config.serializer.deserialize(text);
    } catch (error) {
      throw unencodable(call, error, left);
    }
    if (typeof text !== 'string') {
      throw new TypeError(
        `options.serializer.serialize() must return a string, got ${describeValue(text)}; ${left}`,
      );
    }
    payload = VALUE + text;
  }
  if (call.resultSchema) {
    replayed = await parseWithSchema(call.resultSchema, replayed, 'idempotent result');
  }
  return { payload, replayed };
}

/** `IDEMPOTENCY_RESULT_UNENCODABLE` for a result the serializer refused (`cause`). */
function unencodable(call: Call, cause: unknown, left: string): FlowproofError {
  const path = cause instanceof NotJsonResult ? cause.path : undefined;
  const why = cause instanceof Error ? cause.message : String(cause);
  return new FlowproofError(
    'IDEMPOTENCY_RESULT_UNENCODABLE',
    `The result of fn cannot be stored for replay (${why}); ${left}`,
    { cause, details: { operation: call.operation, ...(path === undefined ? {} : { path }) } },
  );
}

const MESSAGES: Record<string, string> = {
  claim: 'Claimed an idempotency key',
  replay: 'Replayed a stored idempotent result',
  conflict: 'A call with this idempotency key is already in progress',
  mismatch: 'An idempotency key was reused with a different request',
  lease_expired: 'Re-claimed an idempotency key whose lease had expired',
  stale_owner: 'Rejected a write from a call that lost its lease',
  outcome_unknown: 'The outcome of an earlier call for this key is unknown',
  unavailable: 'The idempotency store is unavailable',
  complete: 'Stored an idempotent result',
  release: 'Released an idempotency key',
};

interface StoredError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

function encodeError(error: unknown): StoredError {
  if (error instanceof FlowproofError) {
    return { name: error.name, message: error.message, code: error.code, details: error.details };
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string'
      ? { name: error.name, message: error.message, code }
      : { name: error.name, message: error.message };
  }
  return { name: 'Error', message: String(error) };
}

function decodeError(text: string, corrupt: () => FlowproofError): Error {
  let stored: StoredError;
  try {
    stored = JSON.parse(text) as StoredError;
  } catch {
    throw corrupt();
  }
  if (typeof stored !== 'object' || stored === null || typeof stored.message !== 'string') {
    throw corrupt();
  }
  if (stored.name === 'FlowproofError' && typeof stored.code === 'string') {
    return new FlowproofError(stored.code as FlowproofError['code'], stored.message, {
      details: stored.details ?? {},
    });
  }
  const error = new Error(stored.message);
  error.name = stored.name;
  if (stored.code !== undefined) (error as Error & { code?: string }).code = stored.code;
  return error;
}
