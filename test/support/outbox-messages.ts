/** Outbox messages as a relay hands them to a publisher, for publisher and consumer tests. */
import { createId } from '../../src/core/ids.js';
import type { ReceivedMessage } from '../../src/outbox/message-consumer.js';
import type { OutboxMessage } from '../../src/outbox/publisher.js';

/** A pending `order.created` message of key `ORD-1`, with `overrides` applied. */
export function outboxMessage(overrides: Partial<OutboxMessage> = {}): OutboxMessage {
  return {
    id: createId(),
    topic: 'order.created',
    key: 'ORD-1',
    payload: { orderId: 'ORD-1', total: 10 },
    headers: {},
    status: 'pending',
    attempts: 0,
    availableAt: 0,
    lastError: null,
    createdAt: 1_700_000_000_000,
    finishedAt: null,
    ...overrides,
  };
}

/** The same message as a consumer receives it on its first delivery, with `overrides` applied. */
export function receivedMessage(overrides: Partial<ReceivedMessage> = {}): ReceivedMessage {
  const { id, topic, key, payload, headers, createdAt } = outboxMessage();
  return { id, topic, key, payload, headers, createdAt, deliveries: 1, ...overrides };
}
