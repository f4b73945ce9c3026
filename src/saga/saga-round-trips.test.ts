import { afterEach, expect, it } from 'vitest';
import { recordingLogger } from '../../test/support/logger.js';
import {
  describeEachSagaStore,
  type RecordingSagaStore,
  statementKind,
} from '../../test/support/saga-engines.js';
import { createSagas, defineSaga, NonRetryableError, type Sagas } from './index.js';

describeEachSagaStore('saga storage round trips', (kind) => {
  let sagas: Sagas | undefined;
  let opened: RecordingSagaStore | undefined;
  afterEach(async () => {
    await sagas?.close();
    await opened?.store.close();
    sagas = undefined;
  });

  const sequential = (n: number) => {
    let saga = defineSaga({ name: `seq${n}` }) as ReturnType<typeof defineSaga>;
    for (let i = 0; i < n; i += 1) saga = saga.step(`s${i}`, { run: () => ({ i }) }) as never;
    return saga;
  };

  it.each([1, 2, 3, 5])(
    'a %i-step saga costs N+1 writes (the INSERT included) and no read',
    async (n) => {
      opened = await kind.open();
      const saga = sequential(n);
      sagas = createSagas({ store: opened.store, sagas: [saga] });
      const state = await sagas.run(saga, { n }, { id: `seq-${n}` });
      expect(state.status).toBe('completed');
      // create, one save per step (its result and the next step's intent), then wait()'s one get.
      expect(opened.calls).toEqual(['create', ...Array(n).fill('save'), 'get']);
      if (kind.name !== 'memory') {
        expect(opened.statements.map(statementKind)).toEqual([
          'insert',
          ...Array(n).fill('save'),
          'read',
        ]);
      }
    },
  );

  it('a retry costs two writes (its wait, then its intent) and still no read', async () => {
    opened = await kind.open();
    let attempts = 0;
    const saga = defineSaga({ name: 'retry' }).step('s', {
      retry: { retries: 2, minTimeout: 5, maxTimeout: 5 },
      run: () => {
        attempts += 1;
        if (attempts < 3) throw new Error('flaky');
        return 'ok';
      },
    });
    sagas = createSagas({ store: opened.store, sagas: [saga] });
    expect((await sagas.run(saga, {}, { id: 'r' })).status).toBe('completed');
    expect(opened.calls).toEqual(['create', 'save', 'save', 'save', 'save', 'save', 'get']);
  });

  it('compensating costs one write for the failure, then one per compensation (the last also ends the saga)', async () => {
    opened = await kind.open();
    const saga = defineSaga({ name: 'undo' })
      .step('a', { run: () => 'a', compensate: () => {} })
      .step('b', { run: () => 'b', compensate: () => {} })
      .step('c', {
        run: () => {
          throw new NonRetryableError('declined');
        },
      });
    sagas = createSagas({ store: opened.store, sagas: [saga] });
    expect((await sagas.run(saga, {}, { id: 'u' })).status).toBe('compensated');
    // create; a, b (each with the next intent); the failure with b's undo intent; undo b (with
    // a's undo intent); undo a, which also records 'compensated'.
    expect(opened.calls).toEqual(['create', 'save', 'save', 'save', 'save', 'save', 'get']);
  });

  it('a first group in parallel has its intents in the INSERT: k branches cost k writes after it', async () => {
    opened = await kind.open();
    // Branches finishing apart: each result is its own write (ones finishing together may share).
    const after = (ms: number, value: string) => () =>
      new Promise<string>((resolve) => setTimeout(() => resolve(value), ms));
    const saga = defineSaga({ name: 'fanout' }).parallel((group) =>
      group
        .step('a', { run: after(5, 'a') })
        .step('b', { run: after(40, 'b') })
        .step('c', { run: after(80, 'c') }),
    );
    const logger = recordingLogger();
    sagas = createSagas({ store: opened.store, sagas: [saga], logger });
    const state = await sagas.run(saga, {}, { id: 'fan' });
    expect(state.output).toEqual({ a: 'a', b: 'b', c: 'c' });
    expect(opened.calls).toEqual(['create', 'save', 'save', 'save', 'get']);
    // Branches finishing together: no write of the run is refused, and it ends as completed.
    expect(logger.lines.map((line) => line.fields.event)).toEqual([
      'saga.started',
      'saga.completed',
    ]);
  });

  it.each([2, 3, 4])('a parallel group of %i branches costs one write per branch', async (k) => {
    opened = await kind.open();
    const saga = defineSaga({ name: `par${k}` })
      .step('first', { run: () => 'first' })
      // Branch names are only known at run time here: the group's type is left open.
      .parallel((group) => {
        let branches = group as unknown as { step(name: string, options: object): typeof branches };
        for (let i = 0; i < k; i += 1) branches = branches.step(`b${i}`, { run: () => i });
        return branches as unknown as typeof group;
      })
      .step('last', { run: () => 'last' });
    sagas = createSagas({ store: opened.store, sagas: [saga] });
    const state = await sagas.run(saga, {}, { id: `par-${k}` });
    expect(state.status).toBe('completed');
    // INSERT, first (opens the group's k intents), k branches (the last opens 'last'), last.
    expect(opened.calls).toEqual(['create', 'save', ...Array(k).fill('save'), 'save', 'get']);
    if (kind.name !== 'memory') {
      expect(opened.statements.filter((s) => statementKind(s) === 'save')).toHaveLength(k + 2);
      expect(opened.statements.filter((s) => statementKind(s) === 'claim')).toHaveLength(0);
    }
  });
});
