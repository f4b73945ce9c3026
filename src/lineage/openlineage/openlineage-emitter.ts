/**
 * The OpenLineage emitter: turns pipeline runs, recorded fields, failed calculations and sagas
 * into OpenLineage events and sends them through a transport, off the caller's path. Events wait
 * in a bounded queue, leave in order, and a batch that fails is retried with backoff; what still
 * cannot be delivered is logged, and reported by `flush()`.
 */
import pRetry from 'p-retry';
import { describeValue, FlowproofError, isFlowproofError } from '../../core/errors.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../../core/logger.js';
import {
  assertFunction,
  assertInteger,
  assertKnownKeys,
  assertOptionsObject,
} from '../../core/options.js';
import {
  assertRetryPolicy,
  isRetryable,
  type ResolvedRetryPolicy,
  type RetryPolicy,
  resolveRetryPolicy,
} from '../../core/retry-policy.js';
import { withSpan } from '../../core/tracing.js';
import type { SagaState } from '../../saga/saga-log.js';
import type { FieldLineage, PipelineRunLineage } from '../lineage-records.js';
import {
  type DerivationFailure,
  derivationFailureEvents,
  fieldLineageEvents,
} from './field-events.js';
import {
  assertText,
  type OpenLineageEventOptions,
  type OpenLineageRunEvent,
  type OpenLineageRunRef,
  resolveEventOptions,
} from './openlineage-event.js';
import type { OpenLineageTransport } from './openlineage-transport.js';
import { pipelineRunEvents } from './pipeline-run-events.js';
import { sagaEvents } from './saga-events.js';

/** Options of {@link createOpenLineageEmitter}. */
export interface OpenLineageEmitterOptions {
  /** The namespace of the jobs and of flowproof's own datasets, e.g. `checkout-service`. */
  readonly namespace: string;
  /**
   * URI of the software that made the events.
   * @default flowproof's package page for this version
   */
  readonly producer?: string;
  /** Where events go: `createHttpTransport`, `createFileTransport`, or your own. */
  readonly transport: OpenLineageTransport;
  /**
   * Where delivery failures are logged (pino fits).
   * @default silent
   */
  readonly logger?: Logger;
  /**
   * How many events may wait; events emitted while the queue is full are dropped (logged, and
   * reported by `flush()`), so a backend that is down never holds the application's memory.
   * @default 10000
   */
  readonly maxQueue?: number;
  /**
   * At most this many events per `transport.send` call.
   * @default 50
   */
  readonly batchSize?: number;
  /**
   * How a batch that fails is retried (p-retry's options).
   * @default { retries: 5, minTimeout: 500, maxTimeout: 30000, factor: 2, randomize: true }
   */
  readonly retry?: RetryPolicy;
}

/** Options of each `emit…` method. */
export interface EmitOptions {
  /**
   * The run that spawned this one, for the `parent` facet.
   * @default none
   */
  readonly parent?: OpenLineageRunRef;
}

/** Sends OpenLineage events; made by {@link createOpenLineageEmitter}. */
export interface OpenLineageEmitter {
  /** The namespace of the jobs it reports. */
  readonly namespace: string;
  /**
   * Queues the `START` and `COMPLETE`/`FAIL` events of a pipeline run; returns at once.
   * @throws TypeError naming the option when an option is invalid.
   */
  emitPipelineRun(run: PipelineRunLineage, options?: EmitOptions): void;
  /**
   * Queues the events of a recorded field's provenance (one run per calculation); returns at once.
   * @throws TypeError naming the option when an option is invalid.
   */
  emitField(field: FieldLineage, options?: EmitOptions): void;
  /**
   * Queues the `START` and `FAIL` events of a calculation that threw; returns at once.
   * @throws TypeError naming the argument or option when one is invalid.
   */
  emitDerivationFailure(failure: DerivationFailure, options?: EmitOptions): void;
  /**
   * Queues a saga's `START` and, once it has finished, `COMPLETE`, `ABORT` or `FAIL` events; returns
   * at once. Pass it as the saga engine's `onSettled` to report every saga as it settles:
   * `createSagas({ …, onSettled: (saga) => openLineage.emitSaga(saga) })`.
   * @throws TypeError naming the argument or option when one is invalid.
   */
  emitSaga(saga: SagaState<unknown>, options?: EmitOptions): void;
  /**
   * Queues events built elsewhere (by `pipelineRunEvents`, `fieldLineageEvents`, …); returns at once.
   */
  emitEvents(events: readonly OpenLineageRunEvent[]): void;
  /**
   * Resolves once every event queued so far has been sent, or given up on.
   * @throws FlowproofError `LINEAGE_EXPORT_FAILED` when events queued since the last `flush()`
   * could not be delivered (`cause`: the last failure).
   */
  flush(): Promise<void>;
  /**
   * Flushes, then closes the transport; later events are dropped (and logged). Idempotent. Once a
   * batch is given up while closing, the events still queued are given up with it.
   * @throws FlowproofError `LINEAGE_EXPORT_FAILED` as {@link OpenLineageEmitter.flush} does.
   */
  close(): Promise<void>;
  /** Same as {@link OpenLineageEmitter.close}. */
  [Symbol.asyncDispose](): Promise<void>;
}

const KEYS = ['namespace', 'producer', 'transport', 'logger', 'maxQueue', 'batchSize', 'retry'];

const DEFAULT_RETRY: ResolvedRetryPolicy = Object.freeze({
  retries: 5,
  factor: 2,
  minTimeout: 500,
  maxTimeout: 30_000,
  randomize: true,
  shouldRetry: undefined,
});

/**
 * Creates an emitter sending OpenLineage events through `options.transport`.
 *
 * Emitting never blocks or fails the caller's flow: events are queued (at most `maxQueue`) and
 * sent in order, `batchSize` at a time, in the background. A batch the transport fails to send is
 * retried with backoff (`retry`), unless the transport says retrying cannot help (an HTTP 4xx);
 * a batch that is still not delivered is dropped and logged at `error` with code
 * `LINEAGE_EXPORT_FAILED` (`transport`, `status` when the backend answered), and the next
 * `flush()` rejects with that code.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const openLineage = createOpenLineageEmitter({
 *   namespace: 'checkout',
 *   transport: createHttpTransport({ url: 'http://marquez:5000' }),
 *   logger,
 * });
 * openLineage.emitPipelineRun(run);
 * await openLineage.close(); // at shutdown
 * ```
 */
export function createOpenLineageEmitter(options: OpenLineageEmitterOptions): OpenLineageEmitter {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, KEYS, 'options');
  const { namespace, producer } = resolveEventOptions({
    namespace: options.namespace,
    ...(options.producer === undefined ? {} : { producer: options.producer }),
  });
  const { transport, logger = silentLogger, maxQueue = 10_000, batchSize = 50 } = options;
  assertOptionsObject(transport, 'options.transport');
  assertText(transport.name, 'options.transport.name');
  assertFunction(transport.send, 'options.transport.send');
  if (transport.close !== undefined) assertFunction(transport.close, 'options.transport.close');
  assertLogger(logger, 'options.logger');
  assertInteger(maxQueue, 'options.maxQueue', 1, 10_000_000);
  assertInteger(batchSize, 'options.batchSize', 1, 10_000);
  if (options.retry !== undefined) assertRetryPolicy(options.retry, 'options.retry');
  return new Emitter({
    namespace,
    producer,
    transport,
    logger,
    maxQueue,
    batchSize,
    retry: resolveRetryPolicy(options.retry, DEFAULT_RETRY),
  });
}

interface EmitterConfig {
  readonly namespace: string;
  readonly producer: string;
  readonly transport: OpenLineageTransport;
  readonly logger: Logger;
  readonly maxQueue: number;
  readonly batchSize: number;
  readonly retry: ResolvedRetryPolicy;
}

class Emitter implements OpenLineageEmitter {
  readonly #config: EmitterConfig;
  /** Events waiting, oldest first; the batch being sent stays at the head until it is done. */
  readonly #queue: OpenLineageRunEvent[] = [];
  #sending: Promise<void> | undefined;
  /** Events given up on since the last flush, and the last failure. */
  #undelivered = 0;
  #lastFailure: unknown;
  #full = false;
  #closed: Promise<void> | undefined;

  constructor(config: EmitterConfig) {
    this.#config = config;
  }

  get namespace(): string {
    return this.#config.namespace;
  }

  emitPipelineRun(run: PipelineRunLineage, options?: EmitOptions): void {
    this.emitEvents(pipelineRunEvents(run, this.#eventOptions(options)));
  }

  emitField(field: FieldLineage, options?: EmitOptions): void {
    this.emitEvents(fieldLineageEvents(field, this.#eventOptions(options)));
  }

  emitDerivationFailure(failure: DerivationFailure, options?: EmitOptions): void {
    this.emitEvents(derivationFailureEvents(failure, this.#eventOptions(options)));
  }

  emitSaga(saga: SagaState<unknown>, options?: EmitOptions): void {
    this.emitEvents(sagaEvents(saga, this.#eventOptions(options)));
  }

  emitEvents(events: readonly OpenLineageRunEvent[]): void {
    if (!Array.isArray(events)) {
      throw new TypeError(`events must be an array, got ${describeValue(events)}`);
    }
    if (events.length === 0) return;
    const { logger, transport, maxQueue } = this.#config;
    if (this.#closed !== undefined) {
      logEvent(
        logger,
        'warn',
        { event: 'lineage.openlineage.dropped', code: 'LINEAGE_CLOSED', events: events.length },
        'OpenLineage events emitted after close() were dropped',
      );
      return;
    }
    if (this.#queue.length + events.length > maxQueue) {
      this.#undelivered += events.length;
      this.#lastFailure = new FlowproofError(
        'LINEAGE_EXPORT_FAILED',
        `The OpenLineage queue is full (${maxQueue} events)`,
        { details: { transport: transport.name } },
      );
      // Once per overflow, not once per event: a backend that is down would flood the log.
      if (!this.#full) {
        this.#full = true;
        logEvent(
          logger,
          'error',
          {
            event: 'lineage.openlineage.dropped',
            code: 'LINEAGE_EXPORT_FAILED',
            transport: transport.name,
            maxQueue,
          },
          'The OpenLineage queue is full; new events are dropped until it drains',
        );
      }
      return;
    }
    this.#full = false;
    this.#queue.push(...events);
    this.#send();
  }

  async flush(): Promise<void> {
    while (this.#sending !== undefined) await this.#sending;
    if (this.#undelivered === 0) return;
    const count = this.#undelivered;
    const cause = this.#lastFailure;
    this.#undelivered = 0;
    this.#lastFailure = undefined;
    const status = isFlowproofError(cause, 'LINEAGE_EXPORT_FAILED')
      ? (cause.details as { status?: unknown }).status
      : undefined;
    throw new FlowproofError(
      'LINEAGE_EXPORT_FAILED',
      `${count} OpenLineage event(s) could not be delivered`,
      {
        cause,
        details: {
          transport: this.#config.transport.name,
          ...(typeof status === 'number' ? { status } : {}),
        },
      },
    );
  }

  close(): Promise<void> {
    this.#closed ??= this.flush().finally(() => this.#closeTransport());
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #closeTransport(): Promise<void> {
    const { transport } = this.#config;
    try {
      await transport.close?.();
    } catch (error) {
      throw new FlowproofError(
        'LINEAGE_EXPORT_FAILED',
        `The OpenLineage transport ${transport.name} failed to close`,
        { cause: error, details: { transport: transport.name } },
      );
    }
  }

  #eventOptions(options: EmitOptions | undefined): OpenLineageEventOptions {
    if (options !== undefined) {
      assertOptionsObject(options, 'options');
      assertKnownKeys(options, ['parent'], 'options');
    }
    const { namespace, producer } = this.#config;
    return options?.parent === undefined
      ? { namespace, producer }
      : { namespace, producer, parent: options.parent };
  }

  /** Starts sending in the background, unless it is already. */
  #send(): void {
    if (this.#sending !== undefined) return;
    this.#sending = this.#sendAll().finally(() => {
      this.#sending = undefined;
    });
  }

  async #sendAll(): Promise<void> {
    const { batchSize, transport, retry } = this.#config;
    while (this.#queue.length > 0) {
      const batch = this.#queue.slice(0, batchSize);
      try {
        const attributes = {
          'flowproof.lineage.transport': transport.name,
          'flowproof.lineage.events': batch.length,
        };
        await pRetry(
          () => withSpan('lineage.openlineage.send', attributes, () => transport.send(batch)),
          {
            retries: retry.retries,
            factor: retry.factor,
            minTimeout: retry.minTimeout,
            maxTimeout: retry.maxTimeout,
            randomize: retry.randomize,
            shouldRetry: ({ error }) => isRetryable(retry, error),
          },
        );
      } catch (error) {
        // Shutting down, a backend that refused a batch through all its retries gets no more
        // tries: waiting out the retries of every batch left would hold close() for minutes.
        const count = this.#closed === undefined ? batch.length : this.#queue.length;
        this.#giveUp(count, error);
        this.#queue.splice(0, count);
        continue;
      }
      this.#queue.splice(0, batch.length);
    }
  }

  #giveUp(count: number, error: unknown): void {
    const { logger, transport } = this.#config;
    const failure = isFlowproofError(error, 'LINEAGE_EXPORT_FAILED')
      ? error
      : new FlowproofError(
          'LINEAGE_EXPORT_FAILED',
          `The OpenLineage transport ${transport.name} failed`,
          { cause: error, details: { transport: transport.name } },
        );
    this.#undelivered += count;
    this.#lastFailure = failure;
    const { status } = failure.details as { status?: unknown };
    logEvent(
      logger,
      'error',
      {
        event: 'lineage.openlineage.failed',
        code: 'LINEAGE_EXPORT_FAILED',
        transport: transport.name,
        ...(typeof status === 'number' ? { status } : {}),
        events: count,
        error: failure.message,
      },
      'OpenLineage events could not be delivered',
    );
  }
}
