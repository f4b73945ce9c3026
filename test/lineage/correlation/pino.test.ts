/**
 * Correlation ids on every pino line, with the real pino writing to a stream whose lines are
 * parsed. Without the mixin a line carries none of them (the control); with `correlationMixin`
 * it carries the context's ids, the trace from the active OpenTelemetry span when there is one,
 * else from the context's `traceparent`, and the user's own mixin fields.
 */
import { Writable } from 'node:stream';
import { trace } from '@opentelemetry/api';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { runWithContext } from '../../../src/core/context.js';
import { configureOpenTelemetry } from '../../../src/core/opentelemetry.js';
import { withSpan } from '../../../src/core/tracing.js';
import { correlationMixin } from '../../../src/lineage/index.js';
import { useTestTracing } from '../../support/opentelemetry.js';

useTestTracing();

const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const context = {
  correlationId: 'corr-log',
  causationId: 'msg-1',
  tenant: 'acme',
  actor: { id: 'user_1' },
  remoteTrace: { traceparent },
};

/** A pino logger writing into `lines`, parsed. */
function logger(options: pino.LoggerOptions = {}) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { log: pino(options, stream), lines };
}

describe('correlationMixin with pino', () => {
  it('is needed: a plain logger line has no correlation fields', () => {
    const { log, lines } = logger();
    runWithContext(context, () => log.info('plain'));
    expect(lines[0]).not.toHaveProperty('correlationId');
  });

  it('adds the ids and the trace of the context when no span is active', () => {
    configureOpenTelemetry(null);
    try {
      const { log, lines } = logger({ mixin: correlationMixin() });
      runWithContext(context, () => log.child({ module: 'orders' }).info('placed'));
      log.info('outside');
      expect(lines[0]).toMatchObject({
        msg: 'placed',
        module: 'orders',
        correlationId: 'corr-log',
        causationId: 'msg-1',
        tenant: 'acme',
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: '00f067aa0ba902b7',
      });
      // The actor may be personal data: not logged.
      expect(JSON.stringify(lines[0])).not.toContain('user_1');
      expect(Object.keys(lines[1] ?? {}).sort()).toEqual([
        'hostname',
        'level',
        'msg',
        'pid',
        'time',
      ]);
    } finally {
      configureOpenTelemetry(undefined);
    }
  });

  it('takes the trace and span from the active OpenTelemetry span', async () => {
    const { log, lines } = logger({ mixin: correlationMixin() });
    const ids = await runWithContext(context, () =>
      withSpan('work', {}, async () => {
        log.info('in span');
        return trace.getActiveSpan()?.spanContext();
      }),
    );
    // The span continues the remote trace, with a span id of its own.
    expect(ids?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(lines[0]).toMatchObject({ traceId: ids?.traceId, spanId: ids?.spanId });
    expect(ids?.spanId).not.toBe('00f067aa0ba902b7');
  });

  it("merges the user's mixin, which gets pino's arguments and wins on a clash", () => {
    const calls: unknown[] = [];
    const mixin = (merge: object, level: number) => {
      calls.push([merge, level]);
      return { service: 'orders', tenant: 'override' };
    };
    const { log, lines } = logger({ mixin: correlationMixin({ mixin }) });
    runWithContext(context, () => log.warn({ orderId: 'o-1' }, 'slow'));
    expect(lines[0]).toMatchObject({
      correlationId: 'corr-log',
      service: 'orders',
      tenant: 'override',
    });
    expect(calls).toEqual([[{ orderId: 'o-1' }, 40]]);
  });

  it('checks its options', () => {
    expect(() => correlationMixin({ mixn: () => ({}) } as never)).toThrow(/options\.mixn/);
    expect(() => correlationMixin({ mixin: 5 as never })).toThrow(/options\.mixin/);
  });
});
