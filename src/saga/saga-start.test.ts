import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { failure } from '../../test/support/failures.js';
import { describeEachSagaStore, sagaTestBed } from '../../test/support/saga-engines.js';
import { defineSaga } from './index.js';

const bed = sagaTestBed();
afterEach(() => bed.cleanup());

describeEachSagaStore('idempotent start and what a saga accepts', (kind) => {
  const store = async () => (await bed.store(kind)).store;

  it('the same id and input returns created:false and runs nothing again, whatever the key order', async () => {
    let runs = 0;
    const saga = defineSaga({ name: 'order' }).step('s', {
      run: () => {
        runs += 1;
        return runs;
      },
    });
    const sagas = bed.engine({ store: await store(), sagas: [saga] });
    expect(await sagas.start(saga, { a: 1, b: [1, 2] }, { id: 'o1' })).toEqual({
      id: 'o1',
      created: true,
    });
    expect(await sagas.start(saga, { b: [1, 2], a: 1 }, { id: 'o1' })).toEqual({
      id: 'o1',
      created: false,
    });
    expect((await sagas.wait('o1')).status).toBe('completed');
    expect(await sagas.start(saga, { a: 1, b: [1, 2] }, { id: 'o1' })).toEqual({
      id: 'o1',
      created: false,
    });
    expect(runs).toBe(1);
  });

  it('the same id with another input, or for another saga, is SAGA_ID_CONFLICT', async () => {
    const a = defineSaga({ name: 'a' }).step('s', { run: () => 1 });
    const b = defineSaga({ name: 'b' }).step('s', { run: () => 1 });
    const sagas = bed.engine({ store: await store(), sagas: [a, b] });
    await sagas.run(a, { n: 1 }, { id: 'k' });
    const otherInput = await failure(sagas.start(a, { n: 2 }, { id: 'k' }));
    expect(otherInput.code).toBe('SAGA_ID_CONFLICT');
    expect(otherInput.details).toMatchObject({ sagaId: 'k', name: 'a' });
    const otherSaga = await failure(sagas.start(b, { n: 1 }, { id: 'k' }));
    expect(otherSaga.code).toBe('SAGA_ID_CONFLICT');
    expect(otherSaga.details).toMatchObject({ sagaId: 'k', name: 'a' });
  });

  it('validates the input with its schema (VALIDATION_FAILED), and stores the parsed value', async () => {
    const seen: unknown[] = [];
    const saga = defineSaga({
      name: 'typed',
      input: z.object({ amount: z.coerce.number().positive() }),
    }).step('s', {
      run: ({ input }) => {
        seen.push(input);
      },
    });
    const sagas = bed.engine({ store: await store(), sagas: [saga] });
    const bad = await failure(sagas.start(saga, { amount: -1 } as never));
    expect(bad.code).toBe('VALIDATION_FAILED');
    expect((await sagas.list()).sagas).toEqual([]);
    const state = await sagas.run(saga, { amount: '5' } as never);
    expect(state.input).toEqual({ amount: 5 });
    expect(seen).toEqual([{ amount: 5 }]);
  });

  it('refuses input JSON cannot hold (SAGA_VALUE_UNENCODABLE), storing nothing', async () => {
    const saga = defineSaga({ name: 'json' }).step('s', { run: () => 1 });
    const sagas = bed.engine({ store: await store(), sagas: [saga] });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const input of [cyclic, { n: 10n }, { f: () => 1 }, { m: new Map([[1, 2]]) }]) {
      const error = await failure(sagas.start(saga, input, { id: 'j' }));
      expect(error.code).toBe('SAGA_VALUE_UNENCODABLE');
      expect(error.details).toMatchObject({ sagaId: 'j' });
    }
    expect(await sagas.get('j')).toBeUndefined();
  });

  it("checks a step's output with its schema; a bad or non-JSON output fails the step at once", async () => {
    let attempts = 0;
    const make = (name: string, output: () => unknown, schema?: z.ZodType) =>
      defineSaga({ name }).step('s', {
        retry: { retries: 3, minTimeout: 1, maxTimeout: 1 },
        ...(schema ? { output: schema } : {}),
        run: () => {
          attempts += 1;
          return output();
        },
      });
    const parsed = make('parsed', () => ({ at: '2026-12-02' }), z.object({ at: z.string() }));
    const invalid = make('invalid', () => ({ at: 5 }), z.object({ at: z.string() }));
    const unencodable = make('unencodable', () => ({ n: 1n }));
    const sagas = bed.engine({ store: await store(), sagas: [parsed, invalid, unencodable] });
    expect((await sagas.run(parsed, {})).output).toEqual({ s: { at: '2026-12-02' } });
    attempts = 0;
    const bad = await sagas.run(invalid, {});
    expect(bad.status).toBe('compensated');
    expect(bad.failure).toMatchObject({ step: 's', code: 'VALIDATION_FAILED' });
    expect(attempts).toBe(1);
    attempts = 0;
    const notJson = await sagas.run(unencodable, {});
    expect(notJson.status).toBe('compensated');
    expect(notJson.failure).toMatchObject({ step: 's', code: 'SAGA_VALUE_UNENCODABLE' });
    expect(attempts).toBe(1);
  });
});
