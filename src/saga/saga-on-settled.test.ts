import { afterEach, describe, expect, it } from 'vitest';
import { recordingLogger } from '../../test/support/logger.js';
import { endingSagas, SAGA_STORE_KINDS, sagaTestBed } from '../../test/support/saga-engines.js';
import type { SagaState } from './index.js';

const bed = sagaTestBed();
afterEach(() => bed.cleanup());

const { completes: reserve, compensates: refund, deadLetters: stuck } = endingSagas;

describe('createSagas onSettled', () => {
  it('is told each saga this engine runs once it completes, compensates or is dead-lettered', async () => {
    const { store } = await bed.store(SAGA_STORE_KINDS[0]!);
    const settled: SagaState[] = [];
    const sagas = bed.engine({
      store,
      sagas: [reserve, refund, stuck] as never,
      onSettled: (state) => settled.push(state),
    });
    const states = [
      await sagas.run(reserve, {}, { id: 'a' }),
      await sagas.run(refund, {}, { id: 'b' }),
      await sagas.run(stuck, {}, { id: 'c' }),
    ];
    expect(settled.map((s) => [s.id, s.status])).toEqual([
      ['a', 'completed'],
      ['b', 'compensated'],
      ['c', 'failed'],
    ]);
    expect(settled).toEqual(states);
  });

  it('logs a callback that throws and carries on', async () => {
    const { store } = await bed.store(SAGA_STORE_KINDS[0]!);
    const logger = recordingLogger();
    const sagas = bed.engine({
      store,
      sagas: [reserve],
      logger,
      onSettled: () => {
        throw new Error('exporter down');
      },
    });
    expect((await sagas.run(reserve, {}, { id: 'a' })).status).toBe('completed');
    expect(logger.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        fields: expect.objectContaining({ event: 'saga.on_settled_failed', sagaId: 'a' }),
      }),
    );
  });

  it('refuses an onSettled that is not a function', async () => {
    const { store } = await bed.store(SAGA_STORE_KINDS[0]!);
    expect(() => bed.engine({ store, sagas: [reserve], onSettled: 'emit' as never })).toThrow(
      /options\.onSettled/,
    );
  });
});
