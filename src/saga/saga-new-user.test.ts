/**
 * What a new user of the packed package ran into: each case here failed before its fix.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createMemoryBackend, createMemorySagaStore } from '../adapters/memory/index.js';
import { errorRecord } from '../core/error-record.js';
import { FlowproofError } from '../core/errors.js';
import { createSagas, defineSaga } from './index.js';

async function memoryStore() {
  const store = createMemorySagaStore({ backend: createMemoryBackend() });
  await store.migrate();
  return store;
}

describe('sagas as a new user meets them', () => {
  it('refuses transactional steps on the memory store when the engine is created', async () => {
    const saga = defineSaga({ name: 'tx' }).step('write', {
      transactional: true,
      run: ({ transaction }) => transaction.execute('SELECT 1'),
    });
    const store = await memoryStore();
    expect(() => createSagas({ store, sagas: [saga] })).toThrow(
      /transactional steps, which need a store with transactions \(SQLite or PostgreSQL\)/,
    );
  });

  it('a step that returns nothing has no output: later steps see undefined, as typed', async () => {
    const seen: unknown[] = [];
    const saga = defineSaga({ name: 'void' })
      .step('notify', { run: () => undefined })
      .step('after', {
        run: ({ steps }) => {
          seen.push(steps.notify);
          return 1;
        },
      });
    const sagas = createSagas({ store: await memoryStore(), sagas: [saga] });
    const state = await sagas.run(saga, {});
    expect(state.status).toBe('completed');
    expect(seen).toEqual([undefined]);
    expect(state.output).toEqual({ notify: undefined, after: 1 });
    await sagas.close();
  });

  it.each([
    ['options.timeoutMs', () => defineSaga({ name: 'x', timeoutMs: 2 ** 31 })],
    [
      'options.timeoutMs',
      () => defineSaga({ name: 'x' }).step('s', { run: () => 1, timeoutMs: 2 ** 31 }),
    ],
  ])('a time limit past what a timer holds is a TypeError naming %s', (name, make) => {
    expect(make).toThrow(TypeError);
    expect(make).toThrow(name);
  });

  it('wait() and run() refuse a time limit past what a timer holds, and run() names all its options', async () => {
    const saga = defineSaga({ name: 'w' }).step('s', { run: () => 1 });
    const sagas = createSagas({ store: await memoryStore(), sagas: [saga] });
    await expect(sagas.wait('x', { timeoutMs: 2 ** 31 })).rejects.toThrow('options.timeoutMs');
    await expect(sagas.run(saga, {}, { timeout: 5 } as never)).rejects.toThrow(
      /options\.timeout; expected one of: id, timeoutMs/,
    );
    await sagas.close();
  });

  it.each(['__proto__', 'constructor', 'toString'])(
    'refuses the step name %s, which every object already has',
    (name) => {
      expect(() => defineSaga({ name: 'x' }).step(name, { run: () => 1 })).toThrow(TypeError);
    },
  );

  it('keeps a FlowproofError’s details in the recorded error (a deploy mismatch’s reason)', () => {
    const error = new FlowproofError('SAGA_DEFINITION_MISMATCH', 'step b moved', {
      details: { sagaId: 's', name: 'n', version: 2, step: 'b', index: 1, reason: 'moved' },
    });
    expect(errorRecord(error)).toMatchObject({
      code: 'SAGA_DEFINITION_MISMATCH',
      details: { reason: 'moved', step: 'b' },
    });
  });

  it('a script awaiting run() stays alive while its saga waits for a released retry', () => {
    const script = `
      import { createMemoryBackend, createMemorySagaStore } from './src/adapters/memory/index.ts';
      import { createSagas, defineSaga } from './src/saga/index.ts';
      const store = createMemorySagaStore({ backend: createMemoryBackend() });
      await store.migrate();
      let calls = 0;
      const saga = defineSaga({ name: 'later' }).step('s', {
        retry: { retries: 1, minTimeout: 300, randomize: false },
        run: () => { calls += 1; if (calls === 1) throw new Error('down'); return calls; },
      });
      // holdLimitMs 0: the retry wait releases the saga; only a timer would bring it back.
      const sagas = createSagas({ store, sagas: [saga], holdLimitMs: 0 });
      const state = await sagas.run(saga, {});
      console.log(state.status);
      await sagas.close();
    `;
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: root, encoding: 'utf8', timeout: 30_000 },
    );
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    expect(child.stdout.trim()).toBe('completed');
  });
});
