import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  createSagas,
  defineSaga,
  type SagaInput,
  type SagaOutputs,
  type SagaState,
  type SagaStore,
} from './index.js';

declare const store: SagaStore;

describe('saga definitions are typed step by step', () => {
  it('a step sees the outputs before it as stored (JSON: a Date is a string)', () => {
    defineSaga({ name: 'order' })
      .step('reserve', { run: () => ({ id: 'r1', at: new Date(), qty: 2 }) })
      .step('charge', {
        run: ({ steps, idempotencyKey, attempt, signal, sagaId }) => {
          expectTypeOf(steps.reserve).toEqualTypeOf<{ id: string; at: string; qty: number }>();
          expectTypeOf(idempotencyKey).toEqualTypeOf<string>();
          expectTypeOf(attempt).toEqualTypeOf<number>();
          expectTypeOf(signal).toEqualTypeOf<AbortSignal>();
          expectTypeOf(sagaId).toEqualTypeOf<string>();
          // @ts-expect-error a later step's output is not there yet
          steps.charge;
          return 42;
        },
        compensate: ({ output, outcome, steps }) => {
          expectTypeOf(output).toEqualTypeOf<number | undefined>();
          expectTypeOf(outcome).toEqualTypeOf<'completed' | 'failed' | 'unknown'>();
          expectTypeOf(steps.reserve).toEqualTypeOf<
            { id: string; at: string; qty: number } | undefined
          >();
        },
      });
  });

  it('parallel branches see the steps before the group, not each other; later steps see them all', () => {
    const saga = defineSaga({ name: 'trip' })
      .step('book', { run: () => 'b' as const })
      .parallel((group) =>
        group
          .step('hotel', {
            run: ({ steps }) => {
              expectTypeOf(steps.book).toEqualTypeOf<'b'>();
              // @ts-expect-error a sibling branch's output is not there
              steps.car;
              return { room: 12 };
            },
          })
          .step('car', { run: () => ({ plate: 'X', when: new Date() }) }),
      )
      .step('confirm', {
        run: ({ steps }) => {
          expectTypeOf(steps.hotel).toEqualTypeOf<{ room: number }>();
          expectTypeOf(steps.car).toEqualTypeOf<{ plate: string; when: string }>();
          return true;
        },
      });
    expectTypeOf<SagaOutputs<typeof saga>['confirm']>().toEqualTypeOf<boolean>();
    expectTypeOf<SagaOutputs<typeof saga>['car']>().toEqualTypeOf<{
      plate: string;
      when: string;
    }>();
  });

  it('a duplicate step name is a type error', () => {
    const saga = defineSaga({ name: 'dup' }).step('a', { run: () => 1 });
    // @ts-expect-error 'a' is already a step
    saga.step('a', { run: () => 2 });
    saga.step('b', { run: () => 2 });
  });

  it('the input is typed from the schema, in steps and at start', async () => {
    const saga = defineSaga({
      name: 'typed',
      input: z.object({ sku: z.string(), qty: z.number() }),
    }).step('a', {
      run: ({ input }) => {
        expectTypeOf(input).toEqualTypeOf<{ sku: string; qty: number }>();
        return input.qty;
      },
    });
    expectTypeOf<SagaInput<typeof saga>>().toEqualTypeOf<{ sku: string; qty: number }>();
    const sagas = createSagas({ store, sagas: [saga] });
    await sagas.start(saga, { sku: 'x', qty: 1 });
    // @ts-expect-error qty must be a number
    await sagas.start(saga, { sku: 'x', qty: '1' });
    const state = await sagas.run(saga, { sku: 'x', qty: 1 });
    expectTypeOf(state).toEqualTypeOf<SagaState<SagaOutputs<typeof saga>>>();
    expectTypeOf(state.output?.a).toEqualTypeOf<number | undefined>();
  });

  it('a saga without schema takes unknown input', () => {
    defineSaga({ name: 'any' }).step('a', {
      run: ({ input }) => {
        expectTypeOf(input).toEqualTypeOf<unknown>();
      },
    });
  });
});
