/**
 * Engine bugs the chaos, multi-runner and deploy tests showed, each pinned down in a small
 * in-process test on the memory store.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryBackend, createMemorySagaStore } from '../../src/adapters/memory/index.js';
import { createSagas, defineSaga } from '../../src/saga/index.js';
import type { SagaStore } from '../../src/saga/saga-store.js';

async function memoryStore() {
  const store = createMemorySagaStore({ backend: createMemoryBackend() });
  await store.migrate();
  return store;
}

describe('saga engine under the chaos tests', () => {
  it('runs a released retry once it is due, even with a hold limit of 0', async () => {
    const store = await memoryStore();
    let calls = 0;
    const saga = defineSaga({ name: 'released', version: 1 })
      .step('a', {
        run: () => {
          calls += 1;
          if (calls === 1) throw new Error('once');
          return calls;
        },
        retry: { retries: 3, minTimeout: 20, maxTimeout: 50 },
      })
      .step('b', { run: () => 'b' });
    const sagas = createSagas({ store, sagas: [saga], holdLimitMs: 0, pollIntervalMs: 50 });
    sagas.startRunner();
    try {
      const { id } = await sagas.start(saga, {});
      const state = await sagas.wait(id, { timeoutMs: 5_000 });
      expect(state.status).toBe('completed');
      expect(calls).toBe(2);
      expect(state.steps[0]!.attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
    } finally {
      await sagas.close();
    }
  });

  it('does not call a step once its lease may have lapsed: a starved runner stops, the new owner runs it alone', async () => {
    const store = await memoryStore();
    // Runner A's start reaches the store, but A only hears back after its lease ran out (a
    // starved process, a slow network): by then runner B has taken the saga over.
    const slow = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'create') {
          return async (...args: Parameters<SagaStore['create']>) => {
            const result = await target.create(...args);
            await new Promise((resolve) => setTimeout(resolve, 400));
            return result;
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const calls: string[] = [];
    const saga = (runner: string) =>
      defineSaga({ name: 'starved', version: 1 }).step('a', {
        run: async () => {
          calls.push(runner);
          await new Promise((resolve) => setTimeout(resolve, 50));
          return runner;
        },
      });
    const definitionA = saga('A');
    const a = createSagas({ store: slow, sagas: [definitionA], leaseMs: 150, runnerId: 'A' });
    const b = createSagas({
      store,
      sagas: [saga('B')],
      leaseMs: 150,
      pollIntervalMs: 20,
      runnerId: 'B',
    });
    b.startRunner();
    try {
      const { id } = await a.start(definitionA, {}, { id: 'starved-1' });
      const state = await b.wait(id, { timeoutMs: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(state.status).toBe('completed');
      expect(calls).toEqual(['B']);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
