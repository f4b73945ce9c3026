/**
 * The inbox pattern for queue consumers: each message id is handled at most once, over the same
 * stores as {@link createIdempotency}.
 */
import type { Logger } from '../core/logger.js';
import { assertFunction, assertKnownKeys, assertOptionsObject } from '../core/options.js';
import { checkOperation, createIdempotencyWithSpanName, type RunContext } from './idempotency.js';
import type { IdempotencyStore } from './idempotency-store.js';
import type { Jsonify } from './json-result.js';

/** Options of {@link createDedupe}. */
export interface DedupeOptions {
  /** Where processed message ids are recorded. */
  readonly store: IdempotencyStore;
  /**
   * Name of the consumer; ids are de-duplicated per consumer.
   * @default 'dedupe'
   */
  readonly consumer?: string;
  /**
   * Lease of a message being handled, in milliseconds (renewed while the handler runs).
   * @default 30000
   */
  readonly leaseMs?: number;
  /**
   * How long a processed id is remembered, in milliseconds: longer than the queue can redeliver.
   * @default 604800000 (7 days)
   */
  readonly retentionMs?: number;
  /**
   * A pino-compatible logger.
   * @default silent
   */
  readonly logger?: Logger;
}

/** What {@link Dedupe.dedupe} did with a message. */
export type DedupeResult<R> =
  | {
      /** The handler ran now. */
      readonly duplicate: false;
      /** What it returned. */
      readonly value: R;
    }
  | {
      /** The id was processed before; the handler did not run. */
      readonly duplicate: true;
      /** What the handler returned the first time. */
      readonly value: R;
    };

/** A de-duplicating consumer made by {@link createDedupe}. */
export interface Dedupe {
  /**
   * Runs `handler` unless `messageId` was processed before. When it throws, the id is released so a
   * redelivery runs it again. When the store fails to record a handled message, its result is still
   * returned (and the failure logged at error level): the id stays in progress until its lease
   * ends, then a redelivery runs the handler again. Each call is a `flowproof.idempotency.dedupe`
   * span (with OpenTelemetry installed), with the events of `run()`.
   *
   * @throws FlowproofError `IDEMPOTENCY_IN_PROGRESS` when another consumer is handling the same id
   * right now (nack and let the queue redeliver), `IDEMPOTENCY_KEY_INVALID` for an empty or
   * over-long id, `IDEMPOTENCY_UNAVAILABLE`; whatever `handler` throws.
   * @throws FlowproofError `IDEMPOTENCY_RESULT_UNENCODABLE` when the handler's result is not JSON
   * data (the id is released). The value returned, first time and duplicates alike, is the
   * result's JSON round trip (a `Date` is its ISO string).
   */
  dedupe<R>(
    messageId: string,
    handler: (context: RunContext) => Promise<R> | R,
  ): Promise<DedupeResult<Jsonify<R>>>;
}

/**
 * Creates an inbox de-duplicator for a queue consumer.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const inbox = createDedupe({ store, consumer: 'billing.order-created' });
 * consumer.on('message', async (message) => {
 *   await inbox.dedupe(message.id, () => billing.open(message.body));
 *   message.ack(); // a duplicate is acked without running the handler again
 * });
 * ```
 */
export function createDedupe(options: DedupeOptions): Dedupe {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['store', 'consumer', 'leaseMs', 'retentionMs', 'logger'], 'options');
  const consumer = options.consumer ?? 'dedupe';
  // Checked here so the message names this option, not the operation it becomes.
  checkOperation(consumer, 'options.consumer');
  const idempotency = createIdempotencyWithSpanName(
    {
      store: options.store,
      operation: consumer,
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
      retentionMs: options.retentionMs ?? 604_800_000,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      // Message ids are unique by themselves: no payload fingerprint, no tenant scope.
      fingerprint: () => null,
      scope: () => ({}),
      onError: () => 'release',
    },
    'flowproof.idempotency.dedupe',
  );
  return {
    async dedupe<R>(
      messageId: string,
      handler: (context: RunContext) => Promise<R> | R,
    ): Promise<DedupeResult<Jsonify<R>>> {
      assertFunction(handler, 'handler');
      // run() gives dedupe its outcome policy (release on error, the result returned when the
      // store fails to record it) and its span; whether the handler ran tells a duplicate.
      let ran = false;
      const value = await idempotency.run(messageId, null, (context) => {
        ran = true;
        return handler(context);
      });
      return { duplicate: !ran, value };
    },
  };
}
