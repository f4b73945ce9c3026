/**
 * The broker-neutral consumer and the in-process publisher: context restored from the headers,
 * payloads validated, the inbox (Dedupe, and Idempotency over PostgreSQL where the handler's
 * write and the inbox record commit together), permanent failures, and the publisher contract.
 */
import { trace } from '@opentelemetry/api';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { recordingLogger } from '../../test/support/logger.js';
import { useTestTracing } from '../../test/support/opentelemetry.js';
import { outboxMessage, receivedMessage as received } from '../../test/support/outbox-messages.js';
import { describeWithPostgres } from '../../test/support/services.js';
import { createMemoryBackend, createMemoryIdempotencyStore } from '../adapters/memory/index.js';
import {
  createPostgresBackend,
  createPostgresIdempotencyStore,
  type PostgresBackend,
} from '../adapters/postgres/index.js';
import { getContext, runWithContext, serializeContext } from '../core/context.js';
import { FlowproofError } from '../core/errors.js';
import { createId } from '../core/ids.js';
import { createDedupe, createIdempotency } from '../idempotency/index.js';
import {
  createInProcessPublisher,
  createMessageConsumer,
  isPermanentFailure,
  NonRetryableError,
} from './index.js';

const { exporter } = useTestTracing();

const topics = {
  'order.created': z.object({ orderId: z.string(), total: z.number() }),
};

async function memoryDedupe() {
  const store = createMemoryIdempotencyStore({ backend: createMemoryBackend() });
  await store.migrate();
  return createDedupe({ store, consumer: 'billing' });
}

describe('createMessageConsumer', () => {
  it('gives the handler the validated payload (the schema output) and resolves handled', async () => {
    const seen: unknown[] = [];
    const consumer = createMessageConsumer({
      name: 'billing',
      topics: { 'order.created': z.object({ orderId: z.string(), total: z.coerce.number() }) },
      handlers: {
        'order.created': (message) => {
          const total: number = message.payload.total;
          seen.push(total);
        },
      },
    });
    expect(consumer.topics).toEqual(['order.created']);
    expect(await consumer.handle(received({ payload: { orderId: 'ORD-1', total: '12' } }))).toBe(
      'handled',
    );
    expect(seen).toEqual([12]);
  });

  it('refuses a payload its schema refuses with VALIDATION_FAILED, a permanent failure', async () => {
    let ran = false;
    const consumer = createMessageConsumer({
      name: 'billing',
      topics,
      handlers: {
        'order.created': () => {
          ran = true;
        },
      },
    });
    const error = await consumer.handle(received({ payload: { orderId: 1 } })).catch((e) => e);
    expect(error).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(isPermanentFailure(error)).toBe(true);
    expect(ran).toBe(false);
  });

  it('refuses a malformed message or a topic without a handler with MESSAGE_MALFORMED', async () => {
    const consumer = createMessageConsumer({ name: 'billing', handlers: { a: () => {} } });
    const noHandler = await consumer.handle(received({ topic: 'b' })).catch((e) => e);
    expect(noHandler).toMatchObject({ code: 'MESSAGE_MALFORMED' });
    expect(isPermanentFailure(noHandler)).toBe(true);
    const badHeaders = received({ topic: 'a', headers: { x: 1 } as never });
    await expect(consumer.handle(badHeaders)).rejects.toMatchObject({
      code: 'MESSAGE_MALFORMED',
      details: { deliveryId: badHeaders.id, reason: 'headers must be an object of strings' },
    });
    await expect(consumer.handle(null as never)).rejects.toMatchObject({
      code: 'MESSAGE_MALFORMED',
    });
  });

  it('sorts failures: NonRetryableError is permanent, other errors are not', async () => {
    expect(isPermanentFailure(new NonRetryableError('card declined'))).toBe(true);
    expect(isPermanentFailure(new Error('network'))).toBe(false);
    expect(isPermanentFailure(new FlowproofError('BACKEND_UNAVAILABLE', 'down'))).toBe(false);
    expect(isPermanentFailure('nope')).toBe(false);
  });

  it('restores the producer context: correlation id, identity, causation id = message id', async () => {
    const seen: unknown[] = [];
    const consumer = createMessageConsumer({
      name: 'billing',
      handlers: {
        'order.created': (message, context) => {
          seen.push(getContext(), context.flow, message.id);
        },
      },
    });
    const headers = runWithContext(
      { correlationId: 'corr-1', actor: { id: 'user_42', type: 'user' }, tenant: 'acme' },
      () => serializeContext(),
    );
    const message = received({ headers });
    await consumer.handle(message);
    const expected = {
      correlationId: 'corr-1',
      causationId: message.id,
      actor: { id: 'user_42', type: 'user' },
      tenant: 'acme',
    };
    expect(seen[0]).toEqual(expected);
    expect(seen[1]).toEqual(expected);
  });

  it('keeps the correlation id when the message id cannot be a causation id', async () => {
    const seen: unknown[] = [];
    const consumer = createMessageConsumer({
      name: 'billing',
      handlers: { 'order.created': () => void seen.push(getContext()) },
    });
    await consumer.handle(
      received({ id: 'id with spaces', headers: { 'x-correlation-id': 'corr-2' } }),
    );
    expect(seen[0]).toMatchObject({ correlationId: 'corr-2' });
  });

  it('continues the producer trace: one consume span, child of the producer span', async () => {
    const tracer = trace.getTracer('test');
    const { headers, traceId, spanId } = tracer.startActiveSpan('produce', (span) => {
      const result = {
        headers: runWithContext({ correlationId: 'corr-3' }, () => serializeContext()),
        traceId: span.spanContext().traceId,
        spanId: span.spanContext().spanId,
      };
      span.end();
      return result;
    });
    exporter.reset();
    const consumer = createMessageConsumer({
      name: 'billing',
      handlers: {
        'order.created': () => tracer.startActiveSpan('handler work', (span) => span.end()),
      },
    });
    const message = received({ headers });
    await consumer.handle(message);
    const spans = exporter.getFinishedSpans();
    const consume = spans.find((span) => span.name === 'flowproof.outbox.consume');
    const work = spans.find((span) => span.name === 'handler work');
    expect(consume?.spanContext().traceId).toBe(traceId);
    expect(consume?.parentSpanContext?.spanId).toBe(spanId);
    expect(consume?.attributes).toMatchObject({
      'flowproof.consumer': 'billing',
      'flowproof.message.id': message.id,
      'flowproof.message.topic': 'order.created',
      'flowproof.correlation_id': 'corr-3',
    });
    expect(work?.parentSpanContext?.spanId).toBe(consume?.spanContext().spanId);
  });

  it('with a Dedupe inbox runs the handler once per message id; a failure lets it run again', async () => {
    const inbox = await memoryDedupe();
    let runs = 0;
    let fail = true;
    const consumer = createMessageConsumer({
      name: 'billing',
      inbox,
      handlers: {
        'order.created': () => {
          runs += 1;
          if (fail) throw new Error('flaky');
        },
      },
    });
    const message = received();
    await expect(consumer.handle(message)).rejects.toThrow('flaky');
    fail = false;
    expect(await consumer.handle({ ...message, deliveries: 2 })).toBe('handled');
    expect(await consumer.handle({ ...message, deliveries: 3 })).toBe('duplicate');
    expect(runs).toBe(2);
  });

  it('logs outbox.consume.handled, .duplicate and .failed with the producer correlation id', async () => {
    const logger = recordingLogger();
    const consumer = createMessageConsumer({
      name: 'billing',
      inbox: await memoryDedupe(),
      logger,
      topics,
      handlers: { 'order.created': () => {} },
    });
    const message = received({ headers: { 'x-correlation-id': 'corr-4' } });
    await consumer.handle(message);
    await consumer.handle(message);
    await consumer.handle(received({ payload: {} })).catch(() => undefined);
    expect(logger.lines.map((line) => line.fields.event)).toEqual([
      'outbox.consume.handled',
      'outbox.consume.duplicate',
      'outbox.consume.failed',
    ]);
    expect(logger.lines[0]?.fields).toMatchObject({
      correlationId: 'corr-4',
      causationId: message.id,
      consumer: 'billing',
      messageId: message.id,
    });
    expect(logger.lines[2]?.fields).toMatchObject({ permanent: true, code: 'VALIDATION_FAILED' });
  });

  it('refuses bad options with a TypeError naming the option', () => {
    const handlers = { a: () => {} };
    expect(() => createMessageConsumer({ name: 'x', handlers, logr: 1 } as never)).toThrow(
      /options\.logr/,
    );
    expect(() => createMessageConsumer({ name: 'has space', handlers })).toThrow(/options\.name/);
    expect(() => createMessageConsumer({ name: 'x', handlers: { a: 1 } as never })).toThrow(
      /options\.handlers\.a/,
    );
    expect(() => createMessageConsumer({ name: 'x', handlers: {} })).toThrow(/options\.handlers/);
    expect(() =>
      createMessageConsumer({ name: 'x', handlers, topics: { a: {} } } as never),
    ).toThrow(/options\.topics\.a/);
    expect(() =>
      createMessageConsumer({ name: 'x', topics, handlers: { other: () => {} } } as never),
    ).toThrow(/options\.handlers\.other has no schema/);
    expect(() => createMessageConsumer({ name: 'x', handlers, inbox: {} as never })).toThrow(
      /options\.inbox/,
    );
    expect(() => createMessageConsumer({ name: 'x', handlers, logger: {} as never })).toThrow(
      /options\.logger/,
    );
  });
});

describe('createInProcessPublisher', () => {
  it('delivers to every subscribed consumer and acks what all handled, in order', async () => {
    const seen: string[] = [];
    const make = (name: string) =>
      createMessageConsumer({
        name,
        handlers: {
          'order.created': (message) => void seen.push(`${name}:${String(message.key)}`),
        },
      });
    const other = createMessageConsumer({
      name: 'other',
      handlers: { 'order.shipped': () => void seen.push('other') },
    });
    const publisher = createInProcessPublisher({ consumers: [make('a'), make('b'), other] });
    const messages = [outboxMessage({ key: 'k1' }), outboxMessage({ key: 'k2' })];
    expect(await publisher.publish(messages)).toEqual(messages.map((m) => m.id));
    expect(seen).toEqual(['a:k1', 'b:k1', 'a:k2', 'b:k2']);
  });

  it('leaves a failed message unacked and skips later messages of its key only', async () => {
    const handled: string[] = [];
    const deliveries: number[] = [];
    const consumer = createMessageConsumer({
      name: 'billing',
      handlers: {
        'order.created': (message) => {
          deliveries.push(message.deliveries);
          if ((message.payload as { fail?: boolean }).fail) throw new Error('boom');
          handled.push(message.id);
        },
      },
    });
    const publisher = createInProcessPublisher({ consumers: [consumer] });
    const failing = outboxMessage({ key: 'k1', payload: { fail: true }, attempts: 2 });
    const sameKey = outboxMessage({ key: 'k1' });
    const otherKey = outboxMessage({ key: 'k2' });
    const keyless = outboxMessage({ key: null });
    const acked = await publisher.publish([failing, sameKey, otherKey, keyless]);
    expect(acked).toEqual([otherKey.id, keyless.id]);
    expect(handled).toEqual([otherKey.id, keyless.id]);
    expect(deliveries[0]).toBe(3);
  });

  it('acks a duplicate and a message no consumer subscribes to', async () => {
    const consumer = createMessageConsumer({
      name: 'billing',
      inbox: await memoryDedupe(),
      handlers: { 'order.created': () => {} },
    });
    const publisher = createInProcessPublisher({ consumers: [consumer] });
    const message = outboxMessage();
    const unrouted = outboxMessage({ topic: 'nobody.listens' });
    expect(await publisher.publish([message])).toEqual([message.id]);
    expect(await publisher.publish([message, unrouted])).toEqual([message.id, unrouted.id]);
  });

  it('refuses bad options with a TypeError naming the option', () => {
    expect(() => createInProcessPublisher({ consumers: {} } as never)).toThrow(
      /options\.consumers/,
    );
    expect(() => createInProcessPublisher({ consumers: [{}] } as never)).toThrow(
      /options\.consumers\[0\]/,
    );
    expect(() => createInProcessPublisher({ consumers: [], extra: 1 } as never)).toThrow(
      /options\.extra/,
    );
  });
});

describeWithPostgres('a transactional inbox over PostgreSQL', (postgresUrl) => {
  let pool: pg.Pool;
  let backend: PostgresBackend;
  const prefix = `inbox_${createId().slice(-8).toLowerCase()}_`;
  const table = `${prefix}invoices`;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgresUrl, max: 4 });
    backend = createPostgresBackend({ client: pool, tablePrefix: prefix });
    await backend.execute(`CREATE TABLE ${table} (order_id text PRIMARY KEY, total numeric)`);
  });
  afterAll(async () => {
    const tables = await backend.query<{ tablename: string }>(
      'SELECT tablename FROM pg_tables WHERE starts_with(tablename, $1)',
      [prefix],
    );
    for (const { tablename } of tables) await backend.execute(`DROP TABLE "${tablename}"`);
    await pool.end();
  });

  it('commits the handler write with the inbox record, or neither', async () => {
    const store = createPostgresIdempotencyStore({ backend });
    await store.migrate();
    let failAfterWrite = true;
    let runs = 0;
    const consumer = createMessageConsumer({
      name: 'billing',
      topics,
      inbox: createIdempotency({ store }),
      handlers: {
        'order.created': async (message, { transaction }) => {
          runs += 1;
          await transaction.query(`INSERT INTO ${table} (order_id, total) VALUES ($1, $2)`, [
            message.payload.orderId,
            message.payload.total,
          ]);
          if (failAfterWrite) throw new Error('crash after the write');
        },
      },
    });
    const message = received({ payload: { orderId: 'ORD-9', total: 42 } });
    const rows = async () =>
      (await backend.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0]?.n;

    await expect(consumer.handle(message)).rejects.toThrow('crash after the write');
    expect(await rows()).toBe('0'); // rolled back with the inbox claim

    failAfterWrite = false;
    expect(await consumer.handle({ ...message, deliveries: 2 })).toBe('handled');
    expect(await consumer.handle({ ...message, deliveries: 3 })).toBe('duplicate');
    expect(await rows()).toBe('1');
    expect(runs).toBe(2);
  });
});
