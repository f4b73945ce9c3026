/**
 * Engine bugs the chaos, multi-runner and deploy tests showed, each pinned down in a small
 * in-process test on the memory store.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryBackend, createMemorySagaStore } from '../../src/adapters/memory/index.js';
import { createSagas, defineSaga } from '../../src/saga/index.js';

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
});
