/**
 * The publisher port: how the relay hands messages to a broker. Any broker fits; flowproof ships
 * Redis Streams (`createRedisStreamsPublisher` in `flowproof/adapters/redis`) and an in-process
 * publisher for monoliths and tests (`createInProcessPublisher`).
 */
import type { StoredOutboxMessage } from './outbox-store.js';

/** A message as the relay hands it to a publisher. */
export type OutboxMessage = StoredOutboxMessage;

/**
 * What {@link OutboxPublisher.publish} resolves with: the acknowledged ids, or those with the
 * errors of messages that failed, by id. The relay records a message's own error (and
 * dead-letters it at once when the error is a `NonRetryableError`) instead of
 * `OUTBOX_PUBLISH_FAILED`.
 */
export type PublishResult =
  | readonly string[]
  | {
      /** The ids the broker acknowledged. */
      readonly acknowledged: readonly string[];
      /** Why messages were not acknowledged, by id (those missing here failed without a reason). */
      readonly failed?: ReadonlyMap<string, unknown>;
    };

/**
 * Publishes relayed messages to a broker.
 *
 * The contract a publisher keeps:
 * - `messages` come in position order; publish them in that order;
 * - return the ids of the messages the broker **acknowledged** (stored durably), and optionally
 *   why others failed ({@link PublishResult}). A message not acknowledged is retried later with
 *   backoff; throwing counts as acknowledging none;
 * - never publish a message after one **with the same key** that failed in the same call: leave it
 *   unacknowledged, so messages leave in order per key;
 * - a message may be handed over again after a crash or a timeout (delivery is at least once): a
 *   publisher that can recognise the message id (an idempotent write) should do so.
 */
export interface OutboxPublisher {
  /** Publishes `messages`; resolves with the acknowledged ids (and the failures, optionally). */
  publish(messages: readonly OutboxMessage[]): Promise<PublishResult>;
}
