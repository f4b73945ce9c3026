import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { createMemoryBackend } from '../adapters/memory/memory-backend.js';
import { createMemoryEntityStore } from '../adapters/memory/memory-entity-store.js';
import { createEntities } from './entities/index.js';
import { defineMachine } from './index.js';

const payment = defineMachine({
  id: 'payment',
  initial: 'pending',
  data: z.object({ amount: z.number(), transactionId: z.string().optional() }),
  effects: ['sendReceipt'],
  events: {
    start: null,
    succeeded: z.object({ transactionId: z.string() }),
  },
  states: {
    pending: { on: { start: 'processing' } },
    processing: {
      on: {
        succeeded: {
          target: 'charged',
          guard: (data, event) => {
            expectTypeOf(data.amount).toEqualTypeOf<number>();
            expectTypeOf(event.payload.transactionId).toEqualTypeOf<string>();
            return true;
          },
          assign: (data, event) => ({ ...data, transactionId: event.payload.transactionId }),
          effects: ['sendReceipt'],
        },
      },
    },
    charged: { terminal: true },
  },
});

describe('state machine types', () => {
  it('infers states, events, data and effects from the definition', () => {
    const snapshot = payment.initialSnapshot({ amount: 5 });
    expectTypeOf(snapshot.state).toEqualTypeOf<'pending' | 'processing' | 'charged'>();
    const result = payment.transition(snapshot, { type: 'start' });
    expectTypeOf(result.effects).toEqualTypeOf<readonly 'sendReceipt'[]>();
    expectTypeOf(result.snapshot.data).toEqualTypeOf<{
      amount: number;
      transactionId?: string | undefined;
    }>();
    // @ts-expect-error an event the machine does not declare
    payment.transition(snapshot, { type: 'refund' });
    // @ts-expect-error the payload is required by the event's schema
    payment.transition(snapshot, { type: 'succeeded' });
    // @ts-expect-error the data is required by the data schema
    payment.initialSnapshot();
  });

  it('rejects unknown targets, initial states and effect names', () => {
    defineMachine({
      id: 'x',
      // @ts-expect-error not a state
      initial: 'nowhere',
      events: { go: null },
      states: { a: { on: { go: 'a' } } },
    });
    defineMachine({
      id: 'x',
      initial: 'a',
      events: { go: null },
      // @ts-expect-error target is not a state
      states: { a: { on: { go: 'b' } } },
    });
    defineMachine({
      id: 'x',
      initial: 'a',
      effects: ['known'],
      events: { go: null },
      // @ts-expect-error effect not declared in config.effects
      states: { a: { on: { go: { target: 'a', effects: ['unknown'] } } } },
    });
  });

  it('types entities from the machine', async () => {
    const store = createMemoryEntityStore({ backend: createMemoryBackend() });
    const payments = createEntities({ machine: payment, store });
    const { entity, effects } = await payments.apply('p1', { type: 'start' });
    expectTypeOf(entity.state).toEqualTypeOf<'pending' | 'processing' | 'charged'>();
    expectTypeOf(entity.data.amount).toEqualTypeOf<number>();
    expectTypeOf(effects).toEqualTypeOf<readonly 'sendReceipt'[]>();
    // @ts-expect-error data is required
    await payments.create('p2');
    const decided = await payments.applyWithRetry('p1', (current) =>
      current.state === 'charged' ? undefined : { type: 'start' },
    );
    expectTypeOf<undefined>().toExtend<typeof decided>();
    expectTypeOf(decided?.entity.state).toEqualTypeOf<
      'pending' | 'processing' | 'charged' | undefined
    >();
  });
});
