import { afterEach, expect, it } from 'vitest';
import { failure } from '../../test/support/failures.js';
import { describeEachSagaStore, eventually, sagaTestBed } from '../../test/support/saga-engines.js';
import { defineSaga, NonRetryableError } from './index.js';

const bed = sagaTestBed();
afterEach(() => bed.cleanup());
const fast = { retries: 0 } as const;

describeEachSagaStore('saga compensation and redrive', (kind) => {
  const store = async () => (await bed.store(kind)).store;

  it('undoes started steps in reverse start order (parallel branches too), each told its outcome and keys', async () => {
    const undo: unknown[] = [];
    const compensate = (name: string) => ({
      compensate: (c: {
        outcome: string;
        output: unknown;
        stepIdempotencyKey: string;
        idempotencyKey: string;
      }) => {
        undo.push([name, c.outcome, c.output, c.stepIdempotencyKey, c.idempotencyKey]);
      },
    });
    const saga = defineSaga({ name: 'order' })
      .step('a', { run: () => ({ id: 'A' }), ...compensate('a') })
      .parallel((group) =>
        group
          // Still running when its sibling fails for good: aborted, its outcome unknown.
          .step('b', {
            run: ({ signal }) =>
              new Promise((_, reject) =>
                signal.addEventListener('abort', () => reject(signal.reason)),
              ),
            ...compensate('b'),
          })
          .step('c', {
            run: async () => {
              await new Promise((resolve) => setTimeout(resolve, 20));
              throw new NonRetryableError('declined');
            },
            ...compensate('c'),
          })
          .step('noUndo', { run: () => 'x' }),
      )
      .step('never', { run: () => 'n', ...compensate('never') });
    const state = await bed
      .engine({ store: await store(), sagas: [saga] })
      .run(saga, {}, { id: 'o1' });
    expect(state.status).toBe('compensated');
    expect(state.failure).toMatchObject({ step: 'c', phase: 'run', message: 'declined' });
    expect(undo).toEqual([
      ['c', 'failed', undefined, 'order/o1/c', 'order/o1/c/compensate'],
      ['b', 'unknown', undefined, 'order/o1/b', 'order/o1/b/compensate'],
      ['a', 'completed', { id: 'A' }, 'order/o1/a', 'order/o1/a/compensate'],
    ]);
    expect(state.steps.map((s) => [s.step, s.compensation?.status])).toEqual([
      ['a', 'completed'],
      ['b', 'completed'],
      ['c', 'completed'],
      ['noUndo', undefined],
    ]);
  });

  it('a failing compensation dead-letters the saga; a redrive by id resumes from it, not re-running earlier ones', async () => {
    let refundUp = false;
    const runs: string[] = [];
    const keys: string[] = [];
    const undo = (name: string, fails = false) => ({
      compensationRetry: fast,
      compensate: ({ idempotencyKey }: { idempotencyKey: string }) => {
        runs.push(name);
        keys.push(idempotencyKey);
        if (fails && !refundUp) throw new Error('refund service down');
      },
    });
    const saga = defineSaga({ name: 'pay' })
      .step('a', { run: () => 1, ...undo('a') })
      .step('b', { run: () => 2, ...undo('b', true) })
      .step('c', { run: () => 3, ...undo('c') })
      .step('d', {
        run: () => {
          throw new NonRetryableError('declined');
        },
      });
    const sagas = bed.engine({ store: await store(), sagas: [saga] });
    const dead = await sagas.run(saga, {}, { id: 'p1' });
    expect(dead.status).toBe('compensation_failed');
    expect(dead.deadLettered).toBe(true);
    expect(dead.error).toMatchObject({
      step: 'b',
      phase: 'compensate',
      message: 'refund service down',
    });
    expect(runs).toEqual(['c', 'b']);
    expect((await sagas.deadLetters()).sagas.map((s) => s.id)).toEqual(['p1']);
    refundUp = true;
    expect(await sagas.redrive('p1')).toEqual({ id: 'p1' });
    const after = await sagas.wait('p1');
    expect(after.status).toBe('compensated');
    expect(after.redrives).toBe(1);
    expect(after.error).toBeUndefined();
    expect(runs).toEqual(['c', 'b', 'b', 'a']);
    expect(keys[1]).toBe(keys[2]);
    expect((await sagas.deadLetters()).sagas).toEqual([]);
  });

  it("a failed saga (onFailure 'dead-letter') is redriven from the failed step, earlier steps kept", async () => {
    let shipUp = false;
    const calls: string[] = [];
    const saga = defineSaga({ name: 'ship' })
      .step('charge', {
        run: () => {
          calls.push('charge');
          return { charged: 42 };
        },
        compensate: () => {
          calls.push('refund');
        },
      })
      .step('dispatch', {
        onFailure: 'dead-letter',
        retry: { retries: 1, minTimeout: 1, maxTimeout: 1 },
        run: ({ steps, idempotencyKey, attempt }) => {
          calls.push(`dispatch#${attempt}:${idempotencyKey}:${steps.charge.charged}`);
          if (!shipUp) throw new Error('carrier down');
          return 'shipped';
        },
      });
    const sagas = bed.engine({ store: await store(), sagas: [saga] });
    const dead = await sagas.run(saga, {}, { id: 's1' });
    expect(dead.status).toBe('failed');
    expect(dead.error).toMatchObject({ step: 'dispatch', phase: 'run', message: 'carrier down' });
    expect(dead.steps[1]!.status).toBe('failed');
    shipUp = true;
    await sagas.redrive('s1');
    const after = await sagas.wait('s1');
    expect(after.status).toBe('completed');
    expect(after.output).toEqual({ charge: { charged: 42 }, dispatch: 'shipped' });
    expect(calls).toEqual([
      'charge',
      'dispatch#1:ship/s1/dispatch:42',
      'dispatch#2:ship/s1/dispatch:42',
      'dispatch#3:ship/s1/dispatch:42',
    ]);
  });

  it('redrives a batch by name, leaving other definitions in the queue', async () => {
    let up = false;
    const failing = (name: string) =>
      defineSaga({ name }).step('s', {
        onFailure: 'dead-letter',
        retry: fast,
        run: () => {
          if (!up) throw new Error('down');
          return 'ok';
        },
      });
    const x = failing('x');
    const y = failing('y');
    const sagas = bed.engine({ store: await store(), sagas: [x, y] });
    for (const id of ['x1', 'x2']) await sagas.run(x, {}, { id });
    await sagas.run(y, {}, { id: 'y1' });
    expect((await sagas.deadLetters()).sagas.map((s) => s.id)).toEqual(['x1', 'x2', 'y1']);
    up = true;
    const report = await sagas.redrive({ name: 'x' });
    expect([...report.redriven].sort()).toEqual(['x1', 'x2']);
    await eventually(async () =>
      (await sagas.list({ status: 'completed' })).sagas.length === 2 ? true : undefined,
    );
    expect((await sagas.deadLetters()).sagas.map((s) => s.id)).toEqual(['y1']);
    expect((await sagas.deadLetters({ name: 'x' })).sagas).toEqual([]);
  });

  it('refuses to redrive a saga that is not dead-lettered, or does not exist', async () => {
    const saga = defineSaga({ name: 'ok' }).step('s', { run: () => 1 });
    const sagas = bed.engine({ store: await store(), sagas: [saga] });
    await sagas.run(saga, {}, { id: 'fine' });
    const notDead = await failure(sagas.redrive('fine'));
    expect(notDead.code).toBe('SAGA_NOT_DEAD_LETTERED');
    expect(notDead.details).toMatchObject({ sagaId: 'fine', status: 'completed' });
    const missing = await failure(sagas.redrive('nope'));
    expect(missing.code).toBe('SAGA_NOT_FOUND');
    expect(missing.details).toMatchObject({ sagaId: 'nope' });
  });
});
