import { describe, expect, it } from 'vitest';
import { useTestTracing } from '../../test/support/opentelemetry.js';
import { createMemoryBackend, createMemoryIdempotencyStore } from '../adapters/memory/index.js';
import { runWithContext } from '../core/context.js';
import { ERROR_CODE_ATTRIBUTE } from '../core/tracing.js';
import { createIdempotency } from './index.js';

const { exporter } = useTestTracing();

async function runner() {
  const store = createMemoryIdempotencyStore({ backend: createMemoryBackend() });
  await store.migrate();
  return createIdempotency({ store, operation: 'orders.create', heartbeat: false });
}

/** The finished run spans, oldest first, as name / outcome / events / status. */
function runSpans() {
  return exporter
    .getFinishedSpans()
    .filter((span) => span.name === 'flowproof.idempotency.run')
    .map((span) => ({
      operation: span.attributes['flowproof.idempotency.operation'],
      outcome: span.attributes['flowproof.idempotency.outcome'],
      events: span.events
        .map((event) => event.name)
        .filter((name) => name.startsWith('idempotency.')),
      exception: span.events.some((event) => event.name === 'exception'),
      status: span.status.code,
      errorCode: span.attributes[ERROR_CODE_ATTRIBUTE],
      correlationId: span.attributes['flowproof.correlation_id'],
    }));
}

describe('idempotency spans (OpenTelemetry SDK)', () => {
  it('records one span per run: claim then replay, with the correlation id', async () => {
    const idempotency = await runner();
    await runWithContext({ correlationId: 'corr-7' }, async () => {
      await idempotency.run('k1', { amount: 1 }, async () => 'done');
      await idempotency.run('k1', { amount: 1 }, async () => 'not run');
    });
    expect(runSpans()).toEqual([
      {
        operation: 'orders.create',
        outcome: 'claim',
        events: ['idempotency.claim', 'idempotency.complete'],
        status: 0,
        errorCode: undefined,
        exception: false,
        correlationId: 'corr-7',
      },
      {
        operation: 'orders.create',
        outcome: 'replay',
        events: ['idempotency.replay'],
        status: 0,
        errorCode: undefined,
        exception: false,
        correlationId: 'corr-7',
      },
    ]);
  });

  it('marks conflicts and mismatches as failed spans with the error code', async () => {
    const idempotency = await runner();
    let finish: () => void = () => {};
    const first = idempotency.run(
      'k2',
      { amount: 1 },
      () => new Promise<string>((resolve) => (finish = () => resolve('first'))),
    );
    await expect(idempotency.run('k2', { amount: 1 }, async () => 'x')).rejects.toMatchObject({
      code: 'IDEMPOTENCY_IN_PROGRESS',
    });
    finish();
    await first;
    await expect(idempotency.run('k2', { amount: 2 }, async () => 'x')).rejects.toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    const [conflict, claimed, mismatch] = runSpans();
    expect(claimed?.outcome).toBe('claim');
    expect(conflict).toMatchObject({
      outcome: 'conflict',
      events: ['idempotency.conflict'],
      status: 2,
      errorCode: 'IDEMPOTENCY_IN_PROGRESS',
      exception: true,
    });
    expect(mismatch).toMatchObject({
      outcome: 'mismatch',
      events: ['idempotency.mismatch'],
      status: 2,
      errorCode: 'IDEMPOTENCY_KEY_REUSED',
    });
  });

  it('records a failing function on the span and the release of the key', async () => {
    const idempotency = await runner();
    await expect(
      idempotency.run('k3', {}, async () => {
        throw new Error('payment gateway timeout');
      }),
    ).rejects.toThrow('payment gateway timeout');
    const [span] = runSpans();
    expect(span).toMatchObject({
      outcome: 'claim',
      events: ['idempotency.claim', 'idempotency.release'],
      status: 2,
      exception: true,
    });
  });
});
