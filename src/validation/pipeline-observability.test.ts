import { trace } from '@opentelemetry/api';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { recordingLogger } from '../../test/support/logger.js';
import { useTestTracing } from '../../test/support/opentelemetry.js';
import { runWithContext } from '../core/context.js';
import { ERROR_CODE_ATTRIBUTE } from '../core/tracing.js';
import { pipeline, type StageEvent } from './index.js';
import { orderPipeline, validRequest } from './order-pipeline.fixture.js';

const { exporter } = useTestTracing();

/** Spans end a microtask after a synchronous stage; let them finish. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('logging', () => {
  it('logs one line per stage with the correlation id, never values', async () => {
    const logger = recordingLogger();
    await runWithContext({ correlationId: 'corr-1' }, () =>
      orderPipeline({ logger }).run(validRequest),
    );
    expect(
      logger.lines.map((line) => [line.level, line.fields.stage, line.fields.outcome]),
    ).toEqual([
      ['debug', 'parse request', 'passed'],
      ['debug', 'normalize', 'passed'],
      ['debug', 'add product details', 'passed'],
      ['debug', 'compute totals', 'passed'],
    ]);
    expect(logger.lines[0]?.fields).toMatchObject({
      correlationId: 'corr-1',
      pipeline: 'create-order',
      boundary: 'gateway',
      kind: 'validate',
      durationMs: expect.any(Number),
    });
    expect(JSON.stringify(logger.lines)).not.toContain('Ada Lovelace');
  });

  it('logs rejections at info with issue paths, failures at error, fallbacks at warn', async () => {
    const logger = recordingLogger();
    const rejecting = pipeline('p', { logger }).validate('parse', z.object({ email: z.email() }));
    expect(await rejecting.build().run({ email: 'secret-but-invalid' })).toMatchObject({
      status: 'rejected',
    });
    expect(logger.lines.at(-1)).toMatchObject({
      level: 'info',
      message: 'pipeline stage rejected the record',
      fields: { code: 'PIPELINE_REJECTED', issues: [{ path: ['email'], code: 'invalid_format' }] },
    });
    expect(JSON.stringify(logger.lines)).not.toContain('secret-but-invalid');

    const failing = pipeline('p', { logger })
      .transform('t', () => {
        throw new Error('bug');
      })
      .build();
    expect(failing.runSync(1)).toMatchObject({ status: 'rejected' });
    expect(logger.lines.at(-1)).toMatchObject({
      level: 'error',
      fields: { code: 'PIPELINE_STAGE_FAILED' },
    });

    const falling = pipeline('p', { logger })
      .validate('n', z.number(), { onError: { fallback: 0 } })
      .build();
    falling.runSync('x');
    expect(logger.lines.at(-1)).toMatchObject({
      level: 'warn',
      fields: { outcome: 'fallback', code: 'PIPELINE_REJECTED' },
    });
  });
});

describe('onStage hook', () => {
  it('reports what each stage did, for lineage', async () => {
    const events: StageEvent[] = [];
    await runWithContext({ correlationId: 'corr-2' }, () =>
      orderPipeline({ onStage: (event) => events.push(event) }).run(validRequest),
    );
    expect(events).toHaveLength(4);
    expect(events[0]).toMatchObject({
      pipeline: 'create-order',
      stage: 'parse request',
      index: 0,
      boundary: 'gateway',
      kind: 'validate',
      outcome: 'passed',
      fieldsIn: ['userId', 'items', 'shipping', 'promoCode', 'requestedAt'],
      fieldsOut: ['userId', 'items', 'shipping', 'promoCode', 'requestedAt'],
      correlationId: 'corr-2',
      error: undefined,
    });
    expect(events[3]?.fieldsOut).toContain('totals');
    expect(events.every((event) => event.durationMs >= 0)).toBe(true);
  });

  it('reports failures with their error, and stops at the failing stage', async () => {
    const events: StageEvent[] = [];
    const built = orderPipeline({ onStage: (event) => events.push(event) });
    expect(await built.run({ ...validRequest, userId: '' })).toMatchObject({ status: 'rejected' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: 'rejected', fieldsOut: [] });
    expect(events[0]?.error?.code).toBe('PIPELINE_REJECTED');
  });

  it('a throwing hook does not change the outcome; it is logged', async () => {
    const logger = recordingLogger();
    const built = pipeline<number>('p', {
      logger,
      onStage: () => {
        throw new Error('lineage store down');
      },
    })
      .transform('t', (n) => n + 1)
      .build();
    expect(built.runSync(1)).toMatchObject({ value: 2 });
    expect(logger.lines.find((line) => line.level === 'error')).toMatchObject({
      message: 'pipeline onStage hook threw',
      fields: { error: 'lineage store down' },
    });
    const warning = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const silent = pipeline<number>('p', {
      onStage: () => {
        throw new Error('oops');
      },
    })
      .transform('t', (n) => n + 1)
      .build();
    expect(silent.runSync(1)).toMatchObject({ value: 2 });
    expect(warning).toHaveBeenCalledWith(expect.stringContaining('oops'));
    // Once per pipeline, not once per record: a batch would otherwise warn for every record.
    for (let n = 0; n < 5; n += 1) expect(silent.runSync(n)).toMatchObject({ value: n + 1 });
    expect(warning).toHaveBeenCalledTimes(1);
    warning.mockRestore();
  });
});

describe('tracing', () => {
  it('opens one span per stage with stage, boundary and outcome', async () => {
    await runWithContext({ correlationId: 'corr-3' }, () => orderPipeline().run(validRequest));
    await settle();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((span) => span.name)).toEqual([
      'create-order/parse request',
      'create-order/normalize',
      'create-order/add product details',
      'create-order/compute totals',
    ]);
    expect(spans[0]?.attributes).toMatchObject({
      'flowproof.pipeline': 'create-order',
      'flowproof.pipeline.stage': 'parse request',
      'flowproof.pipeline.stage_kind': 'validate',
      'flowproof.pipeline.boundary': 'gateway',
      'flowproof.pipeline.outcome': 'passed',
      'flowproof.correlation_id': 'corr-3',
    });
  });

  it('marks a rejecting stage failed with the error code; a fallback is an outcome', async () => {
    const built = pipeline('p')
      .validate('parse', z.number(), { onError: { fallback: 0 } })
      .validate('positive', z.number().positive())
      .build();
    expect(await built.run('x')).toMatchObject({ error: { code: 'PIPELINE_REJECTED' } });
    await settle();
    const [parse, positive] = exporter.getFinishedSpans();
    expect(parse?.attributes['flowproof.pipeline.outcome']).toBe('fallback');
    expect(parse?.status.code).not.toBe(2);
    expect(positive?.attributes['flowproof.pipeline.outcome']).toBe('rejected');
    expect(positive?.status.code).toBe(2);
    expect(positive?.attributes[ERROR_CODE_ATTRIBUTE]).toBe('PIPELINE_REJECTED');
  });

  it('keeps synchronous pipelines synchronous while tracing', async () => {
    const built = pipeline<number>('p')
      .transform('a', (n) => n + 1)
      .transform('b', (n) => n * 2)
      .build();
    expect(built.runSync(1)).toMatchObject({ value: 4 });
    expect(() =>
      pipeline('q')
        .enrich('late', async (v) => v)
        .build()
        .runSync(1),
    ).toThrow(TypeError);
    await settle();
    expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual(['p/a', 'p/b', 'q/late']);
  });

  it('runs stage code inside its span, so I/O spans nest under it, and ends it when it settles', async () => {
    let activeSpanId: string | undefined;
    const built = pipeline('p')
      .enrich('fetch', async (v) => {
        activeSpanId = trace.getActiveSpan()?.spanContext().spanId;
        await new Promise((resolve) => setTimeout(resolve, 5));
        return v;
      })
      .build();
    await built.run({ a: 1 });
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('p/fetch');
    expect(span?.spanContext().spanId).toBe(activeSpanId);
    expect(span?.attributes['flowproof.pipeline.outcome']).toBe('passed');
  });
});
