import fc from 'fast-check';
import { AbortError } from 'p-retry';
import { afterEach, describe, expect, it } from 'vitest';
import {
  describeEachSagaStore,
  eventually,
  SAGA_STORE_KINDS,
  sagaTestBed,
} from '../../test/support/saga-engines.js';
import { DEFAULT_STEP_RETRY, resolveRetryPolicy, retryDelay } from '../core/retry-policy.js';
import { defineSaga, NonRetryableError } from './index.js';

const bed = sagaTestBed();
afterEach(() => bed.cleanup());
const engine = bed.engine;
const until = eventually;

/** A saga whose step fails `failures` times, recording when each attempt started. */
function flaky(failures: number, retry: object) {
  const starts: number[] = [];
  const saga = defineSaga({ name: 'flaky' }).step('charge', {
    run: () => {
      starts.push(Date.now());
      if (starts.length <= failures) throw new Error(`down ${starts.length}`);
      return { ok: true };
    },
    retry,
  });
  return { saga, starts };
}

describeEachSagaStore('durable retries', (kind) => {
  const open = async () => (await bed.store(kind)).store;

  it('a held retry wait survives the engine being abandoned: another engine resumes it, not early', async () => {
    const store = await open();
    const { saga, starts } = flaky(1, { retries: 2, minTimeout: 600, randomize: false });
    const first = engine({
      store,
      sagas: [saga],
      runnerId: 'A',
      leaseMs: 150,
      holdLimitMs: 60_000,
    });
    await first.start(saga, {}, { id: 'r1' });
    const waiting = await until(async () => {
      const state = await first.get('r1');
      return state?.steps[0]?.status === 'waiting' ? state : undefined;
    });
    const retryAt = Date.parse(waiting.steps[0]!.retryAt!);
    // The wait is held: the lease is A's (token 1) and the saga is due at once for its holder.
    expect(await store.heartbeat('r1', { owner: 'A', token: 1 }, 150)).toBe(true);
    await first.close({ timeoutMs: 0 });
    const second = engine({
      store,
      sagas: [saga],
      runnerId: 'B',
      leaseMs: 150,
      pollIntervalMs: 20,
    });
    second.startRunner();
    const done = await second.wait('r1', { timeoutMs: 10_000 });
    expect(done.status).toBe('completed');
    expect(starts).toHaveLength(2);
    expect(starts[1]!).toBeGreaterThanOrEqual(retryAt);
    expect(done.steps[0]!.attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
  });

  it('a long wait releases the saga (running, lease free, due later); a restarted runner resumes it when due', async () => {
    const store = await open();
    const { saga, starts } = flaky(1, { retries: 1, minTimeout: 500, randomize: false });
    const first = engine({ store, sagas: [saga], runnerId: 'A', holdLimitMs: 100 });
    await first.start(saga, {}, { id: 'r2' });
    const stored = await until(async () => {
      const s = await store.get('r2');
      return s && s.wakeAt > s.createdAt ? s : undefined;
    });
    expect(stored.status).toBe('running');
    expect(stored.wakeAt).toBeGreaterThan((await store.now()).getTime());
    // Released: A's lease no longer holds it, and no runner can claim it before it is due.
    expect(await store.heartbeat('r2', { owner: 'A', token: 1 }, 1000)).toBe(false);
    expect(
      await store.claim({
        owner: 'X',
        leaseMs: 1000,
        limit: 1,
        statuses: ['running'],
        ids: ['r2'],
      }),
    ).toEqual([]);
    await first.close();
    const second = engine({ store, sagas: [saga], runnerId: 'B', pollIntervalMs: 20 });
    second.startRunner();
    const done = await second.wait('r2', { timeoutMs: 10_000 });
    expect(done.status).toBe('completed');
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(490);
  });

  it('a short wait holds the saga (lease kept, nothing released)', async () => {
    const store = await open();
    const { saga, starts } = flaky(1, { retries: 1, minTimeout: 300, randomize: false });
    const sagas = engine({ store, sagas: [saga], runnerId: 'A', holdLimitMs: 5_000 });
    await sagas.start(saga, {}, { id: 'r3' });
    await until(async () =>
      (await sagas.get('r3'))?.steps[0]?.status === 'waiting' ? 1 : undefined,
    );
    expect(await store.heartbeat('r3', { owner: 'A', token: 1 }, 30_000)).toBe(true);
    expect((await sagas.wait('r3')).status).toBe('completed');
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(290);
  });
});

describe('retry waits in a parallel group', () => {
  it('a long wait begun while a sibling still runs holds the saga (the sibling keeps its lease)', async () => {
    const { store } = await bed.store(SAGA_STORE_KINDS[0]!);
    const runs: string[] = [];
    let released = false;
    const saga = defineSaga({ name: 'fan' }).parallel((group) =>
      group
        .step('slow', {
          run: async () => {
            runs.push('slow');
            await new Promise((resolve) => setTimeout(resolve, 150));
            // The sibling is waiting by now, but the saga is still held by this runner.
            released = (await store.heartbeat('f', { owner: 'A', token: 1 }, 30_000)) === false;
            return 'slow';
          },
        })
        .step('flaky', {
          retry: { retries: 1, minTimeout: 600, randomize: false },
          run: () => {
            runs.push('flaky');
            if (runs.filter((r) => r === 'flaky').length === 1) throw new Error('down');
            return 'flaky';
          },
        }),
    );
    const sagas = engine({ store, sagas: [saga], runnerId: 'A', holdLimitMs: 100 });
    const state = await sagas.run(saga, {}, { id: 'f' });
    expect(state.status).toBe('completed');
    expect(released).toBe(false);
    expect(runs).toEqual(['slow', 'flaky', 'flaky']);
  });
});

describe('retry policy', () => {
  it('backoff grows by factor and is capped by maxTimeout (engine timeline)', async () => {
    const { store } = await bed.store(SAGA_STORE_KINDS[0]!);
    const { saga, starts } = flaky(4, {
      retries: 4,
      minTimeout: 40,
      factor: 2,
      maxTimeout: 100,
      randomize: false,
    });
    const state = await engine({ store, sagas: [saga] }).run(saga, {});
    expect(state.status).toBe('completed');
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    // 40, 80, then capped at 100 (uncapped: 160, 320).
    expect(gaps[0]).toBeGreaterThanOrEqual(38);
    expect(gaps[1]).toBeGreaterThanOrEqual(78);
    expect(gaps[2]).toBeGreaterThanOrEqual(98);
    expect(gaps[3]).toBeGreaterThanOrEqual(98);
    expect(gaps[3]).toBeLessThan(300);
  });

  it('retryDelay never exceeds maxTimeout, never falls below minTimeout, never shrinks', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.boolean(),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        fc.integer({ min: 1, max: 40 }),
        (minTimeout, extra, factor, randomize, random, retry) => {
          const policy = resolveRetryPolicy(
            { minTimeout, maxTimeout: minTimeout + extra, factor, randomize },
            DEFAULT_STEP_RETRY,
          );
          const now = retryDelay(policy, retry, () => random);
          const next = retryDelay(policy, retry + 1, () => random);
          expect(now).toBeLessThanOrEqual(minTimeout + extra);
          expect(now).toBeGreaterThanOrEqual(minTimeout);
          expect(next).toBeGreaterThanOrEqual(now);
        },
      ),
    );
  });

  const failingWith = async (error: () => unknown, retry: object = {}) => {
    const { store } = await bed.store(SAGA_STORE_KINDS[0]!);
    let attempts = 0;
    const saga = defineSaga({ name: 'stops' }).step('s', {
      run: () => {
        attempts += 1;
        throw error();
      },
      retry: { retries: 3, minTimeout: 1, maxTimeout: 2, ...retry },
    });
    const state = await engine({ store, sagas: [saga] }).run(saga, {});
    return { attempts, state };
  };

  it.each([
    ['NonRetryableError', () => new NonRetryableError('declined')],
    ["p-retry's AbortError", () => new AbortError('declined')],
    ['a TypeError (a bug, as p-retry rules)', () => new TypeError('x is not a function')],
  ])('%s stops at once', async (_, error) => {
    const { attempts, state } = await failingWith(error);
    expect(attempts).toBe(1);
    expect(state.status).toBe('compensated');
    expect(state.steps[0]!.attempts).toHaveLength(1);
    expect(state.failure).toMatchObject({ step: 's', phase: 'run' });
  });

  it('records the inner error of an AbortError, not the wrapper', async () => {
    const { state } = await failingWith(
      () => new NonRetryableError(new RangeError('card declined')),
    );
    expect(state.failure).toMatchObject({ name: 'RangeError', message: 'card declined' });
  });

  it('honours shouldRetry: false stops, true retries the whole budget', async () => {
    const no = await failingWith(() => new Error('fatal'), { shouldRetry: () => false });
    expect(no.attempts).toBe(1);
    const yes = await failingWith(() => new Error('flaky'), {
      shouldRetry: (error: unknown) => (error as Error).message === 'flaky',
    });
    expect(yes.attempts).toBe(4);
    const throws = await failingWith(() => new Error('flaky'), {
      shouldRetry: () => {
        throw new Error('predicate bug');
      },
    });
    expect(throws.attempts).toBe(1);
  });
});
