import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  createPostgresBackend,
  createPostgresIdempotencyStore,
  type PostgresBackend,
} from '../adapters/postgres/index.js';
import { createDedupe, createIdempotency } from '../idempotency/index.js';
import { createMessageConsumer } from './index.js';

const topics = { 'order.created': z.object({ orderId: z.string(), total: z.coerce.number() }) };
const store = createPostgresIdempotencyStore({
  backend: createPostgresBackend({ client: { query: async () => ({ rows: [] }) } }),
});

describe('createMessageConsumer types', () => {
  it('types each payload by its topic schema output', () => {
    createMessageConsumer({
      name: 'billing',
      topics,
      handlers: {
        'order.created': (message) => {
          expectTypeOf(message.payload).toEqualTypeOf<{ orderId: string; total: number }>();
        },
      },
    });
  });

  it('refuses a handler for a topic without a schema', () => {
    createMessageConsumer({
      name: 'billing',
      topics,
      // @ts-expect-error: not a topic of `topics`
      handlers: { 'order.shipped': () => {} },
    });
  });

  it('types context.transaction by the Idempotency inbox store', () => {
    createMessageConsumer({
      name: 'billing',
      inbox: createIdempotency({ store }),
      handlers: {
        a: (_message, context) => {
          expectTypeOf(context.transaction).toEqualTypeOf<PostgresBackend>();
        },
      },
    });
  });

  it('gives no transaction with a Dedupe inbox or none', () => {
    createMessageConsumer({
      name: 'billing',
      inbox: createDedupe({ store }),
      handlers: {
        a: (message, context) => {
          expectTypeOf(message.payload).toBeUnknown();
          expectTypeOf(context.transaction).toEqualTypeOf<undefined>();
        },
      },
    });
    createMessageConsumer({
      name: 'billing',
      handlers: {
        a: (_message, context) => {
          expectTypeOf(context.transaction).toEqualTypeOf<undefined>();
        },
      },
    });
  });
});
