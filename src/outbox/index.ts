/**
 * The transactional outbox: messages enqueued in the same transaction as the business write that
 * causes them, relayed afterwards to a broker at least once, in order per key, with retries and a
 * dead-letter list; and consumers that apply each message once. Stores live in
 * `flowproof/adapters/*`; the Redis Streams publisher and consumer in `flowproof/adapters/redis`.
 *
 * @module
 */

// A message's last error, as the stores keep it.
export type { ErrorRecord } from '../core/error-record.js';
// Consumers.
export { NonRetryableError } from '../core/retry-policy.js';
export {
  createInProcessPublisher,
  type InProcessPublisher,
  type InProcessPublisherOptions,
  type InProcessPublishResult,
} from './in-process-publisher.js';
export {
  createMessageConsumer,
  type HandleOutcome,
  type InboxTransaction,
  isPermanentFailure,
  type MessageConsumer,
  type MessageConsumerOptions,
  type MessageHandler,
  type MessageHandlerContext,
  type MessageHandlers,
  type MessageInbox,
  type MessageTopics,
  type ReceivedMessage,
} from './message-consumer.js';
// The producer side and the operator's view.
export {
  createOutbox,
  type EnqueuedMessage,
  type EnqueueOptions,
  type Outbox,
  type OutboxDraft,
  type OutboxMessageState,
  type OutboxNotifier,
  type OutboxOptions,
  type OutboxPage,
  type OutboxPurgeOptions,
  type OutboxPurgeResult,
  type OutboxStats,
  type OutboxTopics,
} from './outbox.js';
export type { OutboxFlows, OutboxServiceFlow } from './outbox-mermaid.js';
// The store port, for adapter authors.
export {
  type NewOutboxMessage,
  OUTBOX_MESSAGE_STATUSES,
  OUTBOX_STORE_COMPONENT,
  type OutboxClaimRequest,
  type OutboxDeadLetter,
  type OutboxListQuery,
  type OutboxMessageStatus,
  type OutboxPurgeRequest,
  type OutboxRedriveRequest,
  type OutboxRetry,
  type OutboxStore,
  type OutboxStoreStats,
  type OutboxTopicCounts,
  type StoredOutboxMessage,
} from './outbox-store.js';
export type { OutboxMessage, OutboxPublisher, PublishResult } from './publisher.js';
// The relay.
export {
  createOutboxRelay,
  type OutboxRelay,
  type OutboxRelayOptions,
  type OutboxWakeUp,
  type RelayBatchResult,
} from './relay.js';
