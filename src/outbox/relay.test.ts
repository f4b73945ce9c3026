import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { recordingLogger } from '../../test/support/logger.js';
import { createMemoryBackend, createMemoryOutboxStore } from '../adapters/memory/index.js';
import { sleep } from '../core/async.js';
import { FlowproofError, isFlowproofError } from '../core/errors.js';
import { NonRetryableError } from '../core/retry-policy.js';
import {
  createInProcessPublisher,
  createMessageConsumer,
  createOutbox,
  createOutboxRelay,
  type OutboxMessage,
  type OutboxPublisher,
  type OutboxRelayOptions,
} from './index.js';

const topics = { event: z.object({ n: z.number() }) };

/** A publisher that records what it published and fails the messages `fail` picks. */
function scriptedPublisher(fail: (message: OutboxMessage, call: number) => boolean = () => false) {
  const published: OutboxMessage[] = [];
  let calls = 0;
  const publisher: OutboxPublisher = {
    async publish(messages) {
      calls += 1;
      const acked: string[] = [];
      const failedKeys = new Set<string | null>();
      for (const message of messages) {
        // The port's contract: nothing after a failure of the same key.
        if (message.key !== null && failedKeys.has(message.key)) continue;
        if (fail(message, calls)) {
          failedKeys.add(message.key);
          continue;
        }
        published.push(message);
        acked.push(message.id);
      }
      return acked;
    },
  };
  return { publisher, published, calls: () => calls };
}

async function setup(relayOptions: Partial<OutboxRelayOptions> & { publisher: OutboxPublisher }) {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const backend = createMemoryBackend({ clock: { now: () => new Date(now) } });
  const store = createMemoryOutboxStore({ backend });
  await store.migrate();
  const outbox = createOutbox({ store, topics });
  const relay = createOutboxRelay({
    store,
    retry: { retries: 2, minTimeout: 1_000, factor: 2, randomize: false },
    ...relayOptions,
  });
  return {
    store,
    outbox,
    relay,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const payloads = (messages: readonly OutboxMessage[]) =>
  messages.map((m) => (m.payload as { n: number }).n);

describe('createOutboxRelay', () => {
  it('publishes every committed message once, in position order, and marks them published', async () => {
    const script = scriptedPublisher();
    const { outbox, relay, store } = await setup({ publisher: script.publisher, batchSize: 3 });
    for (let n = 0; n < 7; n += 1) await outbox.enqueue('event', { n }, { key: `k${n % 2}` });
    const total = await relay.drain();
    expect(total).toEqual({ claimed: 7, published: 7, retried: 0, deadLettered: 0 });
    expect(payloads(script.published)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect((await outbox.stats()).pending).toBe(0);
    expect((await store.get(script.published[0]!.id))?.status).toBe('published');
    expect(await relay.drain()).toEqual({ claimed: 0, published: 0, retried: 0, deadLettered: 0 });
  });

  it('holds back later messages of a key behind a failed one, without counting them, and keeps the order', async () => {
    let failing = true;
    const script = scriptedPublisher((m) => failing && (m.payload as { n: number }).n === 1);
    const { outbox, relay, store, advance } = await setup({ publisher: script.publisher });
    await outbox.enqueue('event', { n: 1 }, { key: 'A', id: 'a1' });
    await outbox.enqueue('event', { n: 2 }, { key: 'A', id: 'a2' });
    await outbox.enqueue('event', { n: 3 }, { key: 'B', id: 'b1' });
    expect(await relay.runOnce()).toEqual({
      claimed: 3,
      published: 1,
      retried: 2,
      deadLettered: 0,
    });
    expect(payloads(script.published)).toEqual([3]);
    const a1 = await store.get('a1');
    expect(a1).toMatchObject({ attempts: 1, lastError: { code: 'OUTBOX_PUBLISH_FAILED' } });
    expect(await store.get('a2')).toMatchObject({ attempts: 0, lastError: null });
    // a1 waits for its backoff (1 s); a2 must not overtake it.
    expect((await relay.runOnce()).claimed).toBe(0);
    advance(1_000);
    failing = false;
    expect(await relay.drain()).toMatchObject({ published: 2 });
    expect(payloads(script.published)).toEqual([3, 1, 2]);
  });

  it('dead-letters a message after its retries, with the error; the next of its key then goes', async () => {
    const script = scriptedPublisher((m) => m.id === 'poison');
    const { outbox, relay, advance } = await setup({ publisher: script.publisher });
    await outbox.enqueue('event', { n: 1 }, { key: 'A', id: 'poison' });
    await outbox.enqueue('event', { n: 2 }, { key: 'A', id: 'after' });
    const results = [];
    for (let i = 0; i < 3; i += 1) {
      results.push(await relay.runOnce());
      advance(10_000);
    }
    expect(results.map((r) => r.deadLettered)).toEqual([0, 0, 1]);
    expect(payloads(script.published)).toEqual([]);
    const page = await outbox.deadLetters();
    expect(page.messages.map((m) => m.id)).toEqual(['poison']);
    expect(page.messages[0]).toMatchObject({ status: 'dead_lettered', attempts: 3 });
    expect(page.messages[0]?.lastError?.code).toBe('OUTBOX_PUBLISH_FAILED');
    expect(await relay.drain()).toMatchObject({ published: 1 });
    expect(payloads(script.published)).toEqual([2]);
    // Redriven, it is published once the publisher accepts it.
    await outbox.redrive('poison');
    expect((await outbox.get('poison'))?.attempts).toBe(0);
  });

  it('redrives dead letters in batch by topic', async () => {
    let fail = true;
    const script = scriptedPublisher(() => fail);
    const { outbox, relay } = await setup({
      publisher: script.publisher,
      retry: { retries: 0 },
    });
    for (let n = 0; n < 3; n += 1) await outbox.enqueue('event', { n });
    expect((await relay.runOnce()).deadLettered).toBe(3);
    expect((await outbox.stats()).deadLettered).toBe(3);
    const firstPage = await outbox.deadLetters({ limit: 2 });
    expect(firstPage.messages).toHaveLength(2);
    const secondPage = await outbox.deadLetters({ limit: 2, cursor: firstPage.cursor! });
    expect(secondPage.messages).toHaveLength(1);
    expect(secondPage.cursor).toBeUndefined();
    fail = false;
    expect(await outbox.redrive({ topic: 'event', limit: 10 })).toHaveLength(3);
    expect(await relay.drain()).toMatchObject({ published: 3 });
  });

  it('dead-letters at once on a NonRetryableError or when shouldRetry says no', async () => {
    const publisher: OutboxPublisher = {
      publish: async () => {
        throw new NonRetryableError('message too large for the broker');
      },
    };
    const { outbox, relay } = await setup({ publisher });
    await outbox.enqueue('event', { n: 1 }, { id: 'big' });
    expect((await relay.runOnce()).deadLettered).toBe(1);
    expect((await outbox.get('big'))?.lastError?.message).toBe('message too large for the broker');
    const picky = await setup({
      publisher: { publish: async () => Promise.reject(new Error('400 bad request')) },
      retry: { retries: 5, shouldRetry: (error) => !String(error).includes('400') },
    });
    await picky.outbox.enqueue('event', { n: 1 }, { id: 'm' });
    expect((await picky.relay.runOnce()).deadLettered).toBe(1);
  });

  it("records each message's own error when the publisher reports it, and dead-letters a NonRetryableError at once", async () => {
    const publisher: OutboxPublisher = {
      async publish(messages) {
        const failed = new Map<string, unknown>();
        for (const m of messages) {
          failed.set(
            m.id,
            m.id === 'fatal'
              ? new NonRetryableError('schema rejected by the broker')
              : new Error(`busy: ${m.id}`),
          );
        }
        return { acknowledged: [], failed };
      },
    };
    const { outbox, relay, store } = await setup({ publisher });
    await outbox.enqueue('event', { n: 1 }, { id: 'fatal' });
    await outbox.enqueue('event', { n: 2 }, { id: 'busy' });
    expect(await relay.runOnce()).toMatchObject({ retried: 1, deadLettered: 1 });
    expect((await store.get('fatal'))?.lastError?.message).toBe('schema rejected by the broker');
    expect(await store.get('busy')).toMatchObject({
      attempts: 1,
      lastError: { message: 'busy: busy' },
    });
  });

  it('through the in-process publisher, a consumer that rejects a payload for good dead-letters it at once, with its error', async () => {
    const consumer = createMessageConsumer({
      name: 'strict',
      topics: { event: z.object({ n: z.number().max(10) }) },
      handlers: { event: async () => {} },
    });
    const { outbox, relay, store } = await setup({
      publisher: createInProcessPublisher({ consumers: [consumer] }),
    });
    await outbox.enqueue('event', { n: 99 }, { id: 'too-big' });
    expect(await relay.runOnce()).toMatchObject({ deadLettered: 1 });
    expect((await store.get('too-big'))?.lastError?.code).toBe('VALIDATION_FAILED');
  });

  it('counts a publish that throws, or hangs past publishTimeoutMs, as failed for the whole batch', async () => {
    const hanging: OutboxPublisher = { publish: () => new Promise(() => {}) };
    const { outbox, relay, store } = await setup({
      publisher: hanging,
      publishTimeoutMs: 50,
      leaseMs: 1_000,
    });
    await outbox.enqueue('event', { n: 1 }, { id: 'slow' });
    expect(await relay.runOnce()).toMatchObject({ claimed: 1, retried: 1, published: 0 });
    expect((await store.get('slow'))?.lastError?.code).toBe('BACKEND_TIMEOUT');
    const broken: OutboxPublisher = { publish: async () => 'yes' as never };
    const other = await setup({ publisher: broken });
    await other.outbox.enqueue('event', { n: 1 }, { id: 'x' });
    expect((await other.relay.runOnce()).retried).toBe(1);
    expect((await other.store.get('x'))?.lastError?.message).toMatch(/array of ids/);
  });

  it('shares the work between relays: each message published by exactly one of them', async () => {
    const script = scriptedPublisher();
    const first = await setup({ publisher: script.publisher, batchSize: 5 });
    const second = createOutboxRelay({
      store: first.store,
      publisher: script.publisher,
      batchSize: 5,
    });
    for (let n = 0; n < 60; n += 1)
      await first.outbox.enqueue('event', { n }, { key: `k${n % 4}` });
    await Promise.all([first.relay.drain(), second.drain(), first.relay.drain()]);
    const seen = payloads(script.published);
    expect(seen.slice().sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, n) => n));
    for (let k = 0; k < 4; k += 1) {
      const ofKey = script.published
        .filter((m) => m.key === `k${k}`)
        .map((m) => (m.payload as { n: number }).n);
      expect(ofKey).toEqual(ofKey.slice().sort((a, b) => a - b));
    }
  });

  it('runs in the background, wakes up at once on a wake-up, and stops on close', async () => {
    const script = scriptedPublisher();
    let wake: (() => void) | undefined;
    let unsubscribed = false;
    const { outbox, relay } = await setup({
      publisher: script.publisher,
      pollIntervalMs: 60_000,
      wakeUp: {
        subscribe: (listener) => {
          wake = listener;
          return () => {
            unsubscribed = true;
          };
        },
      },
    });
    relay.start();
    relay.start();
    await sleep(20);
    await outbox.enqueue('event', { n: 1 });
    expect(script.published).toHaveLength(0);
    wake?.();
    for (let i = 0; i < 50 && script.published.length === 0; i += 1) await sleep(10);
    expect(payloads(script.published)).toEqual([1]);
    await relay.close();
    expect(unsubscribed).toBe(true);
    const closed = await relay.runOnce().catch((error: unknown) => error);
    expect(isFlowproofError(closed, 'OUTBOX_RELAY_CLOSED')).toBe(true);
    expect(() => relay.start()).toThrow(/closed/);
    await relay.close();
  });

  it('close() of a started relay leaves no timer behind (the process can exit at once)', async () => {
    const { relay } = await setup({ publisher: scriptedPublisher().publisher });
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    relay.start();
    await sleep(20);
    await relay.close({ timeoutMs: 60_000 });
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('subscribes to wake-ups again while subscribing fails (the database not up yet)', async () => {
    const script = scriptedPublisher();
    let attempts = 0;
    let wake: (() => void) | undefined;
    const { outbox, relay } = await setup({
      publisher: script.publisher,
      pollIntervalMs: 60_000,
      wakeUp: {
        subscribe: async (listener) => {
          attempts += 1;
          if (attempts <= 2) {
            throw new FlowproofError('BACKEND_UNAVAILABLE', 'connect ECONNREFUSED');
          }
          wake = listener;
          return () => {};
        },
      },
    });
    relay.start();
    for (let i = 0; i < 200 && wake === undefined; i += 1) await sleep(10);
    expect(attempts).toBe(3);
    await outbox.enqueue('event', { n: 1 });
    wake?.();
    for (let i = 0; i < 50 && script.published.length === 0; i += 1) await sleep(10);
    expect(payloads(script.published)).toEqual([1]);
    await relay.close();
  });

  it('keeps going after a store failure, logging it', async () => {
    const logger = recordingLogger();
    const script = scriptedPublisher();
    const { outbox, store } = await setup({ publisher: script.publisher });
    let failNext = 2;
    const flaky = new Proxy(store, {
      get(target, property) {
        if (property === 'claim') {
          return async (request: Parameters<typeof store.claim>[0]) => {
            if (failNext > 0) {
              failNext -= 1;
              throw new Error('connection reset');
            }
            return target.claim(request);
          };
        }
        const value = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const relay = createOutboxRelay({
      store: flaky,
      publisher: script.publisher,
      pollIntervalMs: 5,
      logger,
    });
    await outbox.enqueue('event', { n: 1 });
    relay.start();
    for (let i = 0; i < 100 && script.published.length === 0; i += 1) await sleep(10);
    await relay.close();
    expect(payloads(script.published)).toEqual([1]);
    expect(logger.lines.filter((l) => l.fields.event === 'outbox.relay.batch_failed')).toHaveLength(
      2,
    );
  });

  it('purges published messages older than the retention while running', async () => {
    const script = scriptedPublisher();
    const { outbox, relay, store, advance } = await setup({
      publisher: script.publisher,
      retainPublishedMs: 1_000,
      purgeIntervalMs: 1,
      pollIntervalMs: 5,
    });
    await outbox.enqueue('event', { n: 1 }, { id: 'old' });
    await relay.drain();
    advance(5_000);
    relay.start();
    for (let i = 0; i < 100 && (await store.get('old')) !== undefined; i += 1) await sleep(10);
    await relay.close();
    expect(await store.get('old')).toBeUndefined();
  });

  it('refuses bad options with a TypeError naming them', async () => {
    const { store } = await setup({ publisher: scriptedPublisher().publisher });
    const publisher = scriptedPublisher().publisher;
    expect(() => createOutboxRelay({ store, publisher: {} as never })).toThrow(
      /options\.publisher\.publish/,
    );
    expect(() => createOutboxRelay({ store, publisher, batchSize: 0 })).toThrow(
      /options\.batchSize/,
    );
    expect(() =>
      createOutboxRelay({ store, publisher, leaseMs: 1_000, publishTimeoutMs: 2_000 }),
    ).toThrow(/publishTimeoutMs/);
    expect(() => createOutboxRelay({ store, publisher, retry: { retry: 3 } as never })).toThrow(
      /options\.retry/,
    );
    expect(() => createOutboxRelay({ store, publisher, pollInterval: 5 } as never)).toThrow(
      /pollInterval/,
    );
    expect(() => createOutboxRelay({ store: {} as never, publisher })).toThrow(
      /options\.store\.claim/,
    );
  });
});
