/**
 * Worker pools with a concurrency limit. In-process: a queued task starts when another finishes,
 * from that task's completion, so a plain limiter runs it in the finisher's context;
 * `limitConcurrency` runs each task in its submitter's. Across threads: a worker has its own
 * AsyncLocalStorage and sees no context at all; `contextTaskMessage` / `runInTaskContext` carry
 * it with the task message.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getContext, runWithContext } from '../../../src/core/context.js';
import { contextTaskMessage, limitConcurrency } from '../../../src/lineage/index.js';
import { bundleWorker } from '../../support/bundle-worker.js';

const correlationId = () => getContext()?.correlationId;

/** A limiter as often written: the next queued task starts from the finished one's `finally`. */
function plainLimiter(concurrency: number) {
  let active = 0;
  const queue: (() => void)[] = [];
  const next = () => {
    if (active >= concurrency) return;
    const start = queue.shift();
    if (start === undefined) return;
    active += 1;
    start();
  };
  return <T>(task: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      queue.push(() => {
        task()
          .then(resolve, reject)
          .finally(() => {
            active -= 1;
            next();
          });
      });
      next();
    });
}

/** Submits `count` tasks, each from a context of its own; returns what each task saw. */
async function submitFromContexts(
  limit: <T>(task: () => Promise<T>) => Promise<T>,
  count: number,
): Promise<{ expected: string; seen: (string | undefined)[] }[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      runWithContext({ correlationId: `task-${i}` }, async () => {
        const seen = await limit(async () => {
          const atStart = correlationId();
          await delay(1 + (i % 3));
          return [atStart, correlationId()];
        });
        return { expected: `task-${i}`, seen };
      }),
    ),
  );
}

describe('an in-process limiter', () => {
  it('runs queued tasks in the context of the task that finished, when written plainly', async () => {
    const results = await submitFromContexts(plainLimiter(2), 10);
    const wrong = results.filter(({ expected, seen }) => seen[0] !== expected);
    expect(wrong.length).toBeGreaterThan(0);
  });

  it('runs every task in its submitter context with limitConcurrency', async () => {
    const results = await submitFromContexts(limitConcurrency(2), 10);
    for (const { expected, seen } of results) expect(seen).toEqual([expected, expected]);
  });

  it('never runs more than the limit at once, and passes results and errors through', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.tuple(fc.nat(3), fc.boolean()), { maxLength: 12 }),
        async (concurrency, tasks) => {
          const limit = limitConcurrency(concurrency);
          let running = 0;
          let peak = 0;
          const outcomes = await Promise.allSettled(
            tasks.map(([ms, fails], i) =>
              limit(async () => {
                running += 1;
                peak = Math.max(peak, running);
                await delay(ms);
                running -= 1;
                if (fails) throw new Error(`task ${i}`);
                return i;
              }),
            ),
          );
          expect(peak).toBeLessThanOrEqual(concurrency);
          outcomes.forEach((outcome, i) => {
            if (tasks[i]?.[1])
              expect(outcome).toEqual({ status: 'rejected', reason: new Error(`task ${i}`) });
            else expect(outcome).toEqual({ status: 'fulfilled', value: i });
          });
        },
      ),
      { numRuns: 30 },
    );
  });

  it('takes a synchronous task and one that throws synchronously', async () => {
    const limit = limitConcurrency(1);
    expect(await limit(() => 5)).toBe(5);
    await expect(
      limit(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
  });

  it('checks its arguments', () => {
    for (const bad of [0, 1.5, -1, '2', Number.NaN]) {
      expect(() => limitConcurrency(bad as number)).toThrow(/concurrency/);
    }
    expect(() => limitConcurrency(1)(5 as never)).toThrow(/task/);
  });
});

describe('worker_threads', () => {
  let workerFile: string;
  const workers: Worker[] = [];
  beforeAll(async () => {
    workerFile = await bundleWorker(
      fileURLToPath(new URL('./support/context-worker.ts', import.meta.url)),
      'correlation-worker',
    );
    for (let i = 0; i < 2; i += 1) workers.push(new Worker(workerFile));
  });
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.terminate()));
    rmSync(dirname(workerFile), { recursive: true, force: true });
  });

  /** A pool of the two workers, limited to one task per worker at a time. */
  function workerPool() {
    let nextId = 0;
    const pending = new Map<number, (seen: Record<string, unknown>) => void>();
    const idle = [...workers];
    for (const worker of workers) {
      worker.removeAllListeners('message');
      worker.on('message', ({ id, seen }: { id: number; seen: Record<string, unknown> }) => {
        pending.get(id)?.(seen);
        pending.delete(id);
      });
    }
    const limit = limitConcurrency(workers.length);
    return (message: unknown) =>
      limit(async () => {
        const worker = idle.pop() as Worker;
        try {
          const id = nextId++;
          const seen = new Promise<Record<string, unknown>>((resolve) => pending.set(id, resolve));
          worker.postMessage({ id, message });
          return await seen;
        } finally {
          idle.push(worker);
        }
      });
  }

  it('loses the context: a worker has an AsyncLocalStorage of its own', async () => {
    const run = workerPool();
    const seen = await runWithContext({ correlationId: 'main' }, () => run({ delayMs: 1 }));
    expect(seen.correlationId).toBeUndefined();
  });

  it('carries it with contextTaskMessage: 20 tasks from 20 contexts on 2 workers', async () => {
    const run = workerPool();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        runWithContext(
          {
            correlationId: `job-${i}`,
            causationId: `cause-${i}`,
            tenant: `t${i % 3}`,
            remoteTrace: { traceparent },
          },
          async () => {
            const seen = await run(contextTaskMessage({ delayMs: i % 4 }));
            // The main thread's continuation is still in its own context too.
            return { seen, after: correlationId() };
          },
        ),
      ),
    );
    results.forEach(({ seen, after }, i) => {
      expect(seen).toEqual({
        correlationId: `job-${i}`,
        causationId: `cause-${i}`,
        tenant: `t${i % 3}`,
        traceparent,
      });
      expect(after).toBe(`job-${i}`);
    });
  });
});
