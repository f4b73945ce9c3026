import { setImmediate as nextTick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BatchOutcome, type DeadLetter, pipeline } from './index.js';
import { orderPipeline, validRequest } from './order-pipeline.fixture.js';

/** A source that counts how far it has been pulled and whether it was closed. */
function countingSource(total: number) {
  const state = { pulled: 0, closed: false };
  async function* generate(): AsyncGenerator<number> {
    try {
      for (let i = 0; i < total; i++) {
        state.pulled += 1;
        yield i;
      }
    } finally {
      state.closed = true;
    }
  }
  return { state, source: generate() };
}

describe('runBatch and stream', () => {
  it('bounds concurrency and memory over a large async source', async () => {
    const total = 20_000;
    const concurrency = 8;
    let inFlight = 0;
    let maxInFlight = 0;
    let maxAhead = 0;
    let completed = 0;
    const { state, source } = countingSource(total);
    const built = pipeline<number>('bulk')
      .enrich('slow lookup', async (n) => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        // Pulled but not yet finished: what the batch holds in memory.
        maxAhead = Math.max(maxAhead, state.pulled - completed);
        if (n % 7 === 0) await nextTick();
        await Promise.resolve();
        inFlight -= 1;
        completed += 1;
        return { n };
      })
      .validate('positive-ish', z.object({ n: z.number().refine((n) => n % 1000 !== 999) }))
      .build();
    const report = await built.runBatch(source, { concurrency });
    expect(report).toMatchObject({
      total,
      valid: total - 20,
      flagged: 0,
      deadLettered: 0,
      rejected: 20,
    });
    expect(maxInFlight).toBeLessThanOrEqual(concurrency);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxAhead).toBeLessThanOrEqual(concurrency);
    expect(report.outcomes).toHaveLength(20);
    expect(report.outcomes.map((o) => o.index)).toEqual(
      Array.from({ length: 20 }, (_, i) => i * 1000 + 999),
    );
    expect(report.outcomes[0]).toMatchObject({
      status: 'rejected',
      input: 999,
      error: { code: 'PIPELINE_REJECTED', details: { stage: 'positive-ish' } },
    });
  });

  it('pulls from the source only as fast as the consumer takes outcomes', async () => {
    const { state, source } = countingSource(1_000);
    const built = pipeline<number>('p')
      .enrich('async', async (n) => n)
      .build();
    let seen = 0;
    for await (const outcome of built.stream(source, { concurrency: 4 })) {
      seen += 1;
      expect(outcome.ok).toBe(true);
      await nextTick();
      expect(state.pulled - seen).toBeLessThanOrEqual(4);
      if (seen === 50) break;
    }
    expect(state.pulled).toBeLessThanOrEqual(54);
    expect(state.closed).toBe(true);
  });

  it('collects valid, flagged, dead-lettered and rejected items without failing the batch', async () => {
    const letters: DeadLetter[] = [];
    const built = pipeline('import', { deadLetter: (letter) => void letters.push(letter) })
      .validate('parse', z.object({ id: z.int(), name: z.string() }))
      .transform('score', (row) => ({ ...row, score: row.name.length > 5 ? 1 : 0 }), {
        onError: { fallback: ({ value }) => ({ ...value, score: -1 }) },
      })
      .validate('check', z.object({ id: z.int(), name: z.string().max(8), score: z.number() }), {
        onError: 'dead-letter',
        boundary: 'database',
      })
      .build();
    const rows = [
      { id: 1, name: 'ok' },
      { id: 2 },
      { id: 3, name: 'much too long' },
      { id: 4, name: 'fine' },
    ];
    const report = await built.runBatch(rows, { keep: 'all', concurrency: 2 });
    expect(report).toMatchObject({ total: 4, valid: 2, rejected: 1, deadLettered: 1, flagged: 0 });
    expect(report.outcomes.map((o) => o.status)).toEqual([
      'valid',
      'rejected',
      'dead-lettered',
      'valid',
    ]);
    expect(letters.map((letter) => letter.record)).toEqual([rows[2]]);
    const none = await built.runBatch(rows, { keep: 'none' });
    expect(none.outcomes).toEqual([]);
    expect(none.total).toBe(4);
  });

  it('runs the order chain over a batch and reports per item', async () => {
    const requests = [validRequest, { ...validRequest, items: [{ sku: 'SKU-404', qty: 1 }] }];
    const outcomes: BatchOutcome<unknown, unknown>[] = [];
    for await (const outcome of orderPipeline().stream(requests)) outcomes.push(outcome);
    outcomes.sort((a, b) => a.index - b.index);
    expect(outcomes.map((o) => o.status)).toEqual(['valid', 'rejected']);
  });

  it('stops on abort with the signal reason and closes the source', async () => {
    const { state, source } = countingSource(100_000);
    const controller = new AbortController();
    const built = pipeline<number>('p')
      .enrich('async', async (n) => {
        if (n === 100) controller.abort(new Error('shutting down'));
        await nextTick();
        return n;
      })
      .build();
    await expect(
      built.runBatch(source, { signal: controller.signal, concurrency: 4 }),
    ).rejects.toThrow('shutting down');
    expect(state.pulled).toBeLessThan(200);
    expect(state.closed).toBe(true);
  });

  it('propagates a failing source', async () => {
    async function* broken() {
      yield 1;
      throw new Error('source failed');
    }
    const built = pipeline<number>('p')
      .transform('t', (n) => n)
      .build();
    await expect(built.runBatch(broken())).rejects.toThrow('source failed');
  });

  it('checks its arguments', async () => {
    const built = pipeline<number>('p')
      .transform('t', (n) => n)
      .build();
    await expect(built.runBatch(42 as never)).rejects.toThrow(/source must be an iterable/);
    await expect(built.runBatch([1], { concurrency: 0 })).rejects.toThrow(/options.concurrency/);
    await expect(built.runBatch([1], { keep: 'some' as never })).rejects.toThrow(/options.keep/);
    expect(() => built.stream([1], { signal: {} as never })).toThrow(/options.signal/);
    expect(await built.runBatch(new Set([1, 2, 3]))).toMatchObject({ total: 3, valid: 3 });
  });
});
