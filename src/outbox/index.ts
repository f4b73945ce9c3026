/**
 * The transactional outbox: messages enqueued in the same transaction as the business write that
 * causes them, relayed afterwards to a broker at least once, in order per key, with retries and a
 * dead-letter list; and consumers that apply each message once. Stores live in
 * `flowproof/adapters/*`; the Redis Streams publisher and consumer in `flowproof/adapters/redis`.
 *
 * @module
 */

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
// A message's last error, as the stores keep it.
export type { ErrorRecord } from '../core/error-record.js';
