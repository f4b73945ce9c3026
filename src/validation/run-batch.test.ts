import { setImmediate as nextTick, setTimeout as sleep } from 'node:timers/promises';
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

/** Settles like `promise`, or resolves `'still pending'` after a second, so a hang fails fast. */
function withinASecond<T>(promise: Promise<T>): Promise<T | 'still pending'> {
  return Promise.race([promise, sleep(1_000, 'still pending' as const, { ref: false })]);
}

/** A source whose next() never answers (an async generator stuck in an `await`), like return(). */
function stuckSource() {
  const state = { pulled: 0, returned: 0 };
  const source: AsyncIterableIterator<number> = {
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      state.pulled += 1;
      return state.pulled === 1
        ? Promise.resolve({ done: false, value: 1 })
        : new Promise<IteratorResult<number>>(() => {});
    },
    return() {
      state.returned += 1;
      return new Promise<IteratorResult<number>>(() => {});
    },
  };
  return { state, source };
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

  it('stops on abort while the source is waiting, without waiting for it to close', async () => {
    const built = pipeline<unknown>('b')
      .transform('t', (v) => ({ v }))
      .build();
    const generator = new AbortController();
    async function* never() {
      yield 1;
      await new Promise(() => {});
    }
    setTimeout(() => generator.abort(new Error('aborted!')), 20);
    await expect(
      withinASecond(built.runBatch(never(), { signal: generator.signal })),
    ).rejects.toThrow('aborted!');
    const { state, source } = stuckSource();
    const iterator = new AbortController();
    setTimeout(() => iterator.abort(new Error('aborted!')), 20);
    await expect(
      withinASecond(built.runBatch(source, { signal: iterator.signal })),
    ).rejects.toThrow('aborted!');
    expect(state).toEqual({ pulled: 2, returned: 1 });
  });

  it('stream: ends on abort while the source is waiting', async () => {
    const built = pipeline<unknown>('b')
      .transform('t', (v) => ({ v }))
      .build();
    const { state, source } = stuckSource();
    const controller = new AbortController();
    const seen: unknown[] = [];
    const consume = async () => {
      // concurrency 1: the outcome is yielded before the next pull, which never answers.
      for await (const outcome of built.stream(source, {
        signal: controller.signal,
        concurrency: 1,
      })) {
        seen.push(outcome.input);
        setTimeout(() => controller.abort(new Error('aborted!')), 20);
      }
    };
    await expect(withinASecond(consume())).rejects.toThrow('aborted!');
    expect(seen).toEqual([1]);
    expect(state.returned).toBe(1);
  });

  it('keeps the first error: a source whose next() failed is not closed again', async () => {
    let returned = 0;
    const throwing = (rejects: boolean): AsyncIterable<number> & Iterable<number> => {
      const iterator = {
        next(): never {
          if (rejects) return Promise.reject(new Error('next broke')) as never;
          throw new Error('next broke');
        },
        return(): never {
          returned += 1;
          throw new Error('return broke');
        },
      };
      return rejects
        ? ({ [Symbol.asyncIterator]: () => iterator } as never)
        : ({ [Symbol.iterator]: () => iterator } as never);
    };
    const built = pipeline<number>('p')
      .transform('t', (n) => n)
      .build();
    await expect(built.runBatch(throwing(true))).rejects.toThrow('next broke');
    await expect(built.runBatch(throwing(false))).rejects.toThrow('next broke');
    expect(returned).toBe(0);
  });

  it('keeps the abort reason when closing the source fails too', async () => {
    const controller = new AbortController();
    let returned = 0;
    const source: Iterable<number> = {
      [Symbol.iterator]: () => {
        let i = 0;
        return {
          next: () => ({ done: false, value: i++ }),
          return: () => {
            returned += 1;
            throw new Error('return broke');
          },
        };
      },
    };
    const built = pipeline<number>('p')
      .enrich('async', async (n) => {
        if (n === 10) controller.abort(new Error('shutting down'));
        await nextTick();
        return n;
      })
      .build();
    await expect(built.runBatch(source, { signal: controller.signal })).rejects.toThrow(
      'shutting down',
    );
    expect(returned).toBe(1);
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

  it('refuses a string source, iterable as it is, with a TypeError naming it', async () => {
    const built = pipeline<number>('p')
      .transform('t', (n) => n)
      .build();
    const message = 'source must be an iterable or async iterable of records, got a string';
    await expect(built.runBatch('abc' as never)).rejects.toThrow(new TypeError(message));
    expect(() => built.stream('abc' as never)).toThrow(new TypeError(message));
    // An own `Symbol.asyncIterator` that is not a function does not make a source async.
    const syncOnly = {
      [Symbol.asyncIterator]: undefined,
      *[Symbol.iterator]() {
        yield 1;
      },
    };
    expect(await built.runBatch(syncOnly)).toMatchObject({ total: 1, valid: 1 });
  });
});
