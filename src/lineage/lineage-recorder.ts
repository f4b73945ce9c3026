/**
 * The lineage recorder: stores traced values per entity and field, explains them back, turns a
 * validation pipeline's stage events into run records, and keeps the store's size in check.
 */
import { CanonicalJsonError, canonicalJson } from '../core/canonical-json.js';
import { parseInstant, toUtcIso } from '../core/clock.js';
import { getContext } from '../core/context.js';
import { describeValue, FlowproofError } from '../core/errors.js';
import { createId } from '../core/ids.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../core/logger.js';
import {
  assertFunction,
  assertInteger,
  assertOptionsObject,
  assertSignal,
  readable,
  readObject,
  unreadable,
  unstorableText,
} from '../core/options.js';
import { MADE_BY_PIPELINE, type StageEvent } from '../validation/stage.js';
import { Explanation, type PipelineStep, stepsForField } from './explanation.js';
import type { FieldLineage, PipelineRunLineage, StageLineage } from './lineage-records.js';
import type { LineageAppend, LineageRow, LineageStore } from './lineage-store.js';
import type { DerivationFailure } from './openlineage/field-events.js';
import {
  type DerivedInputValues,
  derive,
  isTraced,
  type Provenance,
  type Traced,
} from './provenance.js';

/**
 * Where the recorder sends OpenLineage events: an emitter from `createOpenLineageEmitter`, or
 * anything with the same methods. Each call must return at once (queue and send later).
 */
export interface LineageEventSink {
  /** Called once per finished pipeline run. */
  emitPipelineRun(run: PipelineRunLineage): void;
  /** Called once per recorded field. */
  emitField(field: FieldLineage): void;
  /** Called when a calculation run through the recorder's `derive` throws. */
  emitDerivationFailure(failure: DerivationFailure): void;
}

/** Options of {@link createLineage}. */
export interface LineageOptions<S extends LineageStore<never>> {
  /** Where lineage records are kept (`createPostgresLineageStore`, …); migrated by you. */
  readonly store: S;
  /**
   * A pino-compatible logger, for records that could not be written (pipeline runs are written
   * in the background).
   * @default silentLogger
   */
  readonly logger?: Logger;
  /**
   * Sends OpenLineage events for pipeline runs, recorded fields and failed derivations
   * (`createOpenLineageEmitter`).
   * @default undefined
   */
  readonly openLineage?: LineageEventSink;
  /**
   * How long a finished pipeline run may wait before its record is written, in milliseconds.
   * Runs are written in batches, off the pipeline's path.
   * @default 100
   */
  readonly flushIntervalMs?: number;
  /**
   * At most this many run records wait to be written; beyond it the oldest are dropped (and
   * counted in a logged warning), so a store outage cannot exhaust memory.
   * @default 10000
   */
  readonly maxPendingRuns?: number;
}

/** Options of {@link Lineage.record}. */
export interface RecordLineageOptions<Tx> {
  /**
   * The store's backend bound to your transaction: the lineage commits or rolls back with the
   * values it explains.
   */
  readonly transaction?: Tx;
}

/** Options of {@link Lineage.explain}. */
export interface ExplainOptions {
  /**
   * Explain the value as it was at this time (the newest record at or before it).
   * @default now
   */
  readonly at?: Date | string;
}

/** Options of {@link Lineage.history}. */
export interface LineageHistoryOptions {
  /**
   * At most this many records, newest first.
   * @default 50
   */
  readonly limit?: number;
  /** The `cursor` of the previous page. */
  readonly cursor?: string;
}

/** A page of {@link Lineage.history}. */
export interface LineageHistoryPage {
  /** The field's records, newest first. */
  readonly records: readonly FieldLineage[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  readonly cursor?: string;
}

/** Options of {@link Lineage.purge}. */
export interface LineagePurgeOptions {
  /**
   * Delete records older than this many milliseconds (by the store's clock). Give this or
   * `before`.
   */
  readonly olderThanMs?: number;
  /** Delete records appended before this instant. Give this or `olderThanMs`. */
  readonly before?: Date | string;
  /**
   * Rows deleted per statement; each batch is one short statement.
   * @default 1000
   */
  readonly batchSize?: number;
  /** Stops between batches; the purge resolves with what it deleted so far. */
  readonly signal?: AbortSignal;
  /** Called after each batch with the running total. */
  readonly onProgress?: (deleted: number) => void;
}

/** What {@link Lineage.purge} did. */
export interface LineagePurgeReport {
  /** Records deleted. */
  readonly deleted: number;
  /** Statements run. */
  readonly batches: number;
  /** The cutoff used (ISO-8601 UTC). */
  readonly before: string;
  /** Whether the signal stopped it before every expired record was gone. */
  readonly aborted: boolean;
}

/**
 * Records and explains lineage. Create with {@link createLineage}.
 *
 * @typeParam Tx - the store's transaction handle (what `record`'s `transaction` takes).
 */
export interface Lineage<Tx> {
  /**
   * Stores the provenance of `fields` of `entity`, one record per field, all or none, with the
   * flow context's correlation and causation ids.
   *
   * @throws TypeError naming the argument when the entity or a field is malformed or a field's
   * value is not a traced value.
   * @throws FlowproofError `LINEAGE_VALUE_UNENCODABLE` when a value in a field's provenance is
   * not JSON data (nothing is written); `LINEAGE_CLOSED` after `close()`.
   * @example
   * ```ts
   * await lineage.record('order:ORD-12345', { total, subtotal }, { transaction });
   * ```
   */
  record(
    entity: string,
    fields: Readonly<Record<string, Traced<unknown>>>,
    options?: RecordLineageOptions<Tx>,
  ): Promise<readonly FieldLineage[]>;
  /**
   * The newest recorded lineage of `entity`'s `field` (or the one current at `options.at`), with
   * the pipeline stages under the same correlation id that touched the field; `undefined` when
   * nothing was recorded.
   */
  explain(
    entity: string,
    field: string,
    options?: ExplainOptions,
  ): Promise<Explanation | undefined>;
  /** The field's records, newest first, a page at a time: how its calculation changed. */
  history(
    entity: string,
    field: string,
    options?: LineageHistoryOptions,
  ): Promise<LineageHistoryPage>;
  /** The pipeline runs recorded under `correlationId`, oldest first. */
  runs(correlationId: string): Promise<readonly PipelineRunLineage[]>;
  /**
   * A validation pipeline's `onStage` hook: `pipeline('create-order', { onStage: lineage.onStage })`.
   * Each finished run becomes one run record, written in the background in batches.
   */
  readonly onStage: (event: StageEvent) => void;
  /**
   * `derive`, with a failed calculation reported to the OpenLineage sink as a failed run. Same
   * arguments and result as the standalone `derive`.
   */
  derive<const I extends Readonly<Record<string, unknown>>, R>(
    name: string,
    version: string,
    inputs: I,
    fn: (values: DerivedInputValues<I>) => R,
  ): ReturnType<typeof derive<I, R>>;
  /** Writes the pipeline runs waiting to be written. */
  flush(): Promise<void>;
  /**
   * Deletes records older than a cutoff in bounded batches (retention by age).
   *
   * @throws TypeError naming the option when an option is invalid.
   */
  purge(options: LineagePurgeOptions): Promise<LineagePurgeReport>;
  /** Writes what is pending and stops the recorder. Does not close the store. Idempotent. */
  close(): Promise<void>;
}

/** The transaction handle a lineage store takes. */
export type LineageTxOf<S> = S extends LineageStore<infer Tx> ? Tx : never;

const MAX_ENTITY_LENGTH = 512;
/** How much of a value's path an error message shows (its end); the whole is in its details. */
const MAX_PATH_IN_MESSAGE = 120;
const RUNS_PAGE = 500;
/** Pending runs are written in batches of at most this many. */
const MAX_BATCH = 500;
/** Runs whose last stage never reported (a run aborted between stages) are forgotten past this. */
const MAX_OPEN_RUNS = 10_000;

/** The earliest time a `Date` can hold. */
const EARLIEST_INSTANT_MS = -8.64e15;

/**
 * Creates a lineage recorder over `options.store`.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const store = createPostgresLineageStore({ backend });
 * await store.migrate();
 * const lineage = createLineage({ store });
 * const total = derive('order-total', 'v2.3.1', { subtotal, taxRate }, ({ subtotal, taxRate }) =>
 *   subtotal * (1 + taxRate));
 * await lineage.record('order:ORD-12345', { total });
 * const explanation = await lineage.explain('order:ORD-12345', 'total');
 * console.log(explanation?.toMarkdown());
 * ```
 */
export function createLineage<S extends LineageStore<never>>(
  options: LineageOptions<S>,
): Lineage<LineageTxOf<S>> {
  options = readObject(
    options,
    'options',
    'store logger openLineage flushIntervalMs maxPendingRuns',
  ) as unknown as LineageOptions<S>;
  const store = options.store as unknown as LineageStore<LineageTxOf<S>>;
  assertOptionsObject(store, 'options.store');
  for (const method of ['append', 'latest', 'history', 'byCorrelation', 'purge', 'withBackend']) {
    const found = readable(
      'options.store',
      () => (store as unknown as Record<string, unknown>)[method],
    );
    if (typeof found !== 'function') {
      throw new TypeError(`options.store must be a lineage store (missing ${method}())`);
    }
  }
  const logger = options.logger ?? silentLogger;
  if (options.logger !== undefined) assertLogger(options.logger, 'options.logger');
  const sink = options.openLineage;
  if (sink !== undefined) {
    assertOptionsObject(sink, 'options.openLineage');
    for (const method of ['emitPipelineRun', 'emitField', 'emitDerivationFailure'] as const) {
      assertFunction(
        readable('options.openLineage', () => sink[method]),
        `options.openLineage.${method}`,
      );
    }
  }
  const flushIntervalMs = options.flushIntervalMs ?? 100;
  assertInteger(flushIntervalMs, 'options.flushIntervalMs', 0);
  const maxPendingRuns = options.maxPendingRuns ?? 10_000;
  assertInteger(maxPendingRuns, 'options.maxPendingRuns', 1);
  return new LineageRecorder(store, logger, sink, flushIntervalMs, maxPendingRuns);
}

/** A run whose stages are still arriving. @internal */
export class OpenRun {
  readonly stages: StageEvent[] = [];
  /** Set when the run's last stage reported. */
  endedAt = 0;
  failed = false;
  /** The record's id, made when it is first needed (off the pipeline's path when possible). */
  id: string | undefined;
  constructor(
    readonly runId: string,
    readonly pipeline: string,
    readonly startedAt: number,
    readonly correlationId: string | undefined,
    readonly causationId: string | undefined,
  ) {}
}

class LineageRecorder<Tx> implements Lineage<Tx> {
  readonly #store: LineageStore<Tx>;
  readonly #logger: Logger;
  readonly #sink: LineageEventSink | undefined;
  readonly #flushIntervalMs: number;
  readonly #maxPendingRuns: number;
  /**
   * The run whose stages arrived last. A synchronous run reports all its stages in a row, so it
   * never needs the map; interleaved asynchronous runs wait in {@link #open}.
   */
  #current: OpenRun | undefined;
  readonly #open = new Map<string, OpenRun>();
  #pending: OpenRun[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> | undefined;
  #dropped = 0;
  #closed = false;

  constructor(
    store: LineageStore<Tx>,
    logger: Logger,
    sink: LineageEventSink | undefined,
    flushIntervalMs: number,
    maxPendingRuns: number,
  ) {
    this.#store = store;
    this.#logger = logger;
    this.#sink = sink;
    this.#flushIntervalMs = flushIntervalMs;
    this.#maxPendingRuns = maxPendingRuns;
  }

  async record(
    entity: string,
    fields: Readonly<Record<string, Traced<unknown>>>,
    options: RecordLineageOptions<Tx> = {},
  ): Promise<readonly FieldLineage[]> {
    checkText(entity, 'entity');
    fields = readObject(fields, 'fields') as Record<string, Traced<unknown>>;
    options = readObject(options, 'options', 'transaction') as RecordLineageOptions<Tx>;
    const names = Object.keys(fields);
    if (names.length === 0) throw new TypeError('fields must name at least one field');
    this.#assertOpen();
    const context = getContext();
    const appends: LineageAppend[] = names.map((field) => {
      checkText(field, `fields key ${JSON.stringify(field)}: a field name`);
      const traced = fields[field];
      if (!isTraced(traced)) {
        throw new TypeError(
          `fields.${field} must be a traced value (from sourced() or derive()), got ${describeValue(traced)}`,
        );
      }
      return {
        id: createId(),
        kind: 'value',
        entity,
        field,
        job: null,
        runId: null,
        correlationId: context?.correlationId ?? null,
        causationId: context?.causationId ?? null,
        body: valueBody(entity, field, traced.provenance),
      };
    });
    const store =
      options.transaction === undefined ? this.#store : this.#storeIn(options.transaction);
    const rows = await store.append(appends);
    const recorded = rows.map((row) => fieldLineage(row, this.#store.kind));
    if (this.#sink !== undefined) for (const field of recorded) this.#emit('emitField', field);
    return recorded;
  }

  async explain(
    entity: string,
    field: string,
    options: ExplainOptions = {},
  ): Promise<Explanation | undefined> {
    checkText(entity, 'entity');
    checkText(field, 'field');
    options = readObject(options, 'options', 'at') as ExplainOptions;
    const at = options.at === undefined ? undefined : instantMs(options.at, 'options.at');
    this.#assertOpen();
    const row = await this.#store.latest(entity, field, at);
    if (row === undefined) return undefined;
    const recorded = fieldLineage(row, this.#store.kind);
    let steps: readonly PipelineStep[] = [];
    if (recorded.correlationId !== undefined) {
      if (this.#pending.length > 0 || this.#writing !== undefined) await this.flush();
      steps = stepsForField(await this.runs(recorded.correlationId), field);
    }
    return new Explanation(recorded, steps);
  }

  async history(
    entity: string,
    field: string,
    options: LineageHistoryOptions = {},
  ): Promise<LineageHistoryPage> {
    checkText(entity, 'entity');
    checkText(field, 'field');
    options = readObject(options, 'options', 'limit cursor') as LineageHistoryOptions;
    const limit = options.limit ?? 50;
    // One more row is read to learn whether a next page exists.
    assertInteger(limit, 'options.limit', 1, Number.MAX_SAFE_INTEGER - 1);
    const before = options.cursor === undefined ? undefined : readCursor(options.cursor);
    this.#assertOpen();
    const rows = await this.#store.history({
      entity,
      field,
      limit: limit + 1,
      ...(before === undefined ? {} : { before }),
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      records: page.map((row) => fieldLineage(row, this.#store.kind)),
      ...(rows.length > limit && last ? { cursor: writeCursor(last) } : {}),
    };
  }

  async runs(correlationId: string): Promise<readonly PipelineRunLineage[]> {
    checkText(correlationId, 'correlationId');
    this.#assertOpen();
    const runs: PipelineRunLineage[] = [];
    let after: LineageRow | undefined;
    for (;;) {
      const rows = await this.#store.byCorrelation({
        correlationId,
        kind: 'run',
        limit: RUNS_PAGE,
        ...(after === undefined ? {} : { after: { recordedAt: after.recordedAt, id: after.id } }),
      });
      for (const row of rows) runs.push(pipelineRunLineage(row, this.#store.kind));
      if (rows.length < RUNS_PAGE) return runs;
      after = rows.at(-1);
    }
  }

  readonly onStage = (event: StageEvent): void => {
    if (this.#closed) return;
    event = stageEvent(event);
    let run = this.#current;
    if (run?.runId !== event.runId) {
      if (run !== undefined && run.endedAt === 0) this.#park(run);
      run = this.#open.get(event.runId);
      if (run === undefined) {
        run = new OpenRun(
          event.runId,
          event.pipeline,
          Math.round(Date.now() - event.durationMs),
          event.correlationId,
          getContext()?.causationId,
        );
      } else {
        this.#open.delete(event.runId);
      }
      this.#current = run;
    }
    run.stages.push(event);
    const failed = event.outcome === 'rejected' || event.outcome === 'dead-lettered';
    if (!failed && event.index < event.stageCount - 1) return;
    run.endedAt = Date.now();
    run.failed = failed;
    this.#current = undefined;
    this.#finish(run);
  };

  /** Keeps a run whose next stage has not reported yet, while another run's stages arrive. */
  #park(run: OpenRun): void {
    if (this.#open.size >= MAX_OPEN_RUNS) {
      // Runs aborted between stages never report their last stage; forget the oldest.
      this.#open.delete(this.#open.keys().next().value as string);
    }
    this.#open.set(run.runId, run);
  }

  derive<const I extends Readonly<Record<string, unknown>>, R>(
    name: string,
    version: string,
    inputs: I,
    fn: (values: DerivedInputValues<I>) => R,
  ): ReturnType<typeof derive<I, R>> {
    if (this.#sink === undefined) return derive(name, version, inputs, fn);
    const startedAt = Date.now();
    const failed = (error: unknown): never => {
      this.#emit('emitDerivationFailure', {
        name,
        version,
        startedAt,
        endedAt: Date.now(),
        error,
      });
      throw error;
    };
    // Argument errors are the caller's mistake, not a failed run: derive throws them before fn.
    const result = derive(name, version, inputs, (values) => {
      try {
        return fn(values);
      } catch (error) {
        return failed(error);
      }
    });
    if (result instanceof Promise) return result.catch(failed) as typeof result;
    return result;
  }

  async flush(): Promise<void> {
    while (this.#writing !== undefined || this.#pending.length > 0) {
      if (this.#writing === undefined) this.#write();
      await this.#writing;
    }
  }

  async purge(options: LineagePurgeOptions): Promise<LineagePurgeReport> {
    options = readObject(
      options,
      'options',
      'olderThanMs before batchSize signal onProgress',
    ) as LineagePurgeOptions;
    const { olderThanMs, signal, onProgress } = options;
    if ((olderThanMs === undefined) === (options.before === undefined)) {
      throw new TypeError('options must give exactly one of olderThanMs and before');
    }
    if (olderThanMs !== undefined) assertInteger(olderThanMs, 'options.olderThanMs', 0);
    const batchSize = options.batchSize ?? 1000;
    assertInteger(batchSize, 'options.batchSize', 1);
    assertSignal(signal);
    if (onProgress !== undefined) assertFunction(onProgress, 'options.onProgress');
    const before =
      options.before !== undefined
        ? instantMs(options.before, 'options.before')
        : // No earlier instant exists: an age beyond it keeps everything.
          Math.max(
            EARLIEST_INSTANT_MS,
            (await this.#store.now()).getTime() - (olderThanMs as number),
          );
    this.#assertOpen();
    let deleted = 0;
    let batches = 0;
    for (;;) {
      if (signal?.aborted) {
        return { deleted, batches, before: toUtcIso(new Date(before)), aborted: true };
      }
      const count = await this.#store.purge({ before, limit: batchSize });
      batches++;
      deleted += count;
      onProgress?.(deleted);
      if (count < batchSize) {
        return { deleted, batches, before: toUtcIso(new Date(before)), aborted: false };
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#open.clear();
    this.#current = undefined;
    await this.flush();
  }

  /** The store bound to `transaction`: a backend of the store's kind, bound to a transaction. */
  #storeIn(transaction: Tx): LineageStore<Tx> {
    const bound = readable(
      'options.transaction',
      () => (transaction as { readonly inTransaction?: unknown } | null)?.inTransaction,
    );
    if (bound === false) {
      throw new TypeError(
        'options.transaction must be a backend bound to a transaction (the one backend.transaction() passes to its callback); leave it out to record on its own',
      );
    }
    try {
      return this.#store.withBackend(transaction);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      throw new TypeError(
        `options.transaction must be a transaction of this lineage store's backend: ${error.message}`,
        { cause: error },
      );
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new FlowproofError('LINEAGE_CLOSED', 'The lineage recorder is closed');
  }

  #finish(run: OpenRun): void {
    if (this.#pending.length >= this.#maxPendingRuns) {
      this.#pending.shift();
      this.#dropped++;
    }
    this.#pending.push(run);
    if (this.#sink !== undefined) this.#emit('emitPipelineRun', pipelineRun(run));
    if (this.#pending.length >= MAX_BATCH) {
      if (this.#writing === undefined) this.#write();
    } else if (this.#timer === undefined && this.#writing === undefined) {
      this.#timer = setTimeout(() => this.#write(), this.#flushIntervalMs);
      this.#timer.unref?.();
    }
  }

  /** Writes one batch of pending runs; schedules the next while any remain. */
  #write(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending.splice(0, MAX_BATCH);
    if (batch.length === 0) return;
    const dropped = this.#dropped;
    this.#dropped = 0;
    if (dropped > 0) {
      logEvent(
        this.#logger,
        'warn',
        { dropped },
        'lineage: pipeline runs dropped, more were waiting than maxPendingRuns',
      );
    }
    // Encoding inside the promise: an event whose getters passed onStage's checks and now throw
    // is logged with the store's failures, never thrown from the timer.
    this.#writing = Promise.resolve(batch)
      .then((runs) => this.#store.append(runs.map(runAppend)))
      .then(
        () => undefined,
        (error: unknown) => {
          logEvent(
            this.#logger,
            'error',
            { runs: batch.length, error: error instanceof Error ? error.message : String(error) },
            'lineage: pipeline runs could not be written',
          );
        },
      );
    void this.#writing.then(() => {
      this.#writing = undefined;
      if (this.#pending.length > 0) this.#write();
    });
  }

  #emit<M extends keyof LineageEventSink>(
    method: M,
    argument: Parameters<LineageEventSink[M]>[0],
  ): void {
    try {
      (this.#sink as LineageEventSink)[method](argument as never);
    } catch (error) {
      // Exporting lineage must never fail the flow it describes.
      logEvent(
        this.#logger,
        'error',
        { method, error: error instanceof Error ? error.message : String(error) },
        'lineage: the OpenLineage sink threw',
      );
    }
  }
}

const STAGE_EVENT_TEXTS = ['pipeline', 'stage', 'runId', 'kind', 'boundary', 'outcome'] as const;
const STAGE_EVENT_FIELDS = [
  'fieldsIn',
  'fieldsOut',
  'fieldsChanged',
  'fieldsAdded',
  'fieldsDropped',
  'fieldsMasked',
] as const;

/**
 * `event` read once and checked, so that what the background writer stores later cannot throw:
 * `onStage` is handed to pipelines, but it is public and anyone may call it.
 */
function stageEvent(event: unknown): StageEvent {
  if (typeof event !== 'object' || event === null) {
    throw new TypeError(`event must be an object, got ${describeValue(event)}`);
  }
  // A pipeline's own event is well formed: the check is for events from anywhere else.
  const brand = readable(
    'event',
    () => (event as { [MADE_BY_PIPELINE]?: unknown })[MADE_BY_PIPELINE],
  );
  if (brand === true) {
    return event as StageEvent;
  }
  // Each member read once and checked. The event itself is kept, not the copy: keeping a copy of
  // every stage's event costs more than all the checks (the writer guards against later surprises).
  let read: Record<keyof StageEvent, unknown>;
  try {
    const e = event as Record<string, unknown>;
    read = {
      pipeline: e.pipeline,
      stage: e.stage,
      index: e.index,
      boundary: e.boundary,
      kind: e.kind,
      outcome: e.outcome,
      durationMs: e.durationMs,
      fieldsIn: e.fieldsIn,
      fieldsOut: e.fieldsOut,
      fieldsChanged: e.fieldsChanged,
      fieldsAdded: e.fieldsAdded,
      fieldsDropped: e.fieldsDropped,
      fieldsMasked: e.fieldsMasked,
      runId: e.runId,
      stageCount: e.stageCount,
      correlationId: e.correlationId,
      error: e.error,
    };
  } catch (cause) {
    throw unreadable('event', cause);
  }
  for (const key of STAGE_EVENT_TEXTS) {
    if (typeof read[key] !== 'string') {
      throw new TypeError(`event.${key} must be a string, got ${describeValue(read[key])}`);
    }
  }
  assertInteger(read.index, 'event.index', 0);
  assertInteger(read.stageCount, 'event.stageCount', 1);
  // At most the time since the epoch: the run's start is its end minus this.
  if (
    typeof read.durationMs !== 'number' ||
    !(read.durationMs >= 0 && read.durationMs <= Date.now())
  ) {
    throw new TypeError(
      `event.durationMs must be a number of milliseconds from 0 to now, got ${describeValue(read.durationMs)}`,
    );
  }
  if (read.correlationId !== undefined && typeof read.correlationId !== 'string') {
    throw new TypeError(
      `event.correlationId must be a string or undefined, got ${describeValue(read.correlationId)}`,
    );
  }
  // Reading the arrays and the error may run a proxy's traps: what they throw names the member.
  let member = 'event.error';
  try {
    for (const key of STAGE_EVENT_FIELDS) {
      member = `event.${key}`;
      const fields = read[key];
      if (!Array.isArray(fields) || !fields.every(isText)) {
        throw new TypeError(`${member} must be an array of field names`);
      }
    }
    member = 'event.error';
    const error = read.error as { code?: unknown; message?: unknown } | undefined;
    if (
      error !== undefined &&
      (typeof error?.code !== 'string' || typeof error.message !== 'string')
    ) {
      throw new TypeError(`${member} must be undefined or an error with a string code and message`);
    }
  } catch (cause) {
    throw cause instanceof TypeError && cause.message.startsWith(member)
      ? cause
      : unreadable(member, cause);
  }
  return event as StageEvent;
}

function isText(value: unknown): value is string {
  return typeof value === 'string';
}

function valueBody(entity: string, field: string, provenance: Provenance): string {
  try {
    // `document` mode keeps the inputs in the order the calculation named them, writes a Date as
    // its ISO text and leaves out undefined members, as JSON.stringify would; functions, BigInt,
    // cycles and the like are refused, with their path.
    return `{"v":1,"provenance":${canonicalJson(provenance, 'provenance', 'document')}}`;
  } catch (error) {
    const path = error instanceof CanonicalJsonError ? error.path.replace(/^\./, '') : '';
    // The message names the path's end only: in a deep tree the whole path runs to kilobytes, and
    // it is in details.path.
    const problem =
      error instanceof CanonicalJsonError
        ? error.message.slice(`provenance${error.path}`.length).trim()
        : (error as Error).message;
    const where = path.length > MAX_PATH_IN_MESSAGE ? `…${path.slice(-MAX_PATH_IN_MESSAGE)}` : path;
    throw new FlowproofError(
      'LINEAGE_VALUE_UNENCODABLE',
      `The lineage of ${entity}.${field} cannot be recorded: ${where === '' ? 'the value' : where} ${problem}`,
      { details: { entity, field, path }, cause: error },
    );
  }
}

/**
 * A finished run as a record. The body is compact: the first stage's input fields once, and per
 * stage only the fields it changed, added, dropped or masks (each stage's input and output fields
 * follow from those; see {@link stagesOf}), with times as epoch milliseconds.
 */
function runAppend(run: OpenRun): LineageAppend {
  run.id ??= createId();
  return {
    id: run.id,
    kind: 'run',
    entity: null,
    field: null,
    job: run.pipeline,
    runId: run.runId,
    correlationId: run.correlationId ?? null,
    causationId: run.causationId ?? null,
    body: runBody(run),
  };
}

const json = JSON.stringify;

/**
 * {@link storedRun}'s JSON text, written member by member: the same text `JSON.stringify` gives
 * (a test holds them equal), in half its time, which matters because every pipeline run makes
 * one. Strings and lists still go through `JSON.stringify`, which escapes them.
 */
/** @internal exported for its test */
export function runBody(run: OpenRun): string {
  let text = `{"v":1,"type":"pipeline","state":"${run.failed ? 'FAIL' : 'COMPLETE'}","startedAt":${run.startedAt},"endedAt":${run.endedAt},"fieldsIn":${json(run.stages[0]?.fieldsIn ?? [])},"stages":[`;
  for (let i = 0; i < run.stages.length; i++) {
    const event = run.stages[i] as StageEvent;
    if (i > 0) text += ',';
    text += `{"stage":${json(event.stage)},"kind":${json(event.kind)},"boundary":${json(event.boundary)},"outcome":${json(event.outcome)},"durationUs":${Math.round(event.durationMs * 1000)}`;
    if (event.fieldsChanged.length > 0) text += `,"changed":${json(event.fieldsChanged)}`;
    if (event.fieldsAdded.length > 0) text += `,"added":${json(event.fieldsAdded)}`;
    if (event.fieldsDropped.length > 0) text += `,"dropped":${json(event.fieldsDropped)}`;
    if (event.fieldsMasked.length > 0) text += `,"masked":${json(event.fieldsMasked)}`;
    if (event.error !== undefined) {
      text += `,"error":${json({ code: event.error.code, message: event.error.message })}`;
    }
    text += '}';
  }
  return `${text}]}`;
}

/** @internal exported for its test */
export function storedRun(run: OpenRun): StoredRun {
  const stages: StoredStage[] = [];
  for (const event of run.stages) {
    const stage: StoredStage = {
      stage: event.stage,
      kind: event.kind,
      boundary: event.boundary,
      outcome: event.outcome,
      // Whole microseconds: an integer is written much faster than a fraction's shortest form.
      durationUs: Math.round(event.durationMs * 1000),
    };
    if (event.fieldsChanged.length > 0) stage.changed = event.fieldsChanged;
    if (event.fieldsAdded.length > 0) stage.added = event.fieldsAdded;
    if (event.fieldsDropped.length > 0) stage.dropped = event.fieldsDropped;
    if (event.fieldsMasked.length > 0) stage.masked = event.fieldsMasked;
    if (event.error !== undefined) {
      stage.error = { code: event.error.code, message: event.error.message };
    }
    stages.push(stage);
  }
  return {
    v: 1,
    type: 'pipeline',
    state: run.failed ? 'FAIL' : 'COMPLETE',
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    fieldsIn: run.stages[0]?.fieldsIn ?? [],
    stages,
  };
}

/** A run record's body, as {@link runAppend} writes it. */
interface StoredRun {
  readonly v: 1;
  readonly type: 'pipeline';
  readonly state: 'COMPLETE' | 'FAIL';
  readonly startedAt: number;
  readonly endedAt: number;
  readonly fieldsIn: readonly string[];
  readonly stages: readonly StoredStage[];
}

/** One stage in a run record's body; empty lists are left out. */
interface StoredStage {
  readonly stage: string;
  readonly kind: StageLineage['kind'];
  readonly boundary: string;
  readonly outcome: StageLineage['outcome'];
  readonly durationUs: number;
  changed?: readonly string[];
  added?: readonly string[];
  dropped?: readonly string[];
  masked?: readonly string[];
  error?: { readonly code: string; readonly message: string };
}

/** The stages of a stored run, each with its input and output fields worked out again. */
function stagesOf(run: StoredRun): StageLineage[] {
  let fieldsIn = run.fieldsIn;
  return run.stages.map((stage, index) => {
    const failed = stage.outcome === 'rejected' || stage.outcome === 'dead-lettered';
    const dropped = stage.dropped ?? [];
    const added = stage.added ?? [];
    const fieldsOut = failed
      ? []
      : [...fieldsIn.filter((field) => !dropped.includes(field)), ...added];
    const lineage: StageLineage = {
      stage: stage.stage,
      index,
      kind: stage.kind,
      boundary: stage.boundary,
      outcome: stage.outcome,
      durationMs: stage.durationUs / 1000,
      fieldsIn,
      fieldsOut,
      fieldsChanged: stage.changed ?? [],
      fieldsAdded: added,
      fieldsDropped: dropped,
      fieldsMasked: stage.masked ?? [],
      ...(stage.error === undefined ? {} : { error: stage.error }),
    };
    fieldsIn = fieldsOut;
    return lineage;
  });
}

/** A run as the OpenLineage sink gets it, before it is written. */
function pipelineRun(run: OpenRun): PipelineRunLineage {
  run.id ??= createId();
  return runLineage(
    run.id,
    run.pipeline,
    run.runId,
    storedRun(run),
    run.correlationId,
    run.causationId,
  );
}

/** A run as callers read it, from its stored form: the same for a run read back or just ended. */
function runLineage(
  id: string,
  pipeline: string,
  runId: string,
  body: StoredRun,
  correlationId: string | undefined,
  causationId: string | undefined,
): PipelineRunLineage {
  return {
    id,
    pipeline,
    runId,
    state: body.state === 'FAIL' ? 'FAIL' : 'COMPLETE',
    startedAt: new Date(body.startedAt).toISOString(),
    endedAt: new Date(body.endedAt).toISOString(),
    correlationId,
    causationId,
    stages: stagesOf(body),
  };
}

function fieldLineage(row: LineageRow, backend: string): FieldLineage {
  const body = parseBody(row, backend) as { provenance?: Provenance };
  if (typeof body.provenance !== 'object' || body.provenance === null) {
    corrupt(row, backend, 'provenance');
  }
  const provenance = body.provenance as Provenance;
  return {
    id: row.id,
    entity: row.entity as string,
    field: row.field as string,
    value: provenance.value,
    recordedAt: toUtcIso(new Date(row.recordedAt)),
    correlationId: row.correlationId ?? undefined,
    causationId: row.causationId ?? undefined,
    provenance,
  };
}

function pipelineRunLineage(row: LineageRow, backend: string): PipelineRunLineage {
  const body = parseBody(row, backend) as unknown as StoredRun;
  if (!Array.isArray(body.stages) || !Array.isArray(body.fieldsIn)) corrupt(row, backend, 'stages');
  if (!isTime(body.startedAt) || !isTime(body.endedAt)) corrupt(row, backend, 'times');
  return runLineage(
    row.id,
    row.job as string,
    row.runId as string,
    body,
    row.correlationId ?? undefined,
    row.causationId ?? undefined,
  );
}

/** Epoch milliseconds a `Date` can hold. */
function isTime(value: unknown): value is number {
  return Number.isSafeInteger(value) && Math.abs(value as number) <= 8.64e15;
}

function parseBody(row: LineageRow, backend: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(row.body);
  } catch {
    return corrupt(row, backend, 'body');
  }
  if (typeof body !== 'object' || body === null || (body as { v?: unknown }).v !== 1) {
    return corrupt(row, backend, 'body');
  }
  return body as Record<string, unknown>;
}

function corrupt(row: LineageRow, backend: string, field: string): never {
  throw new FlowproofError(
    'STORE_DATA_CORRUPT',
    `Lineage record ${row.id} cannot be read: its ${field} is not what the recorder writes`,
    { details: { backend, component: 'lineage', id: row.id, field } },
  );
}

function checkText(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value === '' || value.length > MAX_ENTITY_LENGTH) {
    throw new TypeError(
      `${name} must be a non-empty string of at most ${MAX_ENTITY_LENGTH} characters, got ${describeValue(value)}`,
    );
  }
  const problem = unstorableText(value);
  if (problem !== undefined) throw new TypeError(`${name} ${problem}`);
}

function instantMs(value: unknown, name: string): number {
  return parseInstant(value as Date | string, name).getTime();
}

function writeCursor(row: LineageRow): string {
  return Buffer.from(`${row.recordedAt}:${row.id}`).toString('base64url');
}

function readCursor(cursor: unknown): { recordedAt: number; id: string } {
  const text = typeof cursor === 'string' ? Buffer.from(cursor, 'base64url').toString() : '';
  const match = /^(\d{1,16}):([0-9A-HJKMNP-TV-Z]{26})$/.exec(text);
  if (match === null) {
    throw new TypeError('options.cursor must be a cursor returned by history()');
  }
  return { recordedAt: Number(match[1]), id: match[2] as string };
}
