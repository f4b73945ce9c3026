/**
 * Every public entry of the idempotency module checks what it is given: misspelled options are
 * refused by name, odd arguments are a `TypeError` naming them (or a documented
 * `FlowproofError`), never an engine error from deep inside.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { overrideStore } from '../../test/support/stores.js';
import { createMemoryBackend } from '../adapters/memory/memory-backend.js';
import { createMemoryIdempotencyStore } from '../adapters/memory/memory-idempotency-store.js';
import { createSqliteBackend } from '../adapters/sqlite/sqlite-backend.js';
import { createSqliteIdempotencyStore } from '../adapters/sqlite/sqlite-idempotency-store.js';
import { FlowproofError, isFlowproofError } from '../core/errors.js';
import { createDedupe } from './dedupe.js';
import { canonicalJson, fingerprint } from './fingerprint.js';
import { fastifyIdempotency } from './http/fastify-plugin.js';
import { withFetchIdempotency } from './http/fetch-handler.js';
import { createHttpIdempotency, parseIdempotencyKey } from './http/http-idempotency.js';
import { createNodeIdempotencyMiddleware } from './http/node-middleware.js';
import { createIdempotency } from './idempotency.js';
import type { IdempotencyStore } from './idempotency-store.js';
import { scopedKey } from './scope.js';
import { createLock } from './with-lock.js';

async function memoryStore() {
  const store = createMemoryIdempotencyStore({ backend: createMemoryBackend() });
  await store.migrate();
  return store;
}

/** The store's `transaction` method, which the stores used here all have. */
function transactionOf<Tx>(store: IdempotencyStore<Tx>) {
  const { transaction } = store;
  if (!transaction) throw new Error(`the ${store.kind} store has no transactions`);
  return transaction.bind(store) as <T>(
    fn: (store: IdempotencyStore<Tx>, tx: Tx) => Promise<T>,
  ) => Promise<T>;
}

/** What an entry threw, or `'returned'`. */
async function outcome(call: () => unknown): Promise<unknown> {
  try {
    await call();
    return 'returned';
  } catch (error) {
    return error;
  }
}

/**
 * True when `error` is one flowproof raised on purpose: a `FlowproofError`, or a `TypeError` whose
 * message names what was wrong (an argument or option), not an engine's message.
 */
function isDeliberate(error: unknown): boolean {
  if (isFlowproofError(error)) return true;
  return (
    error instanceof TypeError &&
    /^(unknown options? |options|request|req|res|next|http|handler|fastify|fn|key|operation|scope|resource|value|strict|messageId|\$)/.test(
      error.message,
    )
  );
}

describe('misspelled options are refused, naming them', () => {
  it('createIdempotency, run, begin, runInTransaction, cleanup and nested objects', async () => {
    const store = await memoryStore();
    expect(() => createIdempotency({ store, leasMs: 10 } as never)).toThrow(
      /unknown option options\.leasMs/,
    );
    expect(() => createIdempotency({ store, cache: { maxEntries: 1, ttl: 5 } } as never)).toThrow(
      /options\.cache\.ttl\b/,
    );
    expect(() => createIdempotency({ store, heartbeat: { intervalMS: 5 } } as never)).toThrow(
      /options\.heartbeat\.intervalMS/,
    );
    expect(() =>
      createIdempotency({ store, wait: { timeoutMs: 1, interval: 1 } } as never),
    ).toThrow(/options\.wait\.interval\b/);
    const idempotency = createIdempotency({ store, operation: 'op' });
    let ran = false;
    await expect(
      idempotency.run('k', 1, () => (ran = true), { operaton: 'x' } as never),
    ).rejects.toThrow(/unknown option options\.operaton/);
    await expect(idempotency.begin('k', 1, { scop: {} } as never)).rejects.toThrow(
      /options\.scop\b/,
    );
    await expect(
      idempotency.runInTransaction('k', 1, async () => (ran = true), { joint: store } as never),
    ).rejects.toThrow(/options\.joint\b/);
    await expect(
      idempotency.run('k', 1, () => (ran = true), { wait: { timeout: 1 } } as never),
    ).rejects.toThrow(/options\.wait\.timeout\b/);
    await expect(idempotency.cleanup({ batchsize: 1 } as never)).rejects.toThrow(
      /options\.batchsize/,
    );
    expect(ran).toBe(false);
  });

  it('createDedupe, createLock and withLock', async () => {
    const store = await memoryStore();
    expect(() => createDedupe({ store, consumr: 'x' } as never)).toThrow(/options\.consumr/);
    expect(() => createLock({ store, leasMs: 10 } as never)).toThrow(/options\.leasMs/);
    const locks = createLock({ store });
    let ran = false;
    await expect(locks.withLock('r', () => (ran = true), { waitMS: 1 } as never)).rejects.toThrow(
      /options\.waitMS/,
    );
    expect(ran).toBe(false);
  });

  it('the HTTP layer and its adapters', async () => {
    const idempotency = createIdempotency({ store: await memoryStore() });
    expect(() => createHttpIdempotency({ idempotency, requird: false } as never)).toThrow(
      /options\.requird/,
    );
    const http = createHttpIdempotency({ idempotency, scope: () => ({}) });
    expect(() => createNodeIdempotencyMiddleware(http, { readbody: false } as never)).toThrow(
      /options\.readbody/,
    );
    expect(() =>
      withFetchIdempotency(http, async () => new Response(), { maxBody: 1 } as never),
    ).toThrow(/options\.maxBody\b/);
    const fastify = { addHook: () => undefined };
    await expect(fastifyIdempotency(fastify, { http, requird: false } as never)).rejects.toThrow(
      /options\.requird/,
    );
  });
});

describe('odd arguments are TypeErrors naming them', () => {
  it('scopedKey checks its parts', () => {
    expect(() => scopedKey('op', 'k', { tenant: 5 } as never)).toThrow(
      new TypeError('scope.tenant must be a string, got number'),
    );
    expect(() => scopedKey(5 as never, 'k')).toThrow(/^operation must be/);
    expect(() => scopedKey('op', undefined as never)).toThrow(/^key must be/);
    expect(() => scopedKey('op', 'k', null as never)).toThrow(/^scope must be an object/);
  });

  it('fastifyIdempotency without an instance', async () => {
    const http = createHttpIdempotency({
      idempotency: createIdempotency({ store: await memoryStore() }),
      scope: () => ({}),
    });
    await expect(fastifyIdempotency(undefined as never, { http })).rejects.toThrow(
      /^fastify must be a Fastify instance/,
    );
  });

  it('a fetch handler called with something other than a Request', async () => {
    const http = createHttpIdempotency({
      idempotency: createIdempotency({ store: await memoryStore() }),
      scope: () => ({}),
    });
    const handler = withFetchIdempotency(http, async () => new Response('ok'));
    await expect(handler({} as never)).rejects.toThrow(/^request must be a fetch Request/);
    await expect(handler(undefined as never)).rejects.toThrow(/^request must be a fetch Request/);
    // A Request of another class (a polyfill) is taken by its shape; a relative URL is not one.
    const relative = { url: '/orders', method: 'POST', headers: new Headers(), clone: () => null };
    await expect(handler(relative as never)).rejects.toThrow(
      new TypeError('request.url must be an absolute URL'),
    );
  });

  it("a claim's fail() checks its outcome", async () => {
    const idempotency = createIdempotency({ store: await memoryStore(), operation: 'op' });
    const begun = await idempotency.begin('k', 1, { scope: {} });
    if (begun.type !== 'claimed') throw new Error('expected a claim');
    await expect(begun.claim.fail(new Error('x'), 'keep' as never)).rejects.toThrow(
      /^outcome must be 'store' or 'release'/,
    );
    await begun.claim.release();
  });

  it('no public entry lets an engine error escape, whatever it is given', async () => {
    const store = await memoryStore();
    const idempotency = createIdempotency({ store, operation: 'op' });
    const http = createHttpIdempotency({ idempotency, scope: () => ({}) });
    const fetchHandler = withFetchIdempotency(http, async () => new Response('ok'));
    const nodeMiddleware = createNodeIdempotencyMiddleware(http);
    const locks = createLock({ store });
    const inbox = createDedupe({ store });
    const entries: [string, (a: unknown, b: unknown) => unknown][] = [
      ['createIdempotency', (a) => createIdempotency(a as never)],
      ['createIdempotency({store, …})', (a) => createIdempotency({ store, ...(a as object) })],
      ['run', (a, b) => idempotency.run(a as never, b, () => 1)],
      ['run options', (a) => idempotency.run('k', 1, () => 1, a as never)],
      ['begin', (a, b) => idempotency.begin(a as never, b, {})],
      ['runInTransaction', (a) => idempotency.runInTransaction('k', 1, async () => 1, a as never)],
      ['cleanup', (a) => idempotency.cleanup(a as never)],
      ['createDedupe', (a) => createDedupe(a as never)],
      ['dedupe', (a, b) => inbox.dedupe(a as never, b as never)],
      ['createLock', (a) => createLock(a as never)],
      ['withLock', (a, b) => locks.withLock(a as never, () => 1, b as never)],
      ['scopedKey', (a, b) => scopedKey('op', a as never, b as never)],
      ['canonicalJson', (a) => canonicalJson(a)],
      ['fingerprint', (a) => fingerprint(a)],
      ['parseIdempotencyKey', (a, b) => parseIdempotencyKey(a as never, b as never)],
      ['createHttpIdempotency', (a) => createHttpIdempotency(a as never)],
      ['http.begin', (a) => http.begin(a as never)],
      ['http.covers', (a) => http.covers(a as never)],
      ['http.handle', (a, b) => http.handle(a as never, b as never)],
      [
        'createNodeIdempotencyMiddleware',
        (a, b) => createNodeIdempotencyMiddleware(a as never, b as never),
      ],
      ['withFetchIdempotency', (a, b) => withFetchIdempotency(a as never, b as never)],
      ['fetch handler', (a) => fetchHandler(a as never)],
      [
        'node middleware',
        (a, b) =>
          new Promise((resolve, reject) => {
            nodeMiddleware(a as never, b as never, (error?: unknown) =>
              error === undefined ? resolve(undefined) : reject(error),
            );
          }),
      ],
      ['fastifyIdempotency', (a, b) => fastifyIdempotency(a as never, b as never)],
    ];
    const odd = fc.oneof(
      fc.anything(),
      fc.constantFrom(undefined, null, 0, '', Number.NaN, {}, [], () => 1, Symbol('s'), 10n),
    );
    for (const [name, entry] of entries) {
      await fc.assert(
        fc.asyncProperty(odd, odd, async (a, b) => {
          const error = await outcome(() => entry(a, b));
          if (error !== 'returned' && !isDeliberate(error)) {
            throw new Error(`${name} let an engine error escape: ${String(error)}`);
          }
        }),
        { numRuns: 60 },
      );
    }
  });

  it('the HTTP layer refuses malformed request parts by name', async () => {
    const idempotency = createIdempotency({ store: await memoryStore() });
    const http = createHttpIdempotency({ idempotency, scope: () => ({}) });
    const requests = fc.record({
      method: fc.oneof(fc.constantFrom('POST', 'GET'), fc.anything()),
      url: fc.oneof(fc.constantFrom('/orders', '/a?b=1'), fc.anything()),
      headers: fc.dictionary(
        fc.constantFrom('idempotency-key', 'Idempotency-Key', 'content-type'),
        fc.oneof(fc.constantFrom('"k"', 'k'), fc.array(fc.string()), fc.anything()),
      ),
      body: fc.anything(),
    });
    await fc.assert(
      fc.asyncProperty(requests, async (request) => {
        for (const entry of [
          () => http.covers(request as never),
          () => http.begin(request as never),
          () => http.handle(request as never, async () => ({ status: 201, headers: {}, body: '' })),
        ]) {
          const error = await outcome(entry);
          if (error !== 'returned' && !isDeliberate(error)) {
            throw new Error(`an engine error escaped: ${String(error)}`);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('fail(…, "store") inside a transaction', () => {
  const failingComplete = async (): Promise<never> => {
    throw new FlowproofError('BACKEND_ERROR', 'disk full');
  };

  it('surfaces a store failure of a joined transaction, and nothing is committed', async () => {
    const database = new Database(':memory:');
    const backend = createSqliteBackend({ database });
    const store = createSqliteIdempotencyStore({ backend });
    await store.migrate();
    const idempotency = createIdempotency({ store, operation: 'op', onError: () => 'store' });
    database.exec('BEGIN');
    const bound = store.withBackend(backend.joinOpenTransaction());
    const join = overrideStore(bound, {
      complete: failingComplete,
      transaction: (fn) => transactionOf(bound)(fn),
    });
    const error = await outcome(() =>
      idempotency.runInTransaction(
        'k',
        1,
        async () => {
          throw new Error('declined');
        },
        { join },
      ),
    );
    expect(isFlowproofError(error, 'BACKEND_ERROR')).toBe(true);
    database.exec('ROLLBACK');
    expect(await store.get(scopedKey('op', 'k'))).toBeUndefined();
  });

  it('rolls back its own transaction when the stored error cannot be written', async () => {
    const store = await memoryStore();
    const failing = overrideStore(store, {
      transaction: (fn) =>
        transactionOf(store)((inner, tx) =>
          fn(overrideStore(inner, { complete: failingComplete }), tx),
        ),
    });
    const idempotency = createIdempotency({
      store: failing,
      operation: 'op',
      onError: () => 'store',
    });
    const error = await outcome(() =>
      idempotency.runInTransaction('k', 1, async () => {
        throw new Error('declined');
      }),
    );
    expect(isFlowproofError(error, 'BACKEND_ERROR')).toBe(true);
    // No half state: no claim left in progress, so a retry runs.
    expect(await store.get(scopedKey('op', 'k'))).toBeUndefined();
  });
});
