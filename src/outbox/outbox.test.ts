import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { rejection } from '../../test/support/failures.js';
import { recordingLogger } from '../../test/support/logger.js';
import { useTestTracing } from '../../test/support/opentelemetry.js';
import { createMemoryBackend, createMemoryOutboxStore } from '../adapters/memory/index.js';
import { runWithContext } from '../core/context.js';
import { isFlowproofError } from '../core/errors.js';
import { isId } from '../core/ids.js';
import { createOutbox } from './index.js';

const topics = {
  'order.created': z.object({ orderId: z.string(), total: z.number().nonnegative() }),
  'order.paid': z.object({ orderId: z.string(), at: z.coerce.date() }),
};

async function setup() {
  const backend = createMemoryBackend();
  const store = createMemoryOutboxStore({ backend });
  await store.migrate();
  const outbox = createOutbox({ store, topics });
  return { backend, store, outbox };
}

describe('createOutbox: enqueue', () => {
  it('stores the schema output as JSON data, with a ULID id and the flow context in headers', async () => {
    const { store, outbox } = await setup();
    const sent = await runWithContext(
      {
        correlationId: 'corr-1',
        causationId: 'cmd-7',
        actor: { id: 'u1', type: 'user' },
        tenant: 'acme',
      },
      () =>
        outbox.enqueue(
          'order.paid',
          { orderId: 'ORD-1', at: '2026-01-02T03:04:05Z' },
          { key: 'ORD-1' },
        ),
    );
    expect(isId(sent.id)).toBe(true);
    expect(sent.payload).toEqual({ orderId: 'ORD-1', at: '2026-01-02T03:04:05.000Z' });
    expect(sent.headers).toMatchObject({
      'x-correlation-id': 'corr-1',
      'x-causation-id': 'cmd-7',
      'x-actor-id': 'u1',
      'x-tenant-id': 'acme',
    });
    const stored = await store.get(sent.id);
    expect(stored).toMatchObject({
      topic: 'order.paid',
      key: 'ORD-1',
      status: 'pending',
      attempts: 0,
    });
    expect(stored?.payload).toEqual(sent.payload);
    expect(stored?.headers).toEqual(sent.headers);
  });

  it('gives a message outside any flow context its own id as correlation id; caller headers win', async () => {
    const { outbox } = await setup();
    const sent = await outbox.enqueue(
      'order.created',
      { orderId: 'A', total: 1 },
      { headers: { 'x-source': 'import' } },
    );
    expect(sent.headers['x-correlation-id']).toBe(sent.id);
    expect(sent.headers['x-source']).toBe('import');
    expect(sent.key).toBeNull();
  });

  it('refuses a payload that fails its schema (VALIDATION_FAILED) and writes nothing', async () => {
    const { store, outbox } = await setup();
    const error = await rejection(
      outbox.enqueue('order.created', { orderId: 'X', total: -1 }, { id: 'm-bad' }),
    );
    expect(isFlowproofError(error, 'VALIDATION_FAILED')).toBe(true);
    expect(await store.get('m-bad')).toBeUndefined();
  });

  it('refuses a payload that is not JSON data after its schema (OUTBOX_PAYLOAD_UNENCODABLE) with the path', async () => {
    const backend = createMemoryBackend();
    const store = createMemoryOutboxStore({ backend });
    await store.migrate();
    const outbox = createOutbox({
      store,
      topics: { raw: z.object({ items: z.array(z.unknown()) }) },
    });
    const error = await rejection(outbox.enqueue('raw', { items: [1, 10n] }, { id: 'm-big' }));
    expect(isFlowproofError(error, 'OUTBOX_PAYLOAD_UNENCODABLE')).toBe(true);
    expect((error as { details: unknown }).details).toEqual({ topic: 'raw', path: '$.items[1]' });
    expect(await store.get('m-big')).toBeUndefined();
  });

  it('refuses a payload string or key with a NUL or a lone surrogate (OUTBOX_PAYLOAD_UNENCODABLE) with the path', async () => {
    const backend = createMemoryBackend();
    const store = createMemoryOutboxStore({ backend });
    await store.migrate();
    const outbox = createOutbox({ store, topics: { raw: z.record(z.string(), z.unknown()) } });
    const cases: [Record<string, unknown>, string][] = [
      [{ note: 'a\u0000b' }, '$.note'],
      [{ lines: ['ok', '\ud800'] }, '$.lines[1]'],
      [{ nested: { '\udc00': 1 } }, '$.nested'],
    ];
    for (const [payload, path] of cases) {
      const error = await rejection(outbox.enqueue('raw', payload, { id: 'm-text' }));
      expect(isFlowproofError(error, 'OUTBOX_PAYLOAD_UNENCODABLE')).toBe(true);
      expect((error as { details: unknown }).details).toEqual({ topic: 'raw', path });
    }
    expect(await store.get('m-text')).toBeUndefined();
  });

  it('refuses a key, id or header with a NUL or a lone surrogate: a TypeError naming it, on every store', async () => {
    const { outbox, store } = await setup();
    const payload = { orderId: 'A', total: 1 };
    for (const bad of ['a\u0000b', '\ud800', 'x\udc00']) {
      await expect(
        outbox.enqueue('order.created', payload, { key: bad, id: 'm-k' }),
      ).rejects.toThrow(/^options\.key must/);
      await expect(outbox.enqueue('order.created', payload, { id: bad })).rejects.toThrow(
        /^options\.id must/,
      );
      await expect(
        outbox.enqueue('order.created', payload, { headers: { h: bad }, id: 'm-k' }),
      ).rejects.toThrow(/^options\.headers\.h must/);
      await expect(
        outbox.enqueue('order.created', payload, { headers: { [bad]: 'v' }, id: 'm-k' }),
      ).rejects.toThrow(/^options\.headers key must/);
    }
    expect(await store.get('m-k')).toBeUndefined();
  });

  it('refuses an unknown topic, a bad key, id or header with a TypeError naming it', async () => {
    const { outbox } = await setup();
    const payload = { orderId: 'A', total: 1 };
    await expect(outbox.enqueue('order.shipped' as never, payload as never)).rejects.toThrow(
      /topic "order.shipped" is not one of this outbox's topics/,
    );
    await expect(outbox.enqueue('order.created', payload, { key: '' })).rejects.toThrow(
      /options\.key/,
    );
    await expect(outbox.enqueue('order.created', payload, { id: 7 as never })).rejects.toThrow(
      /options\.id/,
    );
    await expect(
      outbox.enqueue('order.created', payload, { headers: { a: 1 as never } }),
    ).rejects.toThrow(/options\.headers\.a must be a string/);
    await expect(outbox.enqueue('order.created', payload, { keys: 'x' } as never)).rejects.toThrow(
      /keys/,
    );
  });

  it('refuses as transaction a backend outside any transaction (the write would commit alone)', async () => {
    const { outbox, backend, store } = await setup();
    const payload = { orderId: 'A', total: 1 };
    await expect(
      outbox.enqueue('order.created', payload, { id: 'm-unbound', transaction: backend }),
    ).rejects.toThrow(/^options\.transaction must be/);
    await expect(
      outbox.enqueueMany([{ topic: 'order.created', payload, id: 'm-unbound' }], {
        transaction: backend,
      }),
    ).rejects.toThrow(/^options\.transaction must be/);
    expect(await store.get('m-unbound')).toBeUndefined();
    await backend.transaction((tx) =>
      outbox.enqueue('order.created', payload, { id: 'm-bound', transaction: tx }),
    );
    expect((await store.get('m-bound'))?.status).toBe('pending');
  });

  it('a duplicate id is OUTBOX_MESSAGE_EXISTS', async () => {
    const { outbox } = await setup();
    await outbox.enqueue('order.created', { orderId: 'A', total: 1 }, { id: 'same' });
    const error = await rejection(
      outbox.enqueue('order.created', { orderId: 'B', total: 2 }, { id: 'same' }),
    );
    expect(isFlowproofError(error, 'OUTBOX_MESSAGE_EXISTS')).toBe(true);
  });

  it('enqueueMany writes all or none: one bad message leaves nothing behind', async () => {
    const { store, outbox } = await setup();
    await expect(
      outbox.enqueueMany([
        { topic: 'order.created', payload: { orderId: 'A', total: 1 }, id: 'a' },
        { topic: 'order.created', payload: { orderId: 'B', total: -5 }, id: 'b' },
      ]),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await store.get('a')).toBeUndefined();
    const sent = await outbox.enqueueMany([
      { topic: 'order.created', payload: { orderId: 'A', total: 1 }, key: 'A' },
      { topic: 'order.paid', payload: { orderId: 'A', at: new Date(0) }, key: 'A' },
    ]);
    expect(sent.map((m) => m.topic)).toEqual(['order.created', 'order.paid']);
    expect((await outbox.stats()).pending).toBe(2);
  });

  it('joins the caller transaction: a rollback leaves no message, a commit keeps it', async () => {
    const { backend, store, outbox } = await setup();
    await expect(
      backend.transaction(async (tx) => {
        await outbox.enqueue(
          'order.created',
          { orderId: 'R', total: 1 },
          { id: 'rolled', transaction: tx },
        );
        throw new Error('business write failed');
      }),
    ).rejects.toThrow('business write failed');
    expect(await store.get('rolled')).toBeUndefined();
    await backend.transaction(async (tx) => {
      await outbox.enqueue(
        'order.created',
        { orderId: 'C', total: 1 },
        { id: 'committed', transaction: tx },
      );
    });
    expect((await store.get('committed'))?.status).toBe('pending');
  });
});

describe('createOutbox: options and the operator view', () => {
  it('refuses bad options with a TypeError naming them', async () => {
    const { store } = await setup();
    expect(() => createOutbox({ store, topics: {} })).toThrow(
      /options\.topics must name at least one/,
    );
    expect(() => createOutbox({ store, topics: { 'a b': z.object({}) } })).toThrow(
      /not a topic name/,
    );
    expect(() => createOutbox({ store, topics: { a: {} as never } })).toThrow(
      /options\.topics\['a'\]/,
    );
    expect(() => createOutbox({ store: {} as never, topics })).toThrow(
      /options\.store is not an outbox store/,
    );
    expect(() => createOutbox({ store, topics, notifier: {} as never })).toThrow(
      /options\.notifier\.notify/,
    );
    expect(() => createOutbox({ store, topics, topic: 1 } as never)).toThrow(/topic/);
    expect(() =>
      createOutbox({ store, topics, flows: { orders: { publish: ['order.created'] } as never } }),
    ).toThrow(/options\.flows\['orders'\]/);
  });

  it('draws the choreography: who publishes each topic and who reacts to it', async () => {
    const { store } = await setup();
    const outbox = createOutbox({
      store,
      topics,
      flows: {
        orders: { publishes: ['order.created'] },
        payments: { consumes: ['order.created'], publishes: ['payment.processed'] },
        inventory: { consumes: ['payment.processed'] },
      },
    });
    const chart = outbox.toMermaid();
    expect(chart.startsWith('flowchart LR\n')).toBe(true);
    const id = (label: string) =>
      new RegExp(`\\s(\\w+)[\\[(]+"${label.replace('.', '\\.')}"`).exec(chart)?.[1];
    for (const label of [
      'order.created',
      'order.paid',
      'payment.processed',
      'orders',
      'payments',
      'inventory',
    ]) {
      expect(id(label), label).toBeDefined();
    }
    expect(chart).toContain(`${id('orders')} -->|publishes| ${id('order.created')}`);
    expect(chart).toContain(`${id('order.created')} -->|consumed by| ${id('payments')}`);
    expect(chart).toContain(`${id('payments')} -->|publishes| ${id('payment.processed')}`);
    expect(chart).toContain(`${id('payment.processed')} -->|consumed by| ${id('inventory')}`);
  });

  it('reports the backlog: pending count, oldest pending age and per-topic counts', async () => {
    const backend = createMemoryBackend({ clock: { now: () => new Date(now) } });
    let now = 1_000_000;
    const store = createMemoryOutboxStore({ backend });
    await store.migrate();
    const outbox = createOutbox({ store, topics });
    expect(await outbox.stats()).toEqual({
      pending: 0,
      deadLettered: 0,
      oldestPendingAgeMs: 0,
      topics: {},
    });
    await outbox.enqueue('order.created', { orderId: 'A', total: 1 });
    now += 2_500;
    await outbox.enqueue('order.paid', { orderId: 'A', at: new Date(0) });
    const stats = await outbox.stats();
    expect(stats).toMatchObject({ pending: 2, deadLettered: 0, oldestPendingAgeMs: 2_500 });
    expect(stats.topics['order.created']).toEqual({ pending: 1, published: 0, deadLettered: 0 });
  });

  it('redrive(id) of a missing or live message says which', async () => {
    const { outbox } = await setup();
    const missing = await rejection(outbox.redrive('nope'));
    expect(isFlowproofError(missing, 'OUTBOX_MESSAGE_NOT_FOUND')).toBe(true);
    const sent = await outbox.enqueue('order.created', { orderId: 'A', total: 1 });
    const live = await rejection(outbox.redrive(sent.id));
    expect(isFlowproofError(live, 'OUTBOX_NOT_DEAD_LETTERED')).toBe(true);
    expect((live as { details: unknown }).details).toEqual({
      messageId: sent.id,
      status: 'pending',
    });
  });

  it('logs enqueues without payload values', async () => {
    const logger = recordingLogger();
    const { store } = await setup();
    const outbox = createOutbox({ store, topics, logger });
    await outbox.enqueue('order.created', { orderId: 'SECRET-ORDER', total: 1 }, { key: 'k' });
    const line = logger.lines.find((l) => l.fields.event === 'outbox.enqueued');
    expect(line).toBeDefined();
    expect(JSON.stringify(logger.lines)).not.toContain('SECRET-ORDER');
  });

  it('calls the notifier after an enqueue that committed by itself, not inside a transaction', async () => {
    const { backend, store } = await setup();
    let notified = 0;
    const outbox = createOutbox({
      store,
      topics,
      notifier: {
        notify: async () => {
          notified += 1;
        },
      },
    });
    await backend.transaction(async (tx) => {
      await outbox.enqueue('order.created', { orderId: 'A', total: 1 }, { transaction: tx });
      expect(notified).toBe(0);
    });
    await outbox.notify();
    expect(notified).toBe(1);
    await outbox.enqueue('order.created', { orderId: 'B', total: 1 });
    expect(notified).toBe(2);
    const failing = createOutbox({
      store,
      topics,
      notifier: { notify: () => Promise.reject(new Error('no listener')) },
    });
    await expect(
      failing.enqueue('order.created', { orderId: 'C', total: 1 }),
    ).resolves.toBeDefined();
  });
});

describe('createOutbox with OpenTelemetry', () => {
  const tracing = useTestTracing();

  it('carries the active trace as traceparent when OpenTelemetry is installed, in an enqueue span', async () => {
    const { outbox } = await setup();
    const { trace } = await import('@opentelemetry/api');
    const sent = await trace.getTracer('test').startActiveSpan('request', async (span) => {
      try {
        return await outbox.enqueue('order.created', { orderId: 'T', total: 3 }, { key: 'T' });
      } finally {
        span.end();
      }
    });
    const request = tracing.exporter.getFinishedSpans().find((s) => s.name === 'request');
    expect(sent.headers.traceparent).toContain(request?.spanContext().traceId);
    const enqueue = tracing.exporter
      .getFinishedSpans()
      .find((s) => s.name === 'flowproof.outbox.enqueue');
    expect(enqueue?.attributes['flowproof.outbox.topic']).toBe('order.created');
  });
});
