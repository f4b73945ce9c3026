/**
 * A publisher that hands relayed messages straight to consumers in the same process: for a
 * monolith that wants the outbox's guarantees without a broker, and for tests.
 */
import { assertKnownKeys, assertOptionsObject } from '../core/options.js';
import { NonRetryableError } from '../core/retry-policy.js';
import { isPermanentFailure, type MessageConsumer } from './message-consumer.js';
import type { OutboxMessage, OutboxPublisher } from './publisher.js';

/** The publisher {@link createInProcessPublisher} makes. */
export interface InProcessPublisher extends OutboxPublisher {
  /**
   * Hands each message to its consumers; resolves with the ids all of them handled and, for the
   * others, the first consumer error (a permanent one wrapped in a `NonRetryableError`, so the
   * relay dead-letters the message at once).
   */
  publish(messages: readonly OutboxMessage[]): Promise<InProcessPublishResult>;
}

/** What {@link InProcessPublisher.publish} resolves with. */
export interface InProcessPublishResult {
  /** The ids every subscribed consumer handled (or had handled). */
  readonly acknowledged: readonly string[];
  /** The first consumer error of each message not acknowledged, by id. */
  readonly failed: ReadonlyMap<string, unknown>;
}

/** Options of {@link createInProcessPublisher}. */
export interface InProcessPublisherOptions {
  /** The consumers; each message goes to every consumer with a handler for its topic. */
  readonly consumers: readonly MessageConsumer[];
}

/**
 * Creates a publisher that delivers each message to every consumer subscribed to its topic, in
 * order. A message is acknowledged once every such consumer handled it (or had handled it: a
 * duplicate); when one fails, the message stays unacknowledged (the relay retries it, and
 * consumers that succeeded see a duplicate next time), and later messages of its key in the same
 * call are not delivered, so messages reach consumers in order per key. A message no consumer
 * subscribes to is acknowledged. The delivery count a consumer sees is the message's failed
 * publish attempts plus one.
 *
 * @throws TypeError naming the option when `consumers` is not an array of message consumers.
 * @example
 * ```ts
 * const relay = createOutboxRelay({
 *   store,
 *   publisher: createInProcessPublisher({ consumers: [billing, shipping] }),
 * });
 * ```
 */
export function createInProcessPublisher(options: InProcessPublisherOptions): InProcessPublisher {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['consumers'], 'options');
  const { consumers } = options;
  if (!Array.isArray(consumers)) {
    throw new TypeError('options.consumers must be an array of message consumers');
  }
  consumers.forEach((consumer: MessageConsumer, index) => {
    if (typeof consumer?.handle !== 'function' || !Array.isArray(consumer.topics)) {
      throw new TypeError(
        `options.consumers[${index}] must be a message consumer (createMessageConsumer)`,
      );
    }
  });
  // Copied: the application changing its array later does not change who gets messages.
  const copied = [...consumers];
  const subscribers = (topic: string) =>
    copied.filter((consumer) => consumer.topics.includes(topic));

  return Object.freeze({
    async publish(messages: readonly OutboxMessage[]): Promise<InProcessPublishResult> {
      const acked: string[] = [];
      const failed = new Map<string, unknown>();
      const failedKeys = new Set<string>();
      for (const message of messages) {
        if (message.key !== null && failedKeys.has(message.key)) continue;
        let ok = true;
        for (const consumer of subscribers(message.topic)) {
          try {
            await consumer.handle({
              id: message.id,
              topic: message.topic,
              key: message.key,
              payload: message.payload,
              headers: message.headers,
              createdAt: message.createdAt,
              deliveries: message.attempts + 1,
            });
          } catch (error) {
            // The relay records it and retries, or dead-letters at once when retrying cannot help.
            if (ok) {
              failed.set(
                message.id,
                isPermanentFailure(error) && !(error instanceof NonRetryableError)
                  ? new NonRetryableError(error as Error)
                  : error,
              );
            }
            ok = false;
          }
        }
        if (ok) acked.push(message.id);
        else if (message.key !== null) failedKeys.add(message.key);
      }
      return { acknowledged: acked, failed };
    },
  });
}
