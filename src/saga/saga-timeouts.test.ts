import { afterEach, describe, expect, it } from 'vitest';
import { SAGA_STORE_KINDS, sagaTestBed } from '../../test/support/saga-engines.js';
import { defineSaga, NonRetryableError, type StepOutcome } from './index.js';

const bed = sagaTestBed();
afterEach(() => bed.cleanup());
const memory = async () => (await bed.store(SAGA_STORE_KINDS[0]!)).store;
const never = () => new Promise<never>(() => {});

describe('saga timeouts', () => {
  it("a step's timeoutMs aborts its signal; the attempt's outcome is unknown and it is retried", async () => {
    const reasons: unknown[] = [];
    let attempts = 0;
    const saga = defineSaga({ name: 't' }).step('slow', {
      timeoutMs: 50,
      retry: { retries: 1, minTimeout: 1, maxTimeout: 1 },
      run: ({ signal }) => {
        attempts += 1;
        if (attempts > 1) return 'done';
        return new Promise((_, reject) => {
          signal.addEventListener('abort', () => {
            reasons.push(signal.reason);
            reject(signal.reason);
          });
        });
      },
    });
    const state = await bed.engine({ store: await memory(), sagas: [saga] }).run(saga, {});
    expect(state.status).toBe('completed');
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatchObject({ code: 'SAGA_STEP_TIMEOUT' });
    const [first, second] = state.steps[0]!.attempts;
    expect(first).toMatchObject({ outcome: 'unknown', error: { code: 'SAGA_STEP_TIMEOUT' } });
    expect(first!.durationMs).toBeUndefined();
    expect(second).toMatchObject({ outcome: 'completed' });
  });

  it('a step ignoring its signal is not waited for: its compensation is told unknown', async () => {
    const told: StepOutcome[] = [];
    const saga = defineSaga({ name: 't' }).step('stuck', {
      timeoutMs: 50,
      retry: { retries: 0 },
      run: never,
      compensate: ({ outcome }) => {
        told.push(outcome);
      },
    });
    const started = Date.now();
    const state = await bed.engine({ store: await memory(), sagas: [saga] }).run(saga, {});
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(state.status).toBe('compensated');
    expect(state.failure).toMatchObject({ step: 'stuck', code: 'SAGA_STEP_TIMEOUT' });
    expect(told).toEqual(['unknown']);
  });

  it("the saga's timeoutMs compensates with a SAGA_TIMEOUT failure, even past a dead-letter step", async () => {
    const told: string[] = [];
    const aborted: unknown[] = [];
    const saga = defineSaga({ name: 't', timeoutMs: 150 })
      .step('reserve', {
        run: () => 'r',
        compensate: ({ outcome }) => {
          told.push(`reserve:${outcome}`);
        },
      })
      .step('ship', {
        onFailure: 'dead-letter',
        run: ({ signal }) => {
          signal.addEventListener('abort', () => aborted.push(signal.reason));
          return never();
        },
        compensate: ({ outcome }) => {
          told.push(`ship:${outcome}`);
        },
      });
    const state = await bed.engine({ store: await memory(), sagas: [saga] }).run(saga, {});
    expect(state.status).toBe('compensated');
    expect(state.failure).toMatchObject({ code: 'SAGA_TIMEOUT' });
    expect(aborted).toEqual([expect.objectContaining({ code: 'SAGA_TIMEOUT' })]);
    expect(told).toEqual(['ship:unknown', 'reserve:completed']);
  });

  it('a step running past the saga deadline is cut short and the steps after it never run', async () => {
    let ran = false;
    const saga = defineSaga({ name: 't', timeoutMs: 30 })
      .step('slowButObedient', {
        run: () => new Promise((resolve) => setTimeout(() => resolve('x'), 80)),
        compensate: () => {},
      })
      .step('never', {
        run: () => {
          ran = true;
          throw new NonRetryableError('must not run');
        },
      });
    const state = await bed.engine({ store: await memory(), sagas: [saga] }).run(saga, {});
    expect(state.status).toBe('compensated');
    expect(state.failure).toMatchObject({ code: 'SAGA_TIMEOUT' });
    expect(ran).toBe(false);
  });

  it.each([
    ['held in memory', 60_000],
    ['released to the store', 50],
  ])("the saga's time limit also ends a retry wait %s", async (_, holdLimitMs) => {
    let attempts = 0;
    const saga = defineSaga({ name: 't', timeoutMs: 200 }).step('flaky', {
      retry: { retries: 3, minTimeout: 800, randomize: false },
      run: () => {
        attempts += 1;
        throw new Error('down');
      },
      compensate: () => {},
    });
    const started = Date.now();
    const sagas = bed.engine({ store: await memory(), sagas: [saga], holdLimitMs });
    const state = await sagas.run(saga, {});
    expect(state.status).toBe('compensated');
    expect(state.failure).toMatchObject({ code: 'SAGA_TIMEOUT' });
    expect(attempts).toBe(1);
    // At the deadline or at the latest when the wait ends, never a full retry later.
    expect(Date.now() - started).toBeLessThan(1_500);
  });
});
