import { SpanStatusCode } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import {
  createOpenLineageEmitter,
  derive,
  type OpenLineageEmitterOptions,
  type OpenLineageRunEvent,
  type OpenLineageTransport,
  pipelineRunEvents,
  sourced,
} from '../../../src/lineage/index.js';
import { NonRetryableError } from '../../../src/saga/index.js';
import { failure } from '../../support/failures.js';
import { recordingLogger } from '../../support/logger.js';
import { useTestTracing } from '../../support/opentelemetry.js';
import { numberedRun as run } from '../../support/pipeline-runs.js';

const { exporter } = useTestTracing();
const namespace = 'checkout';
const fast = { retries: 2, minTimeout: 1, maxTimeout: 1, randomize: false } as const;

/** A transport that records batches and waits for `release()` before each send resolves. */
function gatedTransport(fail?: (attempt: number) => unknown) {
  const batches: (readonly OpenLineageRunEvent[])[] = [];
  let attempts = 0;
  let open: () => void = () => {};
  let gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const transport: OpenLineageTransport & { closed: number } = {
    name: 'test',
    closed: 0,
    async send(events) {
      await gate;
      const problem = fail?.(attempts++);
      if (problem !== undefined) throw problem;
      batches.push(events);
    },
    async close() {
      transport.closed++;
    },
  };
  return {
    transport,
    batches,
    release() {
      open();
      gate = Promise.resolve();
    },
  };
}

const emitterWith = (
  options: Partial<OpenLineageEmitterOptions> & Pick<OpenLineageEmitterOptions, 'transport'>,
) => createOpenLineageEmitter({ namespace, retry: fast, ...options });

describe('createOpenLineageEmitter', () => {
  it('returns at once while the transport is busy, then sends in order, batchSize at a time', async () => {
    const gated = gatedTransport();
    const emitter = emitterWith({ transport: gated.transport, batchSize: 3 });
    for (let n = 0; n < 4; n++) expect(emitter.emitPipelineRun(run(n))).toBeUndefined();
    expect(gated.batches).toEqual([]);
    gated.release();
    await emitter.flush();
    // The first send began with the first run's two events; the rest waited for it.
    expect(gated.batches.map((batch) => batch.length)).toEqual([2, 3, 3]);
    expect(gated.batches.flat().map((e) => `${e.run.runId.slice(-1)}${e.eventType[0]}`)).toEqual([
      '0S',
      '0C',
      '1S',
      '1C',
      '2S',
      '2C',
      '3S',
      '3C',
    ]);
  });

  it('drops events that do not fit the queue, logs it once, and flush reports them', async () => {
    const gated = gatedTransport();
    const logger = recordingLogger();
    const emitter = emitterWith({ transport: gated.transport, maxQueue: 4, logger });
    for (let n = 0; n < 4; n++) emitter.emitPipelineRun(run(n));
    gated.release();
    const error = await failure(emitter.flush());
    expect(error.code).toBe('LINEAGE_EXPORT_FAILED');
    expect(error.message).toMatch(/^4 OpenLineage event/);
    expect(error.details).toEqual({ transport: 'test' });
    expect(gated.batches.flat()).toHaveLength(4);
    expect(
      logger.lines.filter((line) => line.fields.code === 'LINEAGE_EXPORT_FAILED'),
    ).toHaveLength(1);
    // Room again: the next events are taken.
    emitter.emitPipelineRun(run(9));
    await emitter.flush();
    expect(gated.batches.flat()).toHaveLength(6);
  });

  it('retries a failing batch with backoff and delivers it', async () => {
    const gated = gatedTransport((attempt) => (attempt < 2 ? new Error('broker down') : undefined));
    gated.release();
    const emitter = emitterWith({ transport: gated.transport });
    emitter.emitPipelineRun(run(1));
    await emitter.flush();
    expect(gated.batches.flat()).toHaveLength(2);
  });

  it('gives up after the retries: logged with the code, flush rejects with the cause, later events still go', async () => {
    const cause = new Error('broker down');
    const gated = gatedTransport((attempt) => (attempt < 3 ? cause : undefined));
    gated.release();
    const logger = recordingLogger();
    const emitter = emitterWith({ transport: gated.transport, logger });
    emitter.emitPipelineRun(run(1));
    const error = await failure(emitter.flush());
    expect(error.details).toEqual({ transport: 'test' });
    expect((error.cause as { cause?: unknown }).cause).toBe(cause);
    expect(logger.lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        fields: expect.objectContaining({
          code: 'LINEAGE_EXPORT_FAILED',
          transport: 'test',
          events: 2,
        }),
      }),
    );
    emitter.emitPipelineRun(run(2));
    await emitter.flush();
    expect(gated.batches.flat().map((e) => e.run.runId.slice(-1))).toEqual(['2', '2']);
  });

  it("does not retry a transport's NonRetryableError", async () => {
    let attempts = 0;
    const counting = emitterWith({
      retry: { retries: 5, minTimeout: 1 },
      transport: {
        name: 'count',
        async send() {
          attempts++;
          throw new NonRetryableError('refused');
        },
      },
    });
    counting.emitPipelineRun(run(1));
    await failure(counting.flush());
    expect(attempts).toBe(1);
  });

  it('opens one span per send attempt, failed attempts marked', async () => {
    const gated = gatedTransport((attempt) =>
      attempt === 0 ? new Error('broker down') : undefined,
    );
    gated.release();
    const emitter = emitterWith({ transport: gated.transport });
    emitter.emitPipelineRun(run(1));
    await emitter.flush();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((span) => [span.name, span.status.code, span.attributes])).toEqual([
      [
        'lineage.openlineage.send',
        SpanStatusCode.ERROR,
        expect.objectContaining({
          'flowproof.lineage.transport': 'test',
          'flowproof.lineage.events': 2,
        }),
      ],
      [
        'lineage.openlineage.send',
        SpanStatusCode.UNSET,
        expect.objectContaining({ 'flowproof.lineage.events': 2 }),
      ],
    ]);
  });

  it('close flushes, closes the transport once, and drops (and logs) later events', async () => {
    const gated = gatedTransport();
    const logger = recordingLogger();
    const emitter = emitterWith({ transport: gated.transport, logger });
    emitter.emitPipelineRun(run(1));
    const closing = emitter.close();
    gated.release();
    await closing;
    await emitter.close();
    await emitter[Symbol.asyncDispose]();
    expect(gated.transport.closed).toBe(1);
    expect(gated.batches.flat()).toHaveLength(2);
    emitter.emitPipelineRun(run(2));
    await emitter.flush();
    expect(gated.batches.flat()).toHaveLength(2);
    expect(logger.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        fields: expect.objectContaining({ code: 'LINEAGE_CLOSED' }),
      }),
    );
  });

  it('close against a backend that is down waits out the retries of one batch, not of every batch', async () => {
    let tries = 0;
    const gated = gatedTransport(() => {
      tries++;
      return new Error('backend down');
    });
    const logger = recordingLogger();
    const emitter = emitterWith({ transport: gated.transport, logger, batchSize: 2 });
    for (let n = 0; n < 10; n++) emitter.emitPipelineRun(run(n)); // 20 events, 10 batches
    const closing = emitter.close().catch((error: unknown) => error);
    gated.release();
    const error = await closing;
    expect(error).toMatchObject({ code: 'LINEAGE_EXPORT_FAILED' });
    expect((error as Error).message).toMatch(/^20 OpenLineage event/);
    // The batch in flight is tried 1 + retries times; the rest are given up with it.
    expect(gated.transport.closed).toBe(1);
    expect(
      logger.lines
        .filter((line) => line.fields.event === 'lineage.openlineage.failed')
        .map((line) => line.fields.events),
    ).toEqual([20]);
    expect(tries).toBe(1 + fast.retries);
  });

  it('close reports a transport that fails to close as LINEAGE_EXPORT_FAILED', async () => {
    const cause = new Error('socket hang up');
    const emitter = emitterWith({
      transport: {
        name: 'broken',
        send: async () => {},
        close: async () => {
          throw cause;
        },
      },
    });
    const error = await failure(emitter.close());
    expect([error.code, error.details, error.cause]).toEqual([
      'LINEAGE_EXPORT_FAILED',
      { transport: 'broken' },
      cause,
    ]);
  });

  it('emits field, derivation-failure, saga and prebuilt events with a parent', async () => {
    const gated = gatedTransport();
    gated.release();
    const emitter = emitterWith({ transport: gated.transport });
    const parent = {
      runId: '3f0f0a58-24b7-4a0b-8a8e-6d0a4a3b2c1d',
      namespace: 'jobs',
      name: 'nightly',
    };
    emitter.emitDerivationFailure(
      { name: 'order-total', version: 'v1', error: new Error('x'), startedAt: 0, endedAt: 1 },
      { parent },
    );
    emitter.emitSaga(
      {
        id: 'o1',
        name: 'checkout',
        version: 1,
        status: 'completed',
        deadLettered: false,
        input: {},
        steps: [],
        redrives: 0,
        createdAt: '2026-12-02T10:00:00.000Z',
        updatedAt: '2026-12-02T10:00:01.000Z',
        finishedAt: '2026-12-02T10:00:01.000Z',
      },
      { parent },
    );
    const total = derive(
      'order-total',
      'v1',
      { subtotal: sourced(10, { source: 'cart' }) },
      (v) => v.subtotal,
    );
    emitter.emitField(
      {
        id: '01JDQ3V8Z6X0M9K2T4B7N5C1PB',
        entity: 'order:1',
        field: 'total',
        value: total.value,
        recordedAt: '2026-12-02T10:00:00.000Z',
        correlationId: undefined,
        causationId: undefined,
        provenance: total.provenance,
      },
      { parent },
    );
    emitter.emitEvents(pipelineRunEvents(run(1), { namespace: 'other' }));
    await emitter.flush();
    const sent = gated.batches.flat();
    expect(sent.map((e) => `${e.job.name}:${e.eventType}`)).toEqual([
      'order-total:START',
      'order-total:FAIL',
      'checkout:START',
      'checkout:COMPLETE',
      'order-total:START',
      'order-total:COMPLETE',
      'signup:START',
      'signup:COMPLETE',
    ]);
    expect(sent.slice(0, 6).map((e) => e.run.facets?.parent?.job.name)).toEqual(
      Array(6).fill('nightly'),
    );
    expect(sent[6]?.job.namespace).toBe('other');
    expect(() => emitter.emitPipelineRun(run(1), { parnt: parent } as never)).toThrow(
      /options\.parnt/,
    );
  });

  it('refuses bad options with a TypeError naming the option', () => {
    const transport = gatedTransport().transport;
    expect(() => createOpenLineageEmitter({ transport } as never)).toThrow(/options\.namespace/);
    expect(() => createOpenLineageEmitter({ namespace, transport: {} as never })).toThrow(
      /options\.transport\.name/,
    );
    expect(() =>
      createOpenLineageEmitter({ namespace, transport: { name: 't' } as never }),
    ).toThrow(/options\.transport\.send/);
    expect(() => emitterWith({ transport, maxQueue: 0 })).toThrow(/options\.maxQueue/);
    expect(() => emitterWith({ transport, batchSize: 1.5 })).toThrow(/options\.batchSize/);
    expect(() => emitterWith({ transport, retry: { retries: -1 } })).toThrow(
      /options\.retry\.retries/,
    );
    expect(() => emitterWith({ transport, logger: {} as never })).toThrow(/options\.logger/);
    expect(() => emitterWith({ transport, producer: 'x' })).toThrow(/options\.producer/);
    expect(() => emitterWith({ transport, maxQeue: 1 } as never)).toThrow(/options\.maxQeue/);
  });
});
