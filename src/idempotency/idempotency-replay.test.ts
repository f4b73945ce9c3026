/**
 * The first call and every replay return equal values: with the default serializer both are the
 * result's JSON round trip, a result JSON would alter is refused (the key released), and a
 * `resultSchema` or a custom serializer revives richer values on both paths.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createMemoryBackend } from '../adapters/memory/memory-backend.js';
import { createMemoryIdempotencyStore } from '../adapters/memory/memory-idempotency-store.js';
import { createSqliteBackend } from '../adapters/sqlite/sqlite-backend.js';
import { createSqliteIdempotencyStore } from '../adapters/sqlite/sqlite-idempotency-store.js';
import { isFlowproofError } from '../core/errors.js';
import { createDedupe } from './dedupe.js';
import { createIdempotency } from './idempotency.js';
import type { IdempotencyStore } from './idempotency-store.js';

async function memoryStore(): Promise<IdempotencyStore> {
  const store = createMemoryIdempotencyStore({ backend: createMemoryBackend() });
  await store.migrate();
  return store;
}

async function sqliteStore(): Promise<IdempotencyStore> {
  const store = createSqliteIdempotencyStore({
    backend: createSqliteBackend({ database: new Database(':memory:') }),
  });
  await store.migrate();
  return store;
}

const stores: [string, () => Promise<IdempotencyStore>][] = [
  ['memory', memoryStore],
  ['SQLite', sqliteStore],
];

describe.each(stores)('first call and replays are equal (%s)', (_, open) => {
  it('for any JSON value, with and without the in-process cache', async () => {
    const store = await open();
    const plain = createIdempotency({ store, operation: 'plain', scope: () => ({}) });
    const cached = createIdempotency({
      store,
      operation: 'cached',
      scope: () => ({}),
      cache: { maxEntries: 100 },
    });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        n += 1;
        for (const idempotency of [plain, cached]) {
          const first = await idempotency.run(`k${n}`, null, () => value);
          const replays = [
            await idempotency.run(`k${n}`, null, () => 'not again'),
            await idempotency.run(`k${n}`, null, () => 'not again'),
          ];
          for (const replay of replays) expect(replay).toStrictEqual(first);
          // What JSON gives back, +0 for -0 included.
          expect(first).toStrictEqual(JSON.parse(JSON.stringify(value)));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('for values with toJSON (a Date is its ISO string on both paths)', async () => {
    const idempotency = createIdempotency({
      store: await open(),
      operation: 'op',
      scope: () => ({}),
    });
    const fn = () => ({ at: new Date(0), items: [{ due: new Date(86_400_000) }], gone: undefined });
    const first = await idempotency.run('d', null, fn);
    expect(first).toStrictEqual({
      at: '1970-01-01T00:00:00.000Z',
      items: [{ due: '1970-01-02T00:00:00.000Z' }],
    });
    expect(await idempotency.run('d', null, fn)).toStrictEqual(first);
  });

  it('refuses a result JSON would alter, releasing the key so a retry runs', async () => {
    const store = await open();
    const idempotency = createIdempotency({ store, operation: 'op', scope: () => ({}) });
    class Money {
      constructor(readonly cents: number) {}
    }
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const altered: [unknown, string][] = [
      [new Map([['a', 1]]), '$'],
      [{ tags: new Set(['a']) }, '$.tags'],
      [{ price: new Money(5) }, '$.price'],
      [{ id: 10n }, '$.id'],
      [[1, undefined], '$[1]'],
      [{ ratio: Number.NaN }, '$.ratio'],
      [{ onClick: () => 1 }, '$.onClick'],
      [cycle, '$.self'],
      [new Uint8Array([1]), '$'],
    ];
    let i = 0;
    for (const [value, path] of altered) {
      i += 1;
      let runs = 0;
      const error = await idempotency
        .run(`bad${i}`, null, () => {
          runs += 1;
          return value;
        })
        .catch((e: unknown) => e);
      expect(isFlowproofError(error, 'IDEMPOTENCY_RESULT_UNENCODABLE')).toBe(true);
      expect((error as { details: unknown }).details).toMatchObject({ operation: 'op', path });
      expect(await idempotency.run(`bad${i}`, null, () => 'retried')).toBe('retried');
      expect(runs).toBe(1);
    }
  });

  it('a resultSchema revives richer values on the first call and on replays', async () => {
    const idempotency = createIdempotency({
      store: await open(),
      operation: 'op',
      scope: () => ({}),
    });
    const resultSchema = z.object({ id: z.string(), at: z.coerce.date() });
    // The schema's output, not fn's value: `internal` is stripped on both paths.
    const fn = () => ({ id: 'o1', at: new Date(5), internal: 'x' });
    const first = await idempotency.run('s', null, fn, { resultSchema });
    expect(first).toStrictEqual({ id: 'o1', at: new Date(5) });
    expect(await idempotency.run('s', null, fn, { resultSchema })).toStrictEqual(first);
  });

  it('a result the resultSchema refuses is not stored, and the key is released', async () => {
    const idempotency = createIdempotency({
      store: await open(),
      operation: 'op',
      scope: () => ({}),
    });
    const resultSchema = z.object({ id: z.string() });
    await expect(
      idempotency.run('v', null, () => ({ id: 1 }), { resultSchema }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await idempotency.run('v', null, () => ({ id: 'ok' }), { resultSchema })).toEqual({
      id: 'ok',
    });
  });

  it('a custom serializer revives on both paths', async () => {
    const idempotency = createIdempotency({
      store: await open(),
      operation: 'op',
      scope: () => ({}),
      serializer: {
        // Lower-cases keys: the first call must see that too, as replays do.
        serialize: (value) =>
          JSON.stringify([...(value as Map<string, number>)].map(([k, v]) => [k.toLowerCase(), v])),
        deserialize: (text) => new Map(JSON.parse(text) as [string, number][]),
      },
    });
    const first = await idempotency.run('m', null, () => new Map([['A', 1]]));
    expect(first).toStrictEqual(new Map([['a', 1]]));
    expect(await idempotency.run('m', null, () => new Map([['b', 2]]))).toStrictEqual(first);
  });

  it('runInTransaction and dedupe return the round trip too', async () => {
    const store = await open();
    const idempotency = createIdempotency({ store, operation: 'op', scope: () => ({}) });
    const first = await idempotency.runInTransaction('t', null, async () => ({ at: new Date(0) }));
    expect(first).toStrictEqual({ at: '1970-01-01T00:00:00.000Z' });
    expect(await idempotency.runInTransaction('t', null, async () => 'no')).toStrictEqual(first);
    const inbox = createDedupe({ store });
    const handled = await inbox.dedupe('m', () => ({ at: new Date(0) }));
    expect(handled.value).toStrictEqual({ at: '1970-01-01T00:00:00.000Z' });
    expect((await inbox.dedupe('m', () => 'no')).value).toStrictEqual(handled.value);
  });

  it('callers never share a copy: mutating one result changes no other', async () => {
    const idempotency = createIdempotency({
      store: await open(),
      operation: 'op',
      scope: () => ({}),
      cache: { maxEntries: 10 },
    });
    const original = { items: [{ qty: 1 }] };
    const first = await idempotency.run('c', null, () => original);
    first.items.push({ qty: 99 });
    original.items[0] = { qty: 7 };
    const second = await idempotency.run('c', null, () => original);
    expect(second).toStrictEqual({ items: [{ qty: 1 }] });
    second.items.length = 0;
    expect(await idempotency.run('c', null, () => original)).toStrictEqual({
      items: [{ qty: 1 }],
    });
  });
});

describe('a stored result changed outside flowproof', () => {
  // A server-side fault: STORE_DATA_CORRUPT naming the record, never VALIDATION_FAILED (which
  // applications answer with 400, blaming the client).
  it.each([
    ['not JSON', "'v{not json'"],
    ['not in the stored format', "'?'"],
    ['a malformed stored error', "'e[1,2'"],
  ])('is STORE_DATA_CORRUPT when the result is %s', async (_, corrupted) => {
    const database = new Database(':memory:');
    const store = createSqliteIdempotencyStore({ backend: createSqliteBackend({ database }) });
    await store.migrate();
    const idempotency = createIdempotency({ store, operation: 'orders.create', scope: () => ({}) });
    await idempotency.run('key-1', { n: 1 }, () => ({ id: 'o-1' }));
    database.prepare(`UPDATE flowproof_idempotency_keys SET result = ${corrupted}`).run();
    const replay = idempotency.run('key-1', { n: 1 }, () => ({ id: 'o-2' }));
    await expect(replay).rejects.toMatchObject({
      name: 'FlowproofError',
      code: 'STORE_DATA_CORRUPT',
      details: { backend: 'sqlite', component: 'idempotency', field: expect.any(String) },
    });
  });
});
