import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { useTestTracing } from '../../test/support/opentelemetry.js';
import { getContext, restoreContext, runWithContext, serializeContext } from './context.js';
import { FlowproofError } from './errors.js';
import { configureOpenTelemetry } from './opentelemetry.js';
import { ERROR_CODE_ATTRIBUTE, isTracingEnabled, withSpan } from './tracing.js';

const { exporter, registerProvider } = useTestTracing();

describe('withSpan with OpenTelemetry installed', () => {
  it('records a span with the correlation id and returns the result', async () => {
    expect(isTracingEnabled()).toBe(true);
    const result = await runWithContext({ correlationId: 'corr-otel' }, () =>
      withSpan('orders.create', { 'order.items': 2 }, async (span) => {
        span.setAttribute('order.id', 'o-1');
        return 'done';
      }),
    );
    expect(result).toBe('done');
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('orders.create');
    expect(span?.attributes).toMatchObject({
      'order.items': 2,
      'order.id': 'o-1',
      'flowproof.correlation_id': 'corr-otel',
    });
  });

  it('marks the span failed, records the error code and rethrows the same error', async () => {
    const failure = new FlowproofError('BACKEND_TIMEOUT', 'slow');
    await expect(
      withSpan('store.claim', {}, async () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    const [span] = exporter.getFinishedSpans();
    expect(span?.status.code).toBe(2); // SpanStatusCode.ERROR
    expect(span?.attributes[ERROR_CODE_ATTRIBUTE]).toBe('BACKEND_TIMEOUT');
    expect(span?.events.map((e) => e.name)).toContain('exception');
  });
});

describe('trace propagation through serialize/restore', () => {
  it('carries traceparent to the receiving side, which continues the same trace', async () => {
    let headers: Record<string, string> = {};
    let senderTraceId = '';
    await withSpan('send', {}, async () => {
      senderTraceId = trace.getActiveSpan()?.spanContext().traceId ?? '';
      headers = runWithContext({ correlationId: 'c-trace' }, () => serializeContext());
    });
    expect(headers.traceparent).toMatch(new RegExp(`^00-${senderTraceId}-[0-9a-f]{16}-01$`));

    const restored = restoreContext(headers);
    const receiverTraceId = await runWithContext(restored, () =>
      withSpan('receive', {}, async () => {
        expect(getContext()?.correlationId).toBe('c-trace');
        return trace.getActiveSpan()?.spanContext().traceId;
      }),
    );
    expect(receiverTraceId).toBe(senderTraceId);
  });
});

describe("the context's own trace beside OpenTelemetry", () => {
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('is written when no span is active, and gives way to an active span whole', async () => {
    const context = { correlationId: 'c-own', traceparent, tracestate: 'congo=t61rcWkgMzE' };
    // The SDK is installed, but no span is active: the context's trace is what goes out.
    expect(serializeContext(context)).toMatchObject({
      traceparent,
      tracestate: 'congo=t61rcWkgMzE',
    });
    const headers = await withSpan('send', {}, async () => serializeContext(context));
    const spanTraceId = exporter.getFinishedSpans()[0]?.spanContext().traceId;
    expect(headers.traceparent).toMatch(new RegExp(`^00-${spanTraceId}-[0-9a-f]{16}-01$`));
    // The context's tracestate belongs to another trace: it must not ride with the span's.
    expect(headers).not.toHaveProperty('tracestate');
  });

  it('activates a remote trace in OpenTelemetry and keeps it in the context too', async () => {
    const traceId = await runWithContext({ remoteTrace: { traceparent } }, () => {
      expect(getContext()?.traceparent).toBe(traceparent);
      return withSpan('receive', {}, async () => trace.getActiveSpan()?.spanContext().traceId);
    });
    expect(traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });
});

describe('withSpan with the API but no SDK', () => {
  it('records nothing and reports tracing as off until a provider is registered', async () => {
    trace.disable();
    try {
      expect(isTracingEnabled()).toBe(false);
      expect(await withSpan('x', {}, async () => 5)).toBe(5);
      expect(exporter.getFinishedSpans()).toHaveLength(0);
    } finally {
      registerProvider();
    }
    expect(isTracingEnabled()).toBe(true);
  });
});

describe('withSpan without OpenTelemetry', () => {
  it('just runs the function', async () => {
    configureOpenTelemetry(null);
    try {
      expect(isTracingEnabled()).toBe(false);
      expect(await withSpan('x', {}, async () => 7)).toBe(7);
      expect(exporter.getFinishedSpans()).toHaveLength(0);
    } finally {
      configureOpenTelemetry(undefined);
    }
  });

  it('refuses something that is not the API', () => {
    expect(() => configureOpenTelemetry({})).toThrow(TypeError);
  });
});
