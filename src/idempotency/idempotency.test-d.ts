import express from 'express';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import type { MemoryIdempotencyStore } from '../adapters/memory/memory-idempotency-store.js';
import type { PostgresBackend } from '../adapters/postgres/postgres-backend.js';
import type { PostgresIdempotencyStore } from '../adapters/postgres/postgres-idempotency-store.js';
import type { Dedupe, DedupeResult } from './dedupe.js';
import { createHttpIdempotency, type HttpIdempotency } from './http/http-idempotency.js';
import { createNodeIdempotencyMiddleware, type NodeRequest } from './http/node-middleware.js';
import { createIdempotency } from './idempotency.js';
import type { Jsonify } from './json-result.js';

declare const postgresStore: PostgresIdempotencyStore;
declare const memoryStore: MemoryIdempotencyStore;
declare const inbox: Dedupe;
declare const http: HttpIdempotency;

describe('run() is typed as what comes back', () => {
  it('the JSON form by default: a Date is a string, first call and replays alike', () => {
    const idempotency = createIdempotency({ store: memoryStore, operation: 'op' });
    const order = idempotency.run('k', {}, () => ({ id: 'o1', at: new Date(), n: 1 }));
    expectTypeOf(order).resolves.toEqualTypeOf<{ id: string; at: string; n: number }>();
    expectTypeOf<Jsonify<{ tags: Set<string>; m: Map<string, number> }>>().toEqualTypeOf<{
      tags: never;
      m: never;
    }>();
    expectTypeOf<Jsonify<undefined>>().toEqualTypeOf<undefined>();
    expectTypeOf<Jsonify<readonly Date[]>>().toEqualTypeOf<string[]>();
  });

  it("a resultSchema's output when one is given", () => {
    const idempotency = createIdempotency({ store: memoryStore, operation: 'op' });
    const schema = z.object({ id: z.string(), at: z.coerce.date() });
    expectTypeOf(
      idempotency.run('k', {}, () => ({ id: 'o1', at: new Date() }), { resultSchema: schema }),
    ).resolves.toEqualTypeOf<{ id: string; at: Date }>();
  });

  it("fn's own type with a custom serializer, which revives it", () => {
    const idempotency = createIdempotency({
      store: memoryStore,
      operation: 'op',
      serializer: { serialize: String, deserialize: (text) => new Date(text) },
    });
    expectTypeOf(idempotency.run('k', {}, () => new Date())).resolves.toEqualTypeOf<Date>();
  });

  it("dedupe's value is the JSON form", () => {
    expectTypeOf(inbox.dedupe('m', () => ({ at: new Date() }))).resolves.toEqualTypeOf<
      DedupeResult<{ at: string }>
    >();
  });
});

describe('runInTransaction types tx by the store', () => {
  it('PostgreSQL: tx is the PostgresBackend, with query', () => {
    const idempotency = createIdempotency({ store: postgresStore, operation: 'op' });
    void idempotency.runInTransaction('k', {}, async (tx) => {
      expectTypeOf(tx).toEqualTypeOf<PostgresBackend>();
      const [row] = await tx.query<{ id: string }>('SELECT 1 AS id');
      return row;
    });
  });
});

describe('HTTP adapters keep the framework typing', () => {
  it("a route's Express handler after the middleware keeps req.body as Express types it", () => {
    const app = express();
    app.post('/orders', createNodeIdempotencyMiddleware(http), (req, res) => {
      expectTypeOf(req.body).toBeAny();
      res.end();
    });
  });

  it('scope reads the declared framework request', () => {
    type Authed = NodeRequest & { user?: { id: string } };
    createHttpIdempotency<Authed>({
      idempotency: createIdempotency({ store: memoryStore }),
      scope: ({ raw }) => {
        expectTypeOf(raw.user).toEqualTypeOf<{ id: string } | undefined>();
        return { principal: raw.user?.id };
      },
    });
  });
});
