/**
 * Checks shared by every outbox store on what it is asked to do, so memory, SQLite and
 * PostgreSQL answer a bad value the same way, before anything is written.
 *
 * @internal
 */
import { FlowproofError } from '../core/errors.js';
import { assertInteger, assertKnownKeys, assertNonEmptyString } from '../core/options.js';
import {
  type NewOutboxMessage,
  OUTBOX_MESSAGE_STATUSES,
  type OutboxClaimRequest,
  type OutboxDeadLetter,
  type OutboxListQuery,
  type OutboxPurgeRequest,
  type OutboxRedriveRequest,
  type OutboxRetry,
} from '../outbox/outbox-store.js';
import { assertStrings, jsonDataText, MAX_MS } from './json-data-text.js';

/** A new message checked and encoded: payload and headers as JSON text. */
export interface EncodedOutboxMessage {
  readonly id: string;
  readonly topic: string;
  readonly key: string | null;
  readonly payload: string;
  readonly headers: string;
}

/**
 * Checks messages to enqueue and encodes their payload and headers as JSON text.
 *
 * @throws TypeError naming the first bad field; FlowproofError `OUTBOX_MESSAGE_EXISTS` when two
 * messages of the batch have the same id.
 */
export function checkNewMessages(messages: readonly NewOutboxMessage[]): EncodedOutboxMessage[] {
  if (!Array.isArray(messages)) throw new TypeError('messages must be an array of messages');
  const seen = new Set<string>();
  return messages.map((message, i) => {
    const name = `messages[${i}]`;
    if (typeof message !== 'object' || message === null) {
      throw new TypeError(`${name} must be an object`);
    }
    assertKnownKeys(message, ['id', 'topic', 'key', 'payload', 'headers'], name);
    assertNonEmptyString(message.id, `${name}.id`);
    assertNonEmptyString(message.topic, `${name}.topic`);
    if (message.key !== null) assertNonEmptyString(message.key, `${name}.key`);
    const headers = message.headers;
    if (
      typeof headers !== 'object' ||
      headers === null ||
      Array.isArray(headers) ||
      Object.values(headers).some((v) => typeof v !== 'string')
    ) {
      throw new TypeError(`${name}.headers must be an object of strings`);
    }
    if (seen.has(message.id)) throw messageExists(message.id);
    seen.add(message.id);
    return {
      id: message.id,
      topic: message.topic,
      key: message.key,
      payload: jsonDataText(message.payload, `${name}.payload`),
      headers: jsonDataText(headers, `${name}.headers`),
    };
  });
}

/** `OUTBOX_MESSAGE_EXISTS`: a message with this id is stored already (or twice in one batch). */
export function messageExists(messageId: string, cause?: unknown): FlowproofError {
  return new FlowproofError(
    'OUTBOX_MESSAGE_EXISTS',
    `An outbox message with id ${messageId} exists already; nothing was enqueued`,
    { ...(cause === undefined ? {} : { cause }), details: { messageId } },
  );
}

/** @throws TypeError naming the first bad field of a claim request. */
export function checkClaim(request: OutboxClaimRequest): void {
  assertKnownKeys(request, ['owner', 'leaseMs', 'limit'], 'request');
  assertNonEmptyString(request.owner, 'request.owner');
  assertInteger(request.leaseMs, 'request.leaseMs', 0, MAX_MS);
  assertInteger(request.limit, 'request.limit', 0);
}

/** @throws TypeError naming the first bad argument of a fenced write. */
export function checkIds(ids: readonly string[], owner: string): void {
  assertStrings(ids, 'ids');
  assertNonEmptyString(owner, 'owner');
}

/** A retry checked, with its error as JSON text (`null` when no attempt is counted). */
export interface EncodedRetry {
  readonly id: string;
  readonly retryInMs: number;
  readonly countAttempt: boolean;
  readonly error: string | null;
}

/** @throws TypeError naming the first bad field of a reschedule. */
export function checkRetries(retries: readonly OutboxRetry[], owner: string): EncodedRetry[] {
  if (!Array.isArray(retries)) throw new TypeError('retries must be an array');
  assertNonEmptyString(owner, 'owner');
  return retries.map((retry, i) => {
    const name = `retries[${i}]`;
    assertKnownKeys(retry ?? {}, ['id', 'retryInMs', 'countAttempt', 'error'], name);
    assertNonEmptyString(retry?.id, `${name}.id`);
    assertInteger(retry.retryInMs, `${name}.retryInMs`, 0, MAX_MS);
    if (typeof retry.countAttempt !== 'boolean') {
      throw new TypeError(`${name}.countAttempt must be a boolean`);
    }
    const error =
      retry.countAttempt && retry.error !== undefined
        ? jsonDataText(retry.error, `${name}.error`)
        : null;
    return { id: retry.id, retryInMs: retry.retryInMs, countAttempt: retry.countAttempt, error };
  });
}

/** @throws TypeError naming the first bad field of a dead-lettering. */
export function checkDeadLetters(
  entries: readonly OutboxDeadLetter[],
  owner: string,
): { readonly id: string; readonly error: string }[] {
  if (!Array.isArray(entries)) throw new TypeError('entries must be an array');
  assertNonEmptyString(owner, 'owner');
  return entries.map((entry, i) => {
    const name = `entries[${i}]`;
    assertKnownKeys(entry ?? {}, ['id', 'error'], name);
    assertNonEmptyString(entry?.id, `${name}.id`);
    if (typeof entry.error !== 'object' || entry.error === null) {
      throw new TypeError(`${name}.error must be an error record`);
    }
    return { id: entry.id, error: jsonDataText(entry.error, `${name}.error`) };
  });
}

/** @throws TypeError naming the first bad field of a list query. */
export function checkList(query: OutboxListQuery): void {
  assertKnownKeys(query ?? {}, ['status', 'topic', 'afterId', 'limit'], 'query');
  if (!OUTBOX_MESSAGE_STATUSES.includes(query?.status)) {
    throw new TypeError(
      `query.status must be one of ${OUTBOX_MESSAGE_STATUSES.join(', ')}; got ${String(query?.status)}`,
    );
  }
  if (query.topic !== undefined) assertNonEmptyString(query.topic, 'query.topic');
  if (query.afterId !== undefined && typeof query.afterId !== 'string') {
    throw new TypeError('query.afterId must be a string');
  }
  assertInteger(query.limit, 'query.limit', 0);
}

/** @throws TypeError naming the first bad field of a redrive request. */
export function checkRedrive(request: OutboxRedriveRequest): void {
  assertKnownKeys(request ?? {}, ['ids', 'topic', 'limit'], 'request');
  if (request.ids !== undefined) assertStrings(request.ids, 'request.ids');
  if (request.topic !== undefined) assertNonEmptyString(request.topic, 'request.topic');
  assertInteger(request.limit, 'request.limit', 0);
}

/** @throws TypeError naming the first bad field; `pending` is refused. */
export function checkPurge(request: OutboxPurgeRequest): void {
  assertKnownKeys(request ?? {}, ['status', 'finishedBeforeMs', 'limit'], 'request');
  if (request.status !== 'published' && request.status !== 'dead_lettered') {
    throw new TypeError(
      `request.status must be published or dead_lettered (purge deletes finished messages only); got ${String(request.status)}`,
    );
  }
  assertInteger(request.finishedBeforeMs, 'request.finishedBeforeMs', 0);
  assertInteger(request.limit, 'request.limit', 0);
}
