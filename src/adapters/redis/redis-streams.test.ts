/**
 * The Redis Streams publisher and consumer against a real Redis server: idempotent appends, order
 * per key, a failing stream, acknowledgement after handling, redelivery through the inbox,
 * takeover of abandoned entries, dead letters, the flow context across the stream, and close().
 */
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { recordingLogger } from '../../../test/support/logger.js';
import { outboxMessage } from '../../../test/support/outbox-messages.js';
import { describeWithRedis } from '../../../test/support/services.js';
import { sleep } from '../../core/async.js';
import { getContext, runWithContext, serializeContext } from '../../core/context.js';
import { createId } from '../../core/ids.js';
import { createDedupe } from '../../idempotency/index.js';
import {
  createMessageConsumer,
  type MessageConsumer,
  NonRetryableError,
  type ReceivedMessage,
} from '../../outbox/index.js';
import {
  createRedisBackend,
  createRedisIdempotencyStore,
  createRedisStreamsConsumer,
  createRedisStreamsPublisher,
  defaultStreamKey,
  type RedisStreamsConsumer,
  type RedisStreamsConsumerOptions,
} from './index.js';
import { decodeStreamFields } from './redis-stream-message.js';

/** Flat `[field, value, …]` as an object (first value of a field wins). */
function fieldsOf(flat: unknown): Record<string, string> {
  const record: Record<string, string> = {};
  const list = flat as string[];
  for (let i = 0; i + 1 < list.length; i += 2) {
    const field = list[i] as string;
    if (!(field in record)) record[field] = list[i + 1] as string;
  }
  return record;
}

describe('defaultStreamKey', () => {
  it('is outbox:<topic>', () => {
    expect(defaultStreamKey('order.created')).toBe('outbox:order.created');
  });
});

describe('the stream entry encoding', () => {
  it('decodes any field list into a message or a reason, never throwing', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string(),
            fc.constantFrom('id', 'topic', 'payload', 'headers', 'createdAt', 'key'),
            fc.json(),
          ),
        ),
        (flat) => {
          const decoded = decodeStreamFields(flat);
          if (decoded.ok) {
            expect(typeof decoded.message.id).toBe('string');
            expect(Number.isSafeInteger(decoded.message.createdAt)).toBe(true);
          } else {
            expect(decoded.reason).toMatch(/^the \w+ field/);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('Redis Streams option checks', () => {
  const client = { call: async () => null, status: 'ready' };
  const consumer = createMessageConsumer({ name: 'c', handlers: { a: () => {} } });

  it('publisher: a TypeError names the option', () => {
    expect(() => createRedisStreamsPublisher({ client, maxLenght: 5 } as never)).toThrow(
      /options\.maxLenght/,
    );
    expect(() => createRedisStreamsPublisher({ client: {} as never })).toThrow(/options\.client/);
    expect(() => createRedisStreamsPublisher({ client, streamKey: 'x' as never })).toThrow(
      /options\.streamKey/,
    );
    expect(() => createRedisStreamsPublisher({ client, maxLength: 0 })).toThrow(
      /options\.maxLength/,
    );
    expect(() => createRedisStreamsPublisher({ client, dedupeWindowMs: 1.5 })).toThrow(
      /options\.dedupeWindowMs/,
    );
    expect(() => createRedisStreamsPublisher({ client, timeoutMs: -1 })).toThrow(
      /options\.timeoutMs/,
    );
  });

  it('consumer: a TypeError names the option', () => {
    const base: RedisStreamsConsumerOptions = { client, consumer };
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ blokMs: 1 }, /options\.blokMs/],
      [{ client: {} }, /options\.client/],
      [{ consumer: {} }, /options\.consumer/],
      [{ group: '' }, /options\.group/],
      [{ consumerName: 5 }, /options\.consumerName/],
      [{ batchSize: 0 }, /options\.batchSize/],
      [{ blockMs: -1 }, /options\.blockMs/],
      [{ claimIdleMs: 0 }, /options\.claimIdleMs/],
      [{ maxDeliveries: 0 }, /options\.maxDeliveries/],
      [{ streamKey: () => '' }, /options\.streamKey/],
      [{ deadLetterStreamKey: 'x' }, /options\.deadLetterStreamKey/],
      [{ logger: {} }, /options\.logger/],
    ];
    for (const [override, message] of bad) {
      expect(() => createRedisStreamsConsumer({ ...base, ...override } as never)).toThrow(message);
    }
  });
});

describeWithRedis('Redis Streams publisher and consumer', (redisUrl) => {
  let redis: Redis;
  const created: RedisStreamsConsumer[] = [];

  beforeAll(() => {
    redis = new Redis(redisUrl);
  });
  afterAll(async () => {
    await Promise.all(created.map((c) => c.close({ timeoutMs: 1000 })));
    await redis.quit();
  });

  /** A stream-key function private to one test. */
  function streams() {
    const run = createId();
    return (topic: string) => `test:${run}:${topic}`;
  }

  function transport(
    options: Partial<RedisStreamsConsumerOptions> & { consumer: MessageConsumer },
  ) {
    const consumer = createRedisStreamsConsumer({ client: redis, blockMs: 0, ...options });
    created.push(consumer);
    return consumer;
  }

  /** How many entries of `stream` the `billing` group has delivered and not acknowledged. */
  async function pendingCount(stream: string): Promise<number> {
    return ((await redis.xpending(stream, 'billing')) as [number])[0];
  }

  async function redisDedupe() {
    const backend = createRedisBackend({ client: redis, keyPrefix: `test:${createId()}:` });
    const store = createRedisIdempotencyStore({ backend });
    await store.migrate();
    return createDedupe({ store, consumer: 'billing' });
  }

  describe('publisher', () => {
    it('appends one entry per message, the wire fields, in order; key absent when null', async () => {
      const streamKey = streams();
      const publisher = createRedisStreamsPublisher({ client: redis, streamKey });
      const messages = [
        outboxMessage({ key: 'k1', payload: { n: 1 }, headers: { 'x-correlation-id': 'c1' } }),
        outboxMessage({ key: 'k2', payload: { n: 2 } }),
        outboxMessage({ key: null, payload: [3] }),
        outboxMessage({ key: 'k1', payload: { n: 4 } }),
      ];
      expect(await publisher.publish(messages)).toEqual(messages.map((m) => m.id));
      const entries = (await redis.call(
        'XRANGE',
        streamKey('order.created'),
        '-',
        '+',
      )) as unknown[][];
      const fields = entries.map((entry) => fieldsOf(entry[1]));
      expect(fields.map((f) => f.id)).toEqual(messages.map((m) => m.id));
      expect(fields[0]).toEqual({
        id: messages[0]?.id,
        topic: 'order.created',
        key: 'k1',
        payload: '{"n":1}',
        headers: '{"x-correlation-id":"c1"}',
        createdAt: '1700000000000',
      });
      expect(fields[2]).not.toHaveProperty('key');
    });

    it('is idempotent: a message handed over again is acked without a second entry', async () => {
      const streamKey = streams();
      const publisher = createRedisStreamsPublisher({ client: redis, streamKey });
      const message = outboxMessage();
      expect(await publisher.publish([message])).toEqual([message.id]);
      expect(await publisher.publish([message])).toEqual([message.id]);
      expect(await redis.xlen(streamKey('order.created'))).toBe(1);
      const ttl = await redis.pttl(`${streamKey('order.created')}:ids:${message.id}`);
      expect(ttl).toBeGreaterThan(86_000_000);
    });

    it('trims with MAXLEN ~ when maxLength is set', async () => {
      const streamKey = streams();
      const publisher = createRedisStreamsPublisher({ client: redis, streamKey, maxLength: 1 });
      const messages = Array.from({ length: 300 }, () => outboxMessage({ key: null }));
      await publisher.publish(messages);
      expect(await redis.xlen(streamKey('order.created'))).toBeLessThan(300);
    });

    it('stops a stream at its first error, keeps earlier acks and other streams', async () => {
      const streamKey = streams();
      const logger = recordingLogger();
      const publisher = createRedisStreamsPublisher({ client: redis, streamKey, logger });
      const first = outboxMessage({ key: 'k1' });
      await publisher.publish([first]);
      // The stream key now holds a string: every XADD to it fails with WRONGTYPE.
      await redis.del(streamKey('order.created'));
      await redis.set(streamKey('order.created'), 'not a stream');
      const second = outboxMessage({ key: 'k1' });
      const third = outboxMessage({ key: 'k2' });
      const elsewhere = outboxMessage({ topic: 'order.shipped', key: 'k3' });
      const acked = await publisher.publish([first, second, elsewhere, third]);
      // `first` was published before (acked again), `second` failed, `third` was not tried.
      expect(acked).toEqual([first.id, elsewhere.id]);
      expect(await redis.xlen(streamKey('order.shipped'))).toBe(1);
      expect(logger.lines[0]?.fields).toMatchObject({
        event: 'outbox.publish.failed',
        stream: streamKey('order.created'),
        code: 'BACKEND_ERROR',
        redisCode: 'WRONGTYPE',
        acknowledged: 1,
      });
    });

    it('keeps the order of a key across streams: nothing of a key after its failure', async () => {
      const streamKey = streams();
      await redis.set(streamKey('order.created'), 'not a stream');
      const publisher = createRedisStreamsPublisher({ client: redis, streamKey });
      const failing = outboxMessage({ topic: 'order.created', key: 'k' });
      const sameKeyElsewhere = outboxMessage({ topic: 'order.shipped', key: 'k' });
      const otherKey = outboxMessage({ topic: 'order.shipped', key: 'j' });
      const earlierElsewhere = outboxMessage({ topic: 'order.paid', key: 'k' });
      const acked = await publisher.publish([
        earlierElsewhere,
        failing,
        sameKeyElsewhere,
        otherKey,
      ]);
      expect(acked).toEqual([earlierElsewhere.id, otherKey.id]);
      const shipped = (await redis.call(
        'XRANGE',
        streamKey('order.shipped'),
        '-',
        '+',
      )) as unknown[][];
      expect(shipped.map((entry) => fieldsOf(entry[1]).id)).toEqual([otherKey.id]);
    });

    it('rejects with a FlowproofError when nothing could be published', async () => {
      const streamKey = streams();
      await redis.set(streamKey('order.created'), 'not a stream');
      const publisher = createRedisStreamsPublisher({ client: redis, streamKey });
      await expect(publisher.publish([outboxMessage()])).rejects.toMatchObject({
        name: 'FlowproofError',
        code: 'BACKEND_ERROR',
        details: { backend: 'redis', redisCode: 'WRONGTYPE' },
      });
    });
  });

  describe('consumer', () => {
    it('acks an entry only after its handler succeeded', async () => {
      const streamKey = streams();
      const stream = streamKey('order.created');
      const pendingWhileHandling: number[] = [];
      const consumer = createMessageConsumer({
        name: 'billing',
        handlers: {
          'order.created': async () => {
            pendingWhileHandling.push(await pendingCount(stream));
          },
        },
      });
      await createRedisStreamsPublisher({ client: redis, streamKey }).publish([outboxMessage()]);
      const round = await transport({ consumer, streamKey }).runOnce();
      expect(round).toEqual({ handled: 1, duplicates: 0, failed: 0, deadLettered: 0, claimed: 0 });
      expect(pendingWhileHandling).toEqual([1]);
      expect(await pendingCount(stream)).toBe(0);
    });

    it('leaves a failed entry pending, delivers it again after claimIdleMs, then acks', async () => {
      const streamKey = streams();
      const stream = streamKey('order.created');
      const deliveries: number[] = [];
      const consumer = createMessageConsumer({
        name: 'billing',
        handlers: {
          'order.created': (message) => {
            deliveries.push(message.deliveries);
            if (message.deliveries === 1) throw new Error('flaky');
          },
        },
      });
      await createRedisStreamsPublisher({ client: redis, streamKey }).publish([outboxMessage()]);
      const reader = transport({ consumer, streamKey, claimIdleMs: 30 });
      expect(await reader.runOnce()).toMatchObject({ handled: 0, failed: 1 });
      expect(await pendingCount(stream)).toBe(1);
      await sleep(40);
      expect(await reader.runOnce()).toMatchObject({ handled: 1, claimed: 1 });
      expect(deliveries).toEqual([1, 2]);
      expect(await pendingCount(stream)).toBe(0);
    });

    it('applies a redelivered message once through the inbox', async () => {
      const streamKey = streams();
      // A 1 ms window: the message handed over again is appended a second time.
      const publisher = createRedisStreamsPublisher({
        client: redis,
        streamKey,
        dedupeWindowMs: 1,
      });
      const message = outboxMessage();
      await publisher.publish([message]);
      await sleep(5);
      await publisher.publish([message]);
      expect(await redis.xlen(streamKey('order.created'))).toBe(2);
      let runs = 0;
      const consumer = createMessageConsumer({
        name: 'billing',
        inbox: await redisDedupe(),
        handlers: {
          'order.created': () => {
            runs += 1;
          },
        },
      });
      expect(await transport({ consumer, streamKey }).runOnce()).toMatchObject({
        handled: 1,
        duplicates: 1,
      });
      expect(runs).toBe(1);
    });

    it('takes over an entry a consumer read and never acked (XAUTOCLAIM)', async () => {
      const streamKey = streams();
      const stream = streamKey('order.created');
      const message = outboxMessage();
      const seen: ReceivedMessage[] = [];
      const consumer = createMessageConsumer({
        name: 'billing',
        handlers: { 'order.created': (m) => void seen.push(m) },
      });
      const survivor = transport({ consumer, streamKey, claimIdleMs: 50, consumerName: 'alive' });
      expect(await survivor.runOnce()).toMatchObject({ handled: 0 }); // creates the group
      await createRedisStreamsPublisher({ client: redis, streamKey }).publish([message]);
      // A consumer that dies after reading: the entry is pending, owned by it.
      await redis.call(
        'XREADGROUP',
        'GROUP',
        'billing',
        'dead',
        'COUNT',
        10,
        'STREAMS',
        stream,
        '>',
      );
      expect(await survivor.runOnce()).toMatchObject({ handled: 0, claimed: 0 });
      await sleep(60);
      expect(await survivor.runOnce()).toMatchObject({ handled: 1, claimed: 1 });
      expect(seen.map((m) => [m.id, m.deliveries])).toEqual([[message.id, 2]]);
      expect(await pendingCount(stream)).toBe(0);
    });

    it('moves a poison message to the dead-letter stream after maxDeliveries, with the error', async () => {
      const streamKey = streams();
      const stream = streamKey('order.created');
      const logger = recordingLogger();
      const consumer = createMessageConsumer({
        name: 'billing',
        handlers: {
          'order.created': () => {
            throw new Error('always fails');
          },
        },
      });
      const message = outboxMessage({ headers: { 'x-correlation-id': 'corr-dl' } });
      await createRedisStreamsPublisher({ client: redis, streamKey }).publish([message]);
      const reader = transport({ consumer, streamKey, claimIdleMs: 20, maxDeliveries: 3, logger });
      const rounds = [];
      for (let i = 0; i < 3; i += 1) {
        rounds.push(await reader.runOnce());
        await sleep(30);
      }
      expect(rounds.map((r) => r.deadLettered)).toEqual([0, 0, 1]);
      const [entry] = (await redis.call(
        'XRANGE',
        `${stream}:dead-letter`,
        '-',
        '+',
      )) as unknown[][];
      const fields = fieldsOf(entry?.[1]);
      expect(fields).toMatchObject({
        id: message.id,
        topic: 'order.created',
        headers: '{"x-correlation-id":"corr-dl"}',
        deliveries: '3',
        group: 'billing',
      });
      expect(JSON.parse(fields.error as string)).toEqual({
        name: 'FlowproofError',
        code: 'MESSAGE_DELIVERY_LIMIT',
        message: `Message ${message.id} failed on all 3 deliveries; last error: Error: always fails`,
        details: { messageId: message.id, deliveries: 3 },
      });
      expect(JSON.parse(fields.lastError as string)).toEqual({
        name: 'Error',
        message: 'always fails',
      });
      expect(await pendingCount(stream)).toBe(0);
      expect(logger.lines.at(-1)?.fields).toMatchObject({
        event: 'outbox.consume.dead_lettered',
        messageId: message.id,
        deliveries: 3,
      });
    });

    it('dead-letters an entry delivered more than maxDeliveries times without running it', async () => {
      const streamKey = streams();
      const stream = streamKey('order.created');
      let ran = false;
      const consumer = createMessageConsumer({
        name: 'billing',
        handlers: {
          'order.created': () => {
            ran = true;
          },
        },
      });
      const survivor = transport({ consumer, streamKey, claimIdleMs: 20, maxDeliveries: 1 });
      await survivor.runOnce(); // creates the group
      const message = outboxMessage();
      await createRedisStreamsPublisher({ client: redis, streamKey }).publish([message]);
      // Its first consumer died while handling it.
      await redis.call('XREADGROUP', 'GROUP', 'billing', 'dead', 'STREAMS', stream, '>');
      await sleep(30);
      expect(await survivor.runOnce()).toMatchObject({ claimed: 1, deadLettered: 1 });
      expect(ran).toBe(false);
      const [entry] = (await redis.call(
        'XRANGE',
        `${stream}:dead-letter`,
        '-',
        '+',
      )) as unknown[][];
      const fields = fieldsOf(entry?.[1]);
      expect(fields.deliveries).toBe('2');
      expect(JSON.parse(fields.error as string)).toMatchObject({
        code: 'MESSAGE_DELIVERY_LIMIT',
        details: { messageId: message.id, deliveries: 2 },
      });
    });

    it('dead-letters a permanent failure at once', async () => {
      const streamKey = streams();
      const consumer = createMessageConsumer({
        name: 'billing',
        topics: { 'order.created': z.object({ orderId: z.string() }) },
        handlers: {
          'order.created': () => {
            throw new NonRetryableError('card declined');
          },
        },
      });
      await createRedisStreamsPublisher({ client: redis, streamKey }).publish([
        outboxMessage({ payload: { orderId: 7 } }),
        outboxMessage({ key: 'k2' }),
      ]);
      expect(await transport({ consumer, streamKey }).runOnce()).toMatchObject({
        deadLettered: 2,
      });
      const entries = (await redis.call(
        'XRANGE',
        `${streamKey('order.created')}:dead-letter`,
        '-',
        '+',
      )) as unknown[][];
      const errors = entries.map((entry) => JSON.parse(fieldsOf(entry[1]).error as string));
      expect(errors[0]).toMatchObject({ code: 'VALIDATION_FAILED' });
      expect(errors[1]).toMatchObject({ message: 'card declined' });
    });

    it('dead-letters a malformed entry at once, with MESSAGE_MALFORMED', async () => {
      const streamKey = streams();
      const stream = streamKey('order.created');
      let ran = false;
      const consumer = createMessageConsumer({
        name: 'billing',
        handlers: {
          'order.created': () => {
            ran = true;
          },
        },
      });
      const entryId = (await redis.xadd(
        stream,
        '*',
        'id',
        'x',
        'topic',
        'order.created',
        'payload',
        '{nope',
      )) as string;
      expect(await transport({ consumer, streamKey }).runOnce()).toMatchObject({
        deadLettered: 1,
      });
      const [entry] = (await redis.call(
        'XRANGE',
        `${stream}:dead-letter`,
        '-',
        '+',
      )) as unknown[][];
      const fields = fieldsOf(entry?.[1]);
      expect(fields).toMatchObject({ id: 'x', payload: '{nope', deliveries: '1' });
      expect(JSON.parse(fields.error as string)).toMatchObject({
        code: 'MESSAGE_MALFORMED',
        details: { deliveryId: entryId, reason: 'the payload field is not JSON' },
      });
      expect(ran).toBe(false);
    });

    it('handles the messages of a key in order; after a failure, later ones of that key wait', async () => {
      const streamKey = streams();
      const order: string[] = [];
      const consumer = createMessageConsumer({
        name: 'billing',
        handlers: {
          'order.created': (message) => {
            const { n } = message.payload as { n: number };
            if (n === 2 && message.deliveries === 1) throw new Error('once');
            order.push(`${String(message.key)}:${n}`);
          },
        },
      });
      await createRedisStreamsPublisher({ client: redis, streamKey }).publish([
        outboxMessage({ key: 'k1', payload: { n: 1 } }),
        outboxMessage({ key: 'k1', payload: { n: 2 } }),
        outboxMessage({ key: 'k1', payload: { n: 3 } }),
        outboxMessage({ key: 'k2', payload: { n: 4 } }),
      ]);
      const reader = transport({ consumer, streamKey, claimIdleMs: 20 });
      expect(await reader.runOnce()).toMatchObject({ handled: 2, failed: 2 });
      await sleep(30);
      expect(await reader.runOnce()).toMatchObject({ handled: 2, claimed: 2 });
      expect(order).toEqual(['k1:1', 'k2:4', 'k1:2', 'k1:3']);
    });

    it('restores the producer context across the stream', async () => {
      const streamKey = streams();
      const seen: unknown[] = [];
      const consumer = createMessageConsumer({
        name: 'billing',
        handlers: { 'order.created': () => void seen.push(getContext()) },
      });
      const headers = runWithContext({ correlationId: 'corr-rs', tenant: 'acme' }, () =>
        serializeContext(),
      );
      const message = outboxMessage({ headers });
      await createRedisStreamsPublisher({ client: redis, streamKey }).publish([message]);
      await transport({ consumer, streamKey }).runOnce();
      expect(seen).toEqual([{ correlationId: 'corr-rs', causationId: message.id, tenant: 'acme' }]);
    });

    it('round-trips any JSON payload and string headers through the stream encoding', async () => {
      const streamKey = streams();
      const seen: ReceivedMessage[] = [];
      const consumer = createMessageConsumer({
        name: 'billing',
        handlers: { 'order.created': (m) => void seen.push(m) },
      });
      const publisher = createRedisStreamsPublisher({ client: redis, streamKey });
      const reader = transport({ consumer, streamKey });
      await fc.assert(
        fc.asyncProperty(
          fc.jsonValue(),
          fc.dictionary(fc.string(), fc.string()),
          fc.option(fc.string(), { nil: null }),
          async (payload, headers, key) => {
            seen.length = 0;
            const message = outboxMessage({ payload, headers, key });
            await publisher.publish([message]);
            await reader.runOnce();
            expect(seen).toHaveLength(1);
            expect(seen[0]).toEqual({
              id: message.id,
              topic: message.topic,
              key,
              payload: JSON.parse(JSON.stringify(payload)),
              headers: JSON.parse(JSON.stringify(headers)),
              createdAt: message.createdAt,
              deliveries: 1,
            });
          },
        ),
        { numRuns: 40 },
      );
    });

    it('close() waits for the handler in flight; runOnce() afterwards is CONSUMER_CLOSED', async () => {
      const streamKey = streams();
      const stream = streamKey('order.created');
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let started: () => void = () => {};
      const handlerStarted = new Promise<void>((resolve) => {
        started = resolve;
      });
      let finished = false;
      const consumer = createMessageConsumer({
        name: 'billing',
        handlers: {
          'order.created': async () => {
            started();
            await gate;
            finished = true;
          },
        },
      });
      await createRedisStreamsPublisher({ client: redis, streamKey }).publish([outboxMessage()]);
      const reader = transport({ consumer, streamKey, blockMs: 200 });
      reader.start();
      await handlerStarted;
      let closed = false;
      const closing = reader.close().then(() => {
        closed = true;
      });
      await sleep(50);
      expect(closed).toBe(false);
      release();
      await closing;
      expect(finished).toBe(true);
      expect(await pendingCount(stream)).toBe(0);
      await expect(reader.runOnce()).rejects.toMatchObject({ code: 'CONSUMER_CLOSED' });
      await expect(reader.close({ timeoutMS: 1 } as never)).rejects.toThrow(/options\.timeoutMS/);
      expect(() => reader.start()).toThrow(expect.objectContaining({ code: 'CONSUMER_CLOSED' }));
    });

    it('acks an entry deleted from the stream while pending, without handling it', async () => {
      const streamKey = streams();
      const stream = streamKey('order.created');
      const consumer = createMessageConsumer({
        name: 'billing',
        handlers: { 'order.created': () => {} },
      });
      const reader = transport({ consumer, streamKey, claimIdleMs: 20 });
      await reader.runOnce();
      await createRedisStreamsPublisher({ client: redis, streamKey }).publish([outboxMessage()]);
      const read = (await redis.call(
        'XREADGROUP',
        'GROUP',
        'billing',
        'dead',
        'STREAMS',
        stream,
        '>',
      )) as [[string, [[string]]]];
      await redis.xdel(stream, read[0][1][0][0]);
      await sleep(30);
      expect(await reader.runOnce()).toEqual({
        handled: 0,
        duplicates: 0,
        failed: 0,
        deadLettered: 0,
        claimed: 0,
      });
      expect(await pendingCount(stream)).toBe(0);
    });

    it('runs concurrent rounds one after the other', async () => {
      const streamKey = streams();
      let running = 0;
      let most = 0;
      const consumer = createMessageConsumer({
        name: 'billing',
        handlers: {
          'order.created': async () => {
            running += 1;
            most = Math.max(most, running);
            await sleep(10);
            running -= 1;
          },
        },
      });
      const reader = transport({ consumer, streamKey, batchSize: 1 });
      await reader.runOnce();
      await createRedisStreamsPublisher({ client: redis, streamKey }).publish([
        outboxMessage({ key: 'a' }),
        outboxMessage({ key: 'b' }),
        outboxMessage({ key: 'c' }),
      ]);
      const rounds = await Promise.all([reader.runOnce(), reader.runOnce(), reader.runOnce()]);
      expect(rounds.map((round) => round.handled)).toEqual([1, 1, 1]);
      expect(most).toBe(1);
    });

    it('close() leaves no timer behind', async () => {
      const streamKey = streams();
      const consumer = createMessageConsumer({
        name: 'billing',
        handlers: { 'order.created': () => {} },
      });
      const reader = transport({ consumer, streamKey });
      await reader.runOnce();
      const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      const before = timers();
      await reader.close({ timeoutMs: 60_000 });
      expect(timers()).toBeLessThanOrEqual(before);
    });

    it('close() cuts a blocking read short', async () => {
      const streamKey = streams();
      const consumer = createMessageConsumer({
        name: 'billing',
        handlers: { 'order.created': () => {} },
      });
      const reader = transport({ consumer, streamKey, blockMs: 10_000 });
      reader.start();
      await sleep(100);
      const started = Date.now();
      await reader.close();
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('a started consumer handles what is published', async () => {
      const streamKey = streams();
      const handled: string[] = [];
      const consumer = createMessageConsumer({
        name: 'billing',
        handlers: { 'order.created': (m) => void handled.push(m.id) },
      });
      const reader = transport({ consumer, streamKey, blockMs: 100 });
      reader.start();
      const message = outboxMessage();
      await createRedisStreamsPublisher({ client: redis, streamKey }).publish([message]);
      for (let i = 0; i < 100 && handled.length === 0; i += 1) await sleep(20);
      await reader.close();
      expect(handled).toEqual([message.id]);
    });
  });
});
