/**
 * The outbox hand-off, end to end on real servers and without OpenTelemetry: an HTTP request
 * carrying `x-correlation-id`, `traceparent` and baggage enqueues a message in a PostgreSQL
 * transaction; the relay publishes it to Redis Streams; the consumer's handler sees the same
 * correlation id, the message id as causation id, the same trace id and the baggage. The outbox
 * copies the context into the message headers (`serializeContext`) and the consumer restores it
 * (`restoreContext`): that is the mechanism under test, so the control case enqueues outside any
 * context and the handler sees none of it.
 */
import { createServer } from 'node:http';
import express from 'express';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createPostgresBackend,
  createPostgresOutboxStore,
  type PostgresBackend,
  type PostgresOutboxStore,
} from '../../../src/adapters/postgres/index.js';
import {
  createRedisStreamsConsumer,
  createRedisStreamsPublisher,
} from '../../../src/adapters/redis/index.js';
import { createId } from '../../../src/core/ids.js';
import { configureOpenTelemetry } from '../../../src/core/opentelemetry.js';
import { type FlowContext, getContext } from '../../../src/index.js';
import { flowContextMiddleware } from '../../../src/lineage/index.js';
import {
  createMessageConsumer,
  createOutbox,
  createOutboxRelay,
} from '../../../src/outbox/index.js';
import { listen } from '../../support/http-servers.js';
import { describeWithPostgres, redisUrl } from '../../support/services.js';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const traceparent = `00-${traceId}-00f067aa0ba902b7-01`;

describeWithPostgres('outbox → relay → Redis Streams → consumer', (url) => {
  const schema = `correlation_outbox_${process.pid}`;
  let pool: pg.Pool;
  let backend: PostgresBackend;
  let store: PostgresOutboxStore;
  let redis: Redis;
  const topics = { 'order.placed': z.object({ orderId: z.string() }) };

  beforeAll(async () => {
    const redisAt = redisUrl();
    if (!redisAt) throw new Error('this test needs the test Redis server too');
    configureOpenTelemetry(null);
    redis = new Redis(redisAt);
    pool = new pg.Pool({ connectionString: url, max: 4 });
    backend = createPostgresBackend({ client: pool, schema });
    store = createPostgresOutboxStore({ backend });
    await store.migrate();
    await backend.execute(`CREATE TABLE ${backend.table('orders')} (id text PRIMARY KEY)`);
  });
  afterAll(async () => {
    configureOpenTelemetry(undefined);
    await backend.execute(`DROP SCHEMA "${schema}" CASCADE`);
    await backend.close();
    await pool.end();
    await redis.quit();
  });

  /**
   * An app whose POST /orders inserts an order and enqueues `order.placed` in one transaction
   * (`inContext`: behind flowContextMiddleware); then relays and consumes once. Returns what the
   * handler saw and the message id.
   */
  async function placeOrderAndConsume(headers: Record<string, string>, inContext: boolean) {
    const run = createId();
    const streamKey = (topic: string) => `test:${run}:${topic}`;
    const outbox = createOutbox({ store, topics });
    const app = express();
    if (inContext) app.use(flowContextMiddleware({ baggage: ['region'] }));
    app.post('/orders', async (_req, res) => {
      const orderId = createId();
      const message = await backend.transaction(async (tx) => {
        await tx.execute(`INSERT INTO ${backend.table('orders')} VALUES ($1)`, [orderId]);
        return outbox.enqueue('order.placed', { orderId }, { transaction: tx });
      });
      res.json({ messageId: message.id });
    });
    const base = await listen(createServer(app));
    const { messageId } = (await (
      await fetch(`${base}/orders`, { method: 'POST', headers })
    ).json()) as { messageId: string };

    const relay = createOutboxRelay({
      store,
      publisher: createRedisStreamsPublisher({ client: redis, streamKey }),
    });
    expect((await relay.drain()).published).toBeGreaterThanOrEqual(1);
    await relay.close();

    const seen: { flow: FlowContext; current: FlowContext | undefined }[] = [];
    const consumer = createMessageConsumer({
      name: 'shipping',
      handlers: {
        'order.placed': (_message, { flow }) => void seen.push({ flow, current: getContext() }),
      },
    });
    const reader = createRedisStreamsConsumer({ client: redis, consumer, streamKey, blockMs: 0 });
    try {
      expect((await reader.runOnce()).handled).toBe(1);
    } finally {
      await reader.close({ timeoutMs: 1000 });
    }
    expect(seen).toHaveLength(1);
    return { messageId, seen: seen[0] as (typeof seen)[number] };
  }

  it('gives the handler the request correlation id, the message as cause, the trace and baggage', async () => {
    const { messageId, seen } = await placeOrderAndConsume(
      { 'x-correlation-id': 'corr-order-1', traceparent, baggage: 'region=eu,secret=x' },
      true,
    );
    expect(seen.current).toEqual(seen.flow);
    expect(seen.flow).toEqual({
      correlationId: 'corr-order-1',
      causationId: messageId,
      traceparent,
      baggage: { region: 'eu' },
    });
    expect(seen.flow.traceparent?.split('-')[1]).toBe(traceId);
  });

  it('carries none of it when the request was not handled in a context (the control)', async () => {
    const { messageId, seen } = await placeOrderAndConsume(
      { 'x-correlation-id': 'corr-order-2', traceparent },
      false,
    );
    // Outside any context the message's own id starts the correlation.
    expect(seen.flow).toEqual({ correlationId: messageId, causationId: messageId });
  });
});
