import { describe, expect, it } from 'vitest';
import { createMemoryBackend, createMemorySagaStore } from '../adapters/memory/index.js';
import { createSagas, defineSaga, NonRetryableError } from './index.js';

async function setup() {
  const backend = createMemoryBackend();
  const store = createMemorySagaStore({ backend });
  await store.migrate();
  return store;
}

describe('saga smoke', () => {
  it('runs steps in order and completes', async () => {
    const store = await setup();
    const calls: string[] = [];
    const saga = defineSaga({ name: 'order', version: 1 })
      .step('a', {
        run: ({ idempotencyKey }) => {
          calls.push(idempotencyKey);
          return { n: 1 };
        },
      })
      .parallel((group) =>
        group
          .step('b', { run: ({ steps }) => ({ m: steps.a.n + 1 }) })
          .step('c', { run: () => 'c' }),
      )
      .step('d', { run: ({ steps }) => steps.b.m + steps.a.n });
    const sagas = createSagas({ store, sagas: [saga] });
    const state = await sagas.run(saga, { x: 1 }, { id: 'o1' });
    expect(state.status).toBe('completed');
    expect(state.output).toEqual({ a: { n: 1 }, b: { m: 2 }, c: 'c', d: 3 });
    expect(calls).toEqual(['order/o1/a']);
    const again = await sagas.start(saga, { x: 1 }, { id: 'o1' });
    expect(again.created).toBe(false);
    await sagas.close();
  });

  it('compensates in reverse start order', async () => {
    const store = await setup();
    const undo: string[] = [];
    const saga = defineSaga({ name: 'order', version: 1 })
      .step('a', {
        run: () => 1,
        compensate: ({ outcome }) => {
          undo.push(`a:${outcome}`);
        },
      })
      .parallel((group) =>
        group
          .step('b', { run: () => 2, compensate: ({ outcome }) => void undo.push(`b:${outcome}`) })
          .step('c', { run: () => 3, compensate: ({ outcome }) => void undo.push(`c:${outcome}`) }),
      )
      .step('d', {
        run: () => {
          throw new NonRetryableError('declined');
        },
        compensate: ({ outcome }) => {
          undo.push(`d:${outcome}`);
        },
      });
    const sagas = createSagas({ store, sagas: [saga] });
    const state = await sagas.run(saga, {});
    expect(state.status).toBe('compensated');
    expect(undo).toEqual(['d:failed', 'c:completed', 'b:completed', 'a:completed']);
    expect(state.failure).toMatchObject({ step: 'd', message: 'declined' });
    await sagas.close();
  });

  it('retries then dead-letters a failing compensation, and redrives it', async () => {
    const store = await setup();
    let fail = true;
    let runs = 0;
    const saga = defineSaga({ name: 'x', version: 1 })
      .step('a', {
        run: () => 1,
        compensate: () => {
          if (fail) throw new Error('refund down');
        },
        compensationRetry: { retries: 2, minTimeout: 1, maxTimeout: 5 },
      })
      .step('b', {
        run: () => {
          runs++;
          throw new Error('boom');
        },
        retry: { retries: 2, minTimeout: 1, maxTimeout: 5 },
      });
    const sagas = createSagas({ store, sagas: [saga] });
    const state = await sagas.run(saga, {});
    expect(runs).toBe(3);
    expect(state.status).toBe('compensation_failed');
    expect(state.error).toMatchObject({ step: 'a', phase: 'compensate', message: 'refund down' });
    expect(state.steps[0]!.compensation!.attempts).toHaveLength(3);
    expect((await sagas.deadLetters()).sagas.map((s) => s.id)).toEqual([state.id]);
    fail = false;
    await sagas.redrive(state.id);
    const after = await sagas.wait(state.id);
    expect(after.status, JSON.stringify(after, null, 1)).toBe('compensated');
    expect(after.redrives).toBe(1);
    await sagas.close();
  });
});
