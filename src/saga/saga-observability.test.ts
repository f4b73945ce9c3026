import { SpanStatusCode } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { recordingLogger } from '../../test/support/logger.js';
import { useTestTracing } from '../../test/support/opentelemetry.js';
import {
  describeEachSagaStore,
  SAGA_STORE_KINDS,
  sagaTestBed,
} from '../../test/support/saga-engines.js';
import { type FlowContext, getContext, runWithContext } from '../core/context.js';
import { defineSaga, NonRetryableError } from './index.js';

const { exporter } = useTestTracing();
const bed = sagaTestBed();
afterEach(() => bed.cleanup());

const order = defineSaga({ name: 'order' })
  .step('reserve', { run: () => 'r', compensate: () => {} })
  .step('charge', {
    run: () => {
      throw new NonRetryableError('declined');
    },
    compensate: () => {},
  });

describe('saga observability', () => {
  it('opens one span per step attempt and per compensation, named and attributed', async () => {
    const { store } = await bed.store(SAGA_STORE_KINDS[0]!);
    await bed.engine({ store, sagas: [order] }).run(order, {}, { id: 'o1' });
    await new Promise((resolve) => setTimeout(resolve, 0));
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual([
      'saga.step reserve',
      'saga.step charge',
      'saga.compensate charge',
      'saga.compensate reserve',
    ]);
    for (const span of spans) {
      expect(span.attributes).toMatchObject({
        'flowproof.saga.name': 'order',
        'flowproof.saga.id': 'o1',
        'flowproof.saga.step': span.name.split(' ')[1],
      });
    }
    expect(spans[1]!.status.code).toBe(SpanStatusCode.ERROR);
    expect(spans[0]!.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it('logs the lifecycle with the saga id and the correlation id of the start', async () => {
    const logger = recordingLogger();
    const { store } = await bed.store(SAGA_STORE_KINDS[0]!);
    const sagas = bed.engine({ store, sagas: [order], logger });
    await runWithContext({ correlationId: 'corr-1' }, () => sagas.run(order, {}, { id: 'o2' }));
    expect(logger.lines.map((l) => [l.level, l.fields.event, l.fields.step])).toEqual([
      ['info', 'saga.started', undefined],
      ['warn', 'saga.step_failed', 'charge'],
      ['warn', 'saga.compensating', undefined],
      ['info', 'saga.compensated', undefined],
    ]);
    for (const line of logger.lines) {
      expect(line.fields).toMatchObject({ sagaId: 'o2', saga: 'order', correlationId: 'corr-1' });
    }
  });
});

describeEachSagaStore('the flow context inside steps', (kind) => {
  it('is the one of start, in every step and compensation, also after another engine resumes the saga', async () => {
    const { store } = await bed.store(kind);
    const seen: [string, FlowContext | undefined][] = [];
    let firstRun = true;
    const saga = defineSaga({ name: 'ctx' })
      .step('a', {
        run: () => {
          seen.push(['a', getContext()]);
        },
        compensate: () => {
          seen.push(['undo a', getContext()]);
        },
      })
      .step('b', {
        run: ({ signal }) => {
          seen.push(['b', getContext()]);
          if (firstRun) {
            firstRun = false;
            // The first engine stops here and never comes back.
            return new Promise((_, reject) =>
              signal.addEventListener('abort', () => reject(signal.reason)),
            );
          }
          throw new NonRetryableError('declined');
        },
      });
    const first = bed.engine({ store, sagas: [saga], leaseMs: 100 });
    await runWithContext(
      {
        correlationId: 'corr-42',
        tenant: 'acme',
        actor: { id: 'u1' },
        baggage: { region: 'eu-west' },
        remoteTrace: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
      },
      () => first.start(saga, {}, { id: 'c1' }),
    );
    while (seen.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    await first.close({ timeoutMs: 0 });
    const logger = recordingLogger();
    const second = bed.engine({ store, sagas: [saga], pollIntervalMs: 20, logger });
    second.startRunner();
    const state = await second.wait('c1', { timeoutMs: 10_000 });
    expect(state.status).toBe('compensated');
    expect(seen.map(([where]) => where)).toEqual(['a', 'b', 'b', 'undo a']);
    // The resuming engine's events about the saga carry the saga's correlation id too.
    const events = logger.lines.filter((line) => line.fields.sagaId === 'c1');
    expect(events.map((line) => line.fields.event)).toContain('saga.compensated');
    for (const line of events) expect(line.fields.correlationId).toBe('corr-42');
    for (const [where, context] of seen) {
      expect(context, where).toMatchObject({
        correlationId: 'corr-42',
        tenant: 'acme',
        actor: { id: 'u1' },
        baggage: { region: 'eu-west' },
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      });
    }
  });
});
