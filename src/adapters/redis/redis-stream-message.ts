/**
 * How an outbox message is laid out in a Redis stream entry, shared by the publisher and the
 * consumer: fields `id`, `topic`, `key` (absent when the message has none), `payload` (JSON text),
 * `headers` (JSON text of a string-to-string object) and `createdAt` (epoch ms, decimal).
 *
 */
import type { ReceivedMessage } from '../../outbox/message-consumer.js';
import type { OutboxMessage } from '../../outbox/publisher.js';

/** The stream a topic's messages go to unless `streamKey` says otherwise: `outbox:<topic>`. */
export function defaultStreamKey(topic: string): string {
  return `outbox:${topic}`;
}

/** The encoded values of `message`'s `payload`, `headers` and `createdAt` fields. */
export function encodeStreamValues(message: OutboxMessage): {
  readonly payload: string;
  readonly headers: string;
  readonly createdAt: string;
} {
  return {
    payload: JSON.stringify(message.payload),
    headers: JSON.stringify(message.headers),
    createdAt: String(message.createdAt),
  };
}

/** A decoded entry, or why it is not a flowproof message. */
export type DecodedEntry =
  | { readonly ok: true; readonly message: Omit<ReceivedMessage, 'deliveries'> }
  | { readonly ok: false; readonly reason: string };

/** Decodes the flat `[field, value, …]` list of an entry. */
export function decodeStreamFields(flat: readonly unknown[]): DecodedEntry {
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const field = flat[i];
    const value = flat[i + 1];
    if (typeof field === 'string' && typeof value === 'string' && !fields.has(field)) {
      fields.set(field, value);
    }
  }
  const id = fields.get('id');
  const topic = fields.get('topic');
  const payloadText = fields.get('payload');
  const headersText = fields.get('headers');
  const createdAtText = fields.get('createdAt');
  if (!id) return { ok: false, reason: 'the id field is missing' };
  if (!topic) return { ok: false, reason: 'the topic field is missing' };
  if (payloadText === undefined) return { ok: false, reason: 'the payload field is missing' };
  let payload: unknown;
  let headers: unknown;
  try {
    payload = JSON.parse(payloadText);
  } catch {
    return { ok: false, reason: 'the payload field is not JSON' };
  }
  try {
    headers = headersText === undefined ? {} : JSON.parse(headersText);
  } catch {
    return { ok: false, reason: 'the headers field is not JSON' };
  }
  if (
    typeof headers !== 'object' ||
    headers === null ||
    Array.isArray(headers) ||
    Object.values(headers).some((value) => typeof value !== 'string')
  ) {
    return { ok: false, reason: 'the headers field is not an object of strings' };
  }
  const createdAt = createdAtText === undefined ? Number.NaN : Number(createdAtText);
  if (!/^\d{1,16}$/.test(createdAtText ?? '') || !Number.isSafeInteger(createdAt)) {
    return { ok: false, reason: 'the createdAt field is not epoch milliseconds' };
  }
  return {
    ok: true,
    message: {
      id,
      topic,
      key: fields.get('key') ?? null,
      payload,
      headers: headers as Record<string, string>,
      createdAt,
    },
  };
}
