/**
 * The conformance suite of the {@link OutboxStore} port: isolated namespaces and idempotent
 * migrations; batches enqueued in order, all or none, with ids unique; JSON payloads and headers
 * kept exactly (and what JSON cannot hold refused before writing); claims in position order that
 * keep per-key order (a message waits while an earlier one of its key is held, waiting for a
 * retry or not committed yet); fenced writes; retries, dead letters, redrive, purge and stats on
 * the store's clock; enqueues that commit or roll back with the caller's transaction; and racing
 * claimers (across processes where the store allows) that never share a message nor a key. Every
 * outbox store flowproof ships runs it; run it on your own to certify it.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { sleep } from '../core/async.js';
import type { ErrorRecord } from '../core/error-record.js';
import { isFlowproofError } from '../core/errors.js';
import type { StorageBackend } from '../core/storage-backend.js';
import type {
  NewOutboxMessage,
  OutboxClaimRequest,
  OutboxMessageStatus,
  OutboxStore,
  StoredOutboxMessage,
} from '../outbox/outbox-store.js';
import { type CrossProcessTarget, uniqueNamespace } from './backend-conformance.js';
import { runInProcesses } from './multi-process.js';
import { type ConformanceTestApi, caseRunner, importTarget } from './test-api.js';

/** Optional behaviour the suite tests only where the store has it. */
export interface OutboxStoreCapabilities {
  /**
   * The target has `bind`, and a store bound to a transaction's backend enqueues in that
   * transaction: its messages commit or roll back with it.
   * @default false
   */
  readonly transactions?: boolean;
  /**
   * A store used before `migrate()` fails with `SCHEMA_OUTDATED`.
   * @default true
   */
  readonly requiresMigrate?: boolean;
  /**
   * Writers commit concurrently (several connections), so a claim may run while a transaction
   * that enqueued a message is still open: the suite checks that such a message, and every
   * message committed after its transaction began, is held back until it commits. Needs
   * `transactions`.
   * @default false
   */
  readonly concurrentWriters?: boolean;
}

/** An outbox store under test. */
export interface OutboxStoreTarget<S extends OutboxStore = OutboxStore> {
  /** Shown in test titles. */
  readonly name: string;
  /**
   * Opens a store on `namespace`. Different namespaces must give isolated stores, the same
   * namespace the same data. The suite calls `migrate()` and `close()` itself.
   */
  readonly factory: (namespace: string) => S | Promise<S>;
  /**
   * The same store over `backend`, the backend `store.backend.transaction()` gives its callback
   * (e.g. `store.withBackend(backend)`). Needed for the `transactions` capability.
   */
  bind?(store: S, backend: StorageBackend): OutboxStore;
  /** Optional behaviour present. */
  readonly capabilities?: OutboxStoreCapabilities;
}

/** Options of {@link describeOutboxStoreConformance}. */
export interface OutboxStoreConformanceOptions<S extends OutboxStore> extends OutboxStoreTarget<S> {
  /** `describe` and `it` of your test framework (vitest, jest, node:test, mocha). */
  readonly test: ConformanceTestApi;
  /** Enables the cross-process claim race; omit for stores that live inside one process. */
  readonly crossProcess?: CrossProcessTarget;
}

const CLAIMERS = 12;
const RACE_KEYS = 6;
const RACE_MESSAGES = 90;
const PROCESS_TIMEOUT_MS = 90_000;
const SHORT_LEASE_MS = 250;
const LONG_MS = 60_000;
const ERROR: ErrorRecord = { name: 'Error', message: 'broker down', code: 'ECONNREFUSED' };

/**
 * Registers the outbox-store conformance tests for one store.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { createMemoryBackend, createMemoryOutboxStore } from 'flowproof/adapters/memory';
 * import { describeOutboxStoreConformance } from 'flowproof/testing';
 *
 * const backends = new Map();
 * describeOutboxStoreConformance({
 *   name: 'memory',
 *   test: { describe, it },
 *   factory: (namespace) => {
 *     if (!backends.has(namespace)) backends.set(namespace, createMemoryBackend());
 *     return createMemoryOutboxStore({ backend: backends.get(namespace) });
 *   },
 *   bind: (store, backend) => store.withBackend(backend),
 *   capabilities: { transactions: true },
 * });
 * ```
 */
export function describeOutboxStoreConformance<S extends OutboxStore>(
  options: OutboxStoreConformanceOptions<S>,
): void {
  const { test, name, factory, crossProcess } = options;
  const transactions = options.capabilities?.transactions ?? false;
  const requiresMigrate = options.capabilities?.requiresMigrate ?? true;
  const concurrentWriters = transactions && (options.capabilities?.concurrentWriters ?? false);
  const bind = options.bind?.bind(options);
  const { opened, it, itIf } = caseRunner<S>(test, name);
  const open = async (namespace = uniqueNamespace('outbox')) => {
    const store = await factory(namespace);
    opened.push(store);
    await store.migrate();
    return store;
  };
  const processes = crossProcess?.processes ?? 4;

  test.describe(`OutboxStore conformance: ${name}`, () => {
    it('factory() gives isolated instances', async () => {
      const a = await open();
      const b = await open();
      await a.enqueue([msg('iso')]);
      assert.equal(await b.get('iso'), undefined, 'a message leaked into another instance');
      assert.deepEqual(await b.claim(claimOf('r')), []);
      await b.enqueue([msg('iso')]);
    });

    it('migrate() is idempotent, safe concurrently, and records component outbox', async () => {
      const namespace = uniqueNamespace('outbox');
      const [a, b] = [await factory(namespace), await factory(namespace)];
      opened.push(a, b);
      const reports = await Promise.all([a.migrate(), b.migrate()]);
      assert.deepEqual(reports.map((r) => r.applied.length > 0).sort(), [false, true]);
      const again = await a.migrate();
      assert.equal(again.component, 'outbox');
      assert.deepEqual(again.applied, []);
      await b.enqueue([msg('m')]);
      assert.equal((await a.get('m'))?.id, 'm');
    });

    itIf(
      requiresMigrate,
      'migrate() has nothing to create there',
      'a store used before migrate() fails with SCHEMA_OUTDATED, saying migrate() was not run',
      async () => {
        const store = await factory(uniqueNamespace('outbox'));
        opened.push(store);
        const calls: Record<string, () => Promise<unknown>> = {
          enqueue: () => store.enqueue([msg('m')]),
          claim: () => store.claim(claimOf('r')),
          markPublished: () => store.markPublished(['m'], 'r'),
          reschedule: () => store.reschedule([retryOf('m')], 'r'),
          deadLetter: () => store.deadLetter([{ id: 'm', error: ERROR }], 'r'),
          get: () => store.get('m'),
          list: () => store.list({ status: 'pending', limit: 10 }),
          redrive: () => store.redrive({ limit: 10 }),
          purge: () => store.purge({ status: 'published', finishedBeforeMs: 0, limit: 10 }),
          stats: () => store.stats(),
        };
        for (const [call, run] of Object.entries(calls)) {
          await assert.rejects(run(), (error: unknown) => {
            assert.ok(isFlowproofError(error, 'SCHEMA_OUTDATED'), `${call}: ${String(error)}`);
            assert.match(error.message, /migrate\(\)/, call);
            return true;
          });
        }
      },
    );

    it('enqueue() stores pending messages, due at once, stamped with the store clock', async () => {
      const store = await open();
      const before = await nowMs(store);
      await store.enqueue([
        msg('e1', { key: 'ORD-1', payload: { n: 1 }, headers: { 'x-correlation-id': 'c1' } }),
      ]);
      const after = await nowMs(store);
      const stored = await store.get('e1');
      assert.ok(stored);
      assertBetween(stored.createdAt, before, after, 'createdAt');
      assert.deepEqual(stored, {
        id: 'e1',
        topic: 'order.created',
        key: 'ORD-1',
        payload: { n: 1 },
        headers: { 'x-correlation-id': 'c1' },
        status: 'pending',
        attempts: 0,
        availableAt: stored.createdAt,
        lastError: null,
        createdAt: stored.createdAt,
        finishedAt: null,
      });
      assert.equal(await store.get('nope'), undefined);
    });

    it('enqueue() keeps the order of a batch and of successive calls (claims follow it)', async () => {
      const store = await open();
      await store.enqueue([msg('z'), msg('a', { key: 'k' }), msg('m')]);
      await store.enqueue([msg('b', { key: 'k' })]);
      await store.enqueue([msg('0'), msg('y', { key: 'other' })]);
      const claimed = await store.claim(claimOf('r', { limit: 10 }));
      assert.deepEqual(ids(claimed), ['z', 'a', 'm', 'b', '0', 'y']);
    });

    it('enqueue() of an id stored already is OUTBOX_MESSAGE_EXISTS and inserts none of the batch', async () => {
      const store = await open();
      await store.enqueue([msg('dup', { payload: { first: true } })]);
      await assert.rejects(
        store.enqueue([msg('new-1'), msg('dup', { payload: { first: false } }), msg('new-2')]),
        (error: unknown) => {
          assert.ok(isFlowproofError(error, 'OUTBOX_MESSAGE_EXISTS'), String(error));
          assert.equal((error.details as { messageId?: unknown }).messageId, 'dup');
          return true;
        },
      );
      assert.equal(await store.get('new-1'), undefined, 'part of the batch was inserted');
      assert.equal(await store.get('new-2'), undefined, 'part of the batch was inserted');
      assert.deepEqual((await store.get('dup'))?.payload, { first: true });
      assert.deepEqual(await store.list({ status: 'pending', limit: 10 }).then(ids), ['dup']);
    });

    it('enqueue() of a batch naming one id twice is OUTBOX_MESSAGE_EXISTS and inserts nothing', async () => {
      const store = await open();
      await assert.rejects(
        store.enqueue([msg('x1'), msg('twice'), msg('x2'), msg('twice')]),
        (error: unknown) => {
          assert.ok(isFlowproofError(error, 'OUTBOX_MESSAGE_EXISTS'), String(error));
          assert.equal((error.details as { messageId?: unknown }).messageId, 'twice');
          return true;
        },
      );
      assert.deepEqual(await store.list({ status: 'pending', limit: 10 }), []);
      await store.enqueue([]);
      assert.deepEqual((await store.stats()).topics, {});
    });

    it('payloads and headers come back exactly: nested, unicode, large and tiny numbers, empty objects', async () => {
      const store = await open();
      const payloads: unknown[] = [
        { order: { id: 'ORD-1', lines: [{ sku: 'A', qty: 2, price: 9.99 }], tags: [] }, meta: {} },
        { text: 'Grüße, 日本語, emoji 🎉, combining é, quotes "\' \\ and\nnew\tlines' },
        {
          big: 1.7976931348623157e308,
          neg: -1e300,
          tiny: 5e-324,
          safe: 2 ** 53 - 1,
          over: 2 ** 60,
        },
        { fractions: [0.1, 0.2, 1 / 3, -0.5, 123456.789] },
        [],
        {},
        'a bare string',
        42,
        true,
        null,
        [[[[{ deep: [{}] }]]]],
        { 'key with spaces': 1, ключ: 2, '': 3, '🔑': [null, false] },
      ];
      const headers = { 'x-correlation-id': 'c-é-1', traceparent: '00-abc-def-01', empty: '' };
      await store.enqueue(payloads.map((payload, i) => msg(`j${pad(i)}`, { payload, headers })));
      for (const [i, payload] of payloads.entries()) {
        const stored = await store.get(`j${pad(i)}`);
        assert.deepEqual(stored?.payload, payload, `payload ${i}`);
        assert.deepEqual(stored?.headers, headers, `headers ${i}`);
      }
      const claimed = await store.claim(claimOf('r', { limit: 100 }));
      assert.deepEqual(
        claimed.map((m) => m.payload),
        payloads,
      );
    });

    it('enqueue() refuses what JSON cannot hold with a TypeError naming the field, writing nothing', async () => {
      const store = await open();
      const cycle: Record<string, unknown> = {};
      cycle.self = cycle;
      const bad: [string, Partial<NewOutboxMessage>][] = [
        ['payload', { payload: undefined }],
        ['payload', { payload: { n: Number.NaN } }],
        ['payload', { payload: { n: Number.POSITIVE_INFINITY } }],
        ['payload', { payload: { at: new Date(0) } }],
        ['payload', { payload: { n: 10n } }],
        ['payload', { payload: cycle }],
        ['payload', { payload: { f: () => 1 } }],
        ['payload', { payload: { s: 'nul\u0000' } }],
        ['payload', { payload: { s: 'lone surrogate \ud800' } }],
        ['payload', { payload: { '\udc00': 1 } }],
        ['headers', { headers: { n: 1 } as unknown as Record<string, string> }],
        ['id', { id: '' }],
        ['topic', { topic: '' }],
      ];
      for (const [field, override] of bad) {
        const message = { ...msg('bad'), ...override } as NewOutboxMessage;
        await assert.rejects(store.enqueue([msg('good'), message]), (error: unknown) => {
          assert.ok(error instanceof TypeError, `${field}: ${String(error)}`);
          assert.match(error.message, new RegExp(`messages\\[1\\]\\.${field}`));
          return true;
        });
      }
      await assert.rejects(
        store.enqueue([{ ...msg('typo'), kye: 'k' } as unknown as NewOutboxMessage]),
        /messages\[0\]\.kye/,
      );
      assert.deepEqual(await store.list({ status: 'pending', limit: 10 }), []);
    });

    it('claim() hands out pending messages in position order, up to limit, leased to the owner', async () => {
      const store = await open();
      await store.enqueue(Array.from({ length: 5 }, (_, i) => msg(`c${i}`)));
      const first = await store.claim(claimOf('r1', { limit: 2 }));
      assert.deepEqual(ids(first), ['c0', 'c1']);
      assert.ok(first.every((m) => m.status === 'pending' && m.attempts === 0));
      assert.deepEqual(ids(await store.claim(claimOf('r2', { limit: 2 }))), ['c2', 'c3']);
      assert.deepEqual(ids(await store.claim(claimOf('r3', { limit: 10 }))), ['c4']);
      assert.deepEqual(await store.claim(claimOf('r4', { limit: 10 })), [], 'claimed twice');
      assert.deepEqual(await store.claim(claimOf('r5', { limit: 0 })), []);
      assert.equal(await store.markPublished(['c0', 'c1'], 'r1'), 2);
    });

    it('claim() skips messages not due yet and takes them once the lease of a claim ends', async () => {
      const store = await open();
      await store.enqueue([msg('later'), msg('lease')]);
      await store.claim(claimOf('r', { limit: 1 }));
      assert.equal(await store.reschedule([retryOf('later', { retryInMs: LONG_MS })], 'r'), 1);
      const [leased] = await store.claim(claimOf('short', { leaseMs: SHORT_LEASE_MS }));
      assert.equal(leased?.id, 'lease');
      assert.deepEqual(await store.claim(claimOf('other')), [], 'a leased or future message');
      const again = await claimEventually(store, claimOf('other'));
      assert.deepEqual(ids(again), ['lease'], 'a lease that ended frees the message');
      assert.equal(await store.markPublished(['lease'], 'short'), 0, 'the first claim was fenced');
      assert.equal(await store.markPublished(['lease'], 'other'), 1);
    });

    it('per key: a message waits while an earlier one of its key is held by another claim; keyless ones do not', async () => {
      const store = await open();
      await store.enqueue([msg('k1', { key: 'K' }), msg('free', { key: null })]);
      assert.deepEqual(ids(await store.claim(claimOf('r1', { limit: 1 }))), ['k1']);
      await store.enqueue([msg('k2', { key: 'K' }), msg('j1', { key: 'J' }), msg('free2')]);
      assert.deepEqual(ids(await store.claim(claimOf('r2', { limit: 10 }))), [
        'free',
        'j1',
        'free2',
      ]);
      assert.equal(await store.markPublished(['k1'], 'r1'), 1);
      assert.deepEqual(ids(await store.claim(claimOf('r3'))), ['k2']);
    });

    it('per key: both messages in one claim come in order; the later one waits behind a retry', async () => {
      const store = await open();
      await store.enqueue([
        msg('a1', { key: 'A' }),
        msg('b1', { key: 'B' }),
        msg('a2', { key: 'A' }),
      ]);
      const claimed = await store.claim(claimOf('r1', { limit: 10 }));
      assert.deepEqual(ids(claimed), ['a1', 'b1', 'a2']);
      // a1 failed: it waits for its retry, and a2 (given back untried) waits behind it.
      assert.equal(
        await store.reschedule(
          [retryOf('a1', { retryInMs: LONG_MS }), retryOf('a2', { countAttempt: false })],
          'r1',
        ),
        2,
      );
      await store.enqueue([msg('b2', { key: 'B' })]);
      assert.equal(await store.markPublished(['b1'], 'r1'), 1);
      assert.deepEqual(ids(await store.claim(claimOf('r2', { limit: 10 }))), ['b2']);
      const a2 = await store.get('a2');
      assert.equal(a2?.attempts, 0, 'a message given back untried counts no attempt');
    });

    it('per key: a dead-lettered message no longer blocks its key; redriven, it leads it again', async () => {
      const store = await open();
      await store.enqueue([msg('d1', { key: 'D' }), msg('d2', { key: 'D' })]);
      await store.claim(claimOf('r1', { limit: 1 }));
      assert.deepEqual(await store.claim(claimOf('r2')), []);
      assert.equal(await store.deadLetter([{ id: 'd1', error: ERROR }], 'r1'), 1);
      assert.deepEqual(ids(await store.claim(claimOf('r2', { leaseMs: SHORT_LEASE_MS }))), ['d2']);
      assert.equal(await store.reschedule([retryOf('d2', { countAttempt: false })], 'r2'), 1);
      assert.deepEqual(await store.redrive({ ids: ['d1'], limit: 10 }), ['d1']);
      assert.deepEqual(ids(await store.claim(claimOf('r3', { limit: 10 }))), ['d1', 'd2']);
    });

    it('fenced writes: another owner changes nothing; a claim that expired and was retaken is a no-op', async () => {
      const store = await open();
      await store.enqueue([msg('f1'), msg('f2')]);
      await store.claim(claimOf('old', { leaseMs: SHORT_LEASE_MS, limit: 2 }));
      assert.equal(await store.markPublished(['f1', 'f2'], 'intruder'), 0);
      assert.equal(await store.reschedule([retryOf('f1')], 'intruder'), 0);
      assert.equal(await store.deadLetter([{ id: 'f1', error: ERROR }], 'intruder'), 0);
      assert.equal(await store.markPublished(['unknown'], 'old'), 0);
      const retaken = await claimEventually(store, claimOf('new', { limit: 2 }));
      assert.deepEqual(ids(retaken), ['f1', 'f2']);
      assert.equal(await store.markPublished(['f1'], 'old'), 0);
      assert.equal(await store.reschedule([retryOf('f2')], 'old'), 0);
      assert.equal(await store.deadLetter([{ id: 'f2', error: ERROR }], 'old'), 0);
      const f2 = await store.get('f2');
      assert.equal(f2?.status, 'pending');
      assert.equal(f2?.attempts, 0);
      assert.equal(await store.markPublished(['f1', 'f2', 'f1'], 'new'), 2);
      assert.equal(await store.markPublished(['f1'], 'new'), 0, 'published twice');
    });

    it('markPublished() finishes the message at the store clock', async () => {
      const store = await open();
      await store.enqueue([msg('p')]);
      await store.claim(claimOf('r'));
      const before = await nowMs(store);
      assert.equal(await store.markPublished(['p'], 'r'), 1);
      const after = await nowMs(store);
      const p = await store.get('p');
      assert.equal(p?.status, 'published');
      assertBetween(p?.finishedAt ?? -1, before, after, 'finishedAt');
      assert.deepEqual(await store.claim(claimOf('r2')), []);
    });

    it('reschedule() counts an attempt and records the error only when asked; due after retryInMs on the store clock', async () => {
      const store = await open();
      await store.enqueue([msg('r1'), msg('r2')]);
      await store.claim(claimOf('o', { limit: 2 }));
      const before = await nowMs(store);
      assert.equal(
        await store.reschedule(
          [
            retryOf('r1', { retryInMs: 30_000, error: ERROR }),
            retryOf('r2', { retryInMs: 0, countAttempt: false }),
          ],
          'o',
        ),
        2,
      );
      const after = await nowMs(store);
      const r1 = await store.get('r1');
      assert.equal(r1?.status, 'pending');
      assert.equal(r1?.attempts, 1);
      assert.deepEqual(r1?.lastError, ERROR);
      assertBetween(r1?.availableAt ?? -1, before + 30_000, after + 30_000, 'availableAt');
      const r2 = await store.get('r2');
      assert.equal(r2?.attempts, 0);
      assert.equal(r2?.lastError, null);
      assertBetween(r2?.availableAt ?? -1, before, after, 'availableAt');
      assert.deepEqual(ids(await store.claim(claimOf('o2', { limit: 10 }))), ['r2']);
      assert.equal(await store.reschedule([retryOf('r2', { error: ERROR })], 'o2'), 1);
      assert.equal((await store.get('r2'))?.attempts, 1);
    });

    it('deadLetter() moves a claimed message to the dead letters with its error and one more attempt', async () => {
      const store = await open();
      await store.enqueue([msg('dl')]);
      await store.claim(claimOf('o'));
      await store.reschedule([retryOf('dl', { error: ERROR })], 'o');
      await store.claim(claimOf('o2'));
      const before = await nowMs(store);
      const error = { name: 'FlowproofError', message: 'gave up', code: 'X', details: { n: 1 } };
      assert.equal(await store.deadLetter([{ id: 'dl', error }], 'o2'), 1);
      const after = await nowMs(store);
      const dl = await store.get('dl');
      assert.equal(dl?.status, 'dead_lettered');
      assert.equal(dl?.attempts, 2);
      assert.deepEqual(dl?.lastError, error);
      assertBetween(dl?.finishedAt ?? -1, before, after, 'finishedAt');
      assert.deepEqual(await store.claim(claimOf('o3')), []);
    });

    it('list() filters by status and topic and pages by id with afterId', async () => {
      const store = await open();
      const all = Array.from({ length: 13 }, (_, i) => `l${pad(i)}`);
      // Enqueued in reverse: list orders by id, not by position.
      await store.enqueue(
        [...all].reverse().map((id, i) => msg(id, { topic: i % 2 === 0 ? 'even' : 'odd' })),
      );
      const dead = ['l03', 'l07'];
      await store.claim(claimOf('o', { limit: 100 }));
      await store.deadLetter(
        dead.map((id) => ({ id, error: ERROR })),
        'o',
      );
      await store.reschedule(
        all.filter((id) => !dead.includes(id)).map((id) => retryOf(id, { countAttempt: false })),
        'o',
      );
      const pending = all.filter((id) => !dead.includes(id));
      assert.deepEqual(await pageAll(store, 'pending', undefined, 4), pending);
      assert.deepEqual(await pageAll(store, 'pending', undefined, 100), pending);
      const evenTopic = [...all].reverse().filter((_, i) => i % 2 === 0);
      assert.deepEqual(
        await pageAll(store, 'pending', 'even', 3),
        pending.filter((id) => evenTopic.includes(id)),
      );
      assert.deepEqual(await pageAll(store, 'dead_lettered', undefined, 1), dead);
      assert.deepEqual(await pageAll(store, 'published', undefined, 5), []);
    });

    it('redrive() by ids puts dead letters back, due now with no attempts; other ids are ignored', async () => {
      const store = await open();
      await store.enqueue([msg('x1'), msg('x2'), msg('x3')]);
      await store.claim(claimOf('o', { limit: 3 }));
      await store.deadLetter(
        [
          { id: 'x1', error: ERROR },
          { id: 'x2', error: ERROR },
        ],
        'o',
      );
      await store.markPublished(['x3'], 'o');
      const before = await nowMs(store);
      const redriven = await store.redrive({ ids: ['x2', 'x3', 'missing', 'x1'], limit: 10 });
      const after = await nowMs(store);
      assert.deepEqual([...redriven].sort(), ['x1', 'x2']);
      const x1 = await store.get('x1');
      assert.equal(x1?.status, 'pending');
      assert.equal(x1?.attempts, 0);
      assert.equal(x1?.lastError, null);
      assert.equal(x1?.finishedAt, null);
      assertBetween(x1?.availableAt ?? -1, before, after, 'availableAt');
      assert.equal((await store.get('x3'))?.status, 'published');
      assert.deepEqual(await store.redrive({ ids: ['x1'], limit: 10 }), []);
      assert.deepEqual(await store.redrive({ ids: [], limit: 10 }), []);
      assert.deepEqual(ids(await store.claim(claimOf('o2', { limit: 10 }))), ['x1', 'x2']);
    });

    it('redrive() by topic takes the oldest dead letters first, at most limit', async () => {
      const store = await open();
      await store.enqueue([
        msg('t1', { topic: 'a' }),
        msg('t2', { topic: 'b' }),
        msg('t3', { topic: 'a' }),
        msg('t4', { topic: 'a' }),
      ]);
      await store.claim(claimOf('o', { limit: 4 }));
      await store.deadLetter(
        ['t1', 't2', 't3', 't4'].map((id) => ({ id, error: ERROR })),
        'o',
      );
      assert.deepEqual(await store.redrive({ topic: 'a', limit: 2 }), ['t1', 't3']);
      assert.deepEqual(await store.redrive({ topic: 'a', limit: 0 }), []);
      assert.deepEqual(await store.redrive({ topic: 'a', limit: 10 }), ['t4']);
      assert.deepEqual(await store.redrive({ limit: 10 }), ['t2']);
      assert.deepEqual(await store.redrive({ limit: 10 }), []);
    });

    it('purge() deletes finished messages of one status, older than asked, at most limit, never pending ones', async () => {
      const store = await open();
      await store.enqueue(['p1', 'p2', 'p3', 'd1', 'd2', 'w1'].map((id) => msg(id)));
      await store.claim(claimOf('o', { limit: 5 }));
      await store.markPublished(['p1', 'p2', 'p3'], 'o');
      await store.deadLetter(
        [
          { id: 'd1', error: ERROR },
          { id: 'd2', error: ERROR },
        ],
        'o',
      );
      assert.equal(
        await store.purge({ status: 'published', finishedBeforeMs: LONG_MS, limit: 10 }),
        0,
        'purged messages finished less than a minute ago',
      );
      await sleep(5);
      assert.equal(await store.purge({ status: 'published', finishedBeforeMs: 1, limit: 2 }), 2);
      assert.equal(await store.purge({ status: 'published', finishedBeforeMs: 1, limit: 10 }), 1);
      for (const id of ['p1', 'p2', 'p3']) assert.equal(await store.get(id), undefined);
      assert.equal((await store.get('d1'))?.status, 'dead_lettered');
      assert.equal(
        await store.purge({ status: 'dead_lettered', finishedBeforeMs: 0, limit: 10 }),
        2,
      );
      assert.equal(
        await store.purge({ status: 'dead_lettered', finishedBeforeMs: 0, limit: 10 }),
        0,
      );
      assert.equal((await store.get('w1'))?.status, 'pending', 'a pending message was purged');
      await assert.rejects(
        store.purge({
          status: 'pending' as 'published',
          finishedBeforeMs: 0,
          limit: 10,
        }),
        (error: unknown) => error instanceof TypeError && /request\.status/.test(error.message),
      );
    });

    it('stats() counts per topic and status and reports the oldest pending message', async () => {
      const store = await open();
      const empty = await store.stats();
      assert.deepEqual({ ...empty, now: 0 }, { now: 0, oldestPendingAt: null, topics: {} });
      const before = await nowMs(store);
      await store.enqueue([msg('s1', { topic: 'a' }), msg('s2', { topic: 'a' })]);
      await store.enqueue([msg('s3', { topic: 'b' }), msg('s4', { topic: 'b' })]);
      await store.claim(claimOf('o', { limit: 3 }));
      await store.markPublished(['s1'], 'o');
      await store.deadLetter([{ id: 's3', error: ERROR }], 'o');
      const stats = await store.stats();
      const after = await nowMs(store);
      assertBetween(stats.now, before, after, 'now');
      assert.deepEqual(stats.topics, {
        a: { pending: 1, published: 1, deadLettered: 0 },
        b: { pending: 1, published: 0, deadLettered: 1 },
      });
      assert.equal(stats.oldestPendingAt, (await store.get('s2'))?.createdAt);
    });

    it('bad arguments are TypeErrors naming the field, before anything is written', async () => {
      const store = await open();
      await store.enqueue([msg('a')]);
      const cases: [RegExp, () => Promise<unknown>][] = [
        [
          /request\.leasMs/,
          () => store.claim({ ...claimOf('r'), leasMs: 5 } as OutboxClaimRequest),
        ],
        [/request\.owner/, () => store.claim(claimOf(''))],
        [/request\.limit/, () => store.claim(claimOf('r', { limit: -1 }))],
        [/request\.leaseMs/, () => store.claim(claimOf('r', { leaseMs: 1.5 }))],
        [/owner/, () => store.markPublished(['a'], '')],
        [/retries\[0\]\.retryInMs/, () => store.reschedule([retryOf('a', { retryInMs: -1 })], 'r')],
        [/entries\[0\]\.error/, () => store.deadLetter([{ id: 'a' } as never], 'r')],
        [/query\.status/, () => store.list({ status: 'done' as OutboxMessageStatus, limit: 1 })],
        [/request\.limit/, () => store.redrive({ limit: Number.NaN })],
      ];
      for (const [pattern, run] of cases) {
        await assert.rejects(run(), (error: unknown) => {
          assert.ok(error instanceof TypeError, `${pattern}: ${String(error)}`);
          assert.match(error.message, pattern);
          return true;
        });
      }
      assert.equal((await store.get('a'))?.status, 'pending');
      assert.deepEqual(ids(await store.claim(claimOf('r'))), ['a']);
    });

    itIf(
      transactions,
      'the store has no transactions',
      'enqueue() through a store bound to a transaction commits with it and vanishes on rollback',
      async () => {
        const store = await open();
        const bound = bind as NonNullable<typeof bind>;
        await store.backend.transaction(async (tx) => {
          await bound(store, tx).enqueue([msg('kept', { key: 'K' })]);
        });
        assert.equal((await store.get('kept'))?.status, 'pending');
        const boom = new Error('business write failed');
        await assert.rejects(
          store.backend.transaction(async (tx) => {
            await bound(store, tx).enqueue([msg('gone-1', { key: 'K' }), msg('gone-2')]);
            throw boom;
          }),
          (error) => error === boom,
        );
        assert.equal(await store.get('gone-1'), undefined);
        assert.equal(await store.get('gone-2'), undefined);
        assert.deepEqual(ids(await store.claim(claimOf('r', { limit: 10 }))), ['kept']);
      },
    );

    itIf(
      concurrentWriters,
      'writers do not commit concurrently there',
      'commit-safe claims: an open transaction holds back the later messages of its key AND keyless messages committed after it began (gating), until it commits',
      async () => {
        const store = await open();
        const bound = bind as NonNullable<typeof bind>;
        let enqueued!: () => void;
        const ready = new Promise<void>((resolve) => {
          enqueued = resolve;
        });
        let release!: () => void;
        const commit = new Promise<void>((resolve) => {
          release = resolve;
        });
        const open_ = store.backend.transaction(async (tx) => {
          await bound(store, tx).enqueue([msg('early', { key: 'K' })]);
          enqueued();
          await commit;
        });
        try {
          await ready;
          await store.enqueue([msg('late', { key: 'K' }), msg('keyless', { key: null })]);
          assert.ok(await store.get('late'), 'the later message committed');
          assert.deepEqual(
            await store.claim(claimOf('r', { limit: 10 })),
            [],
            'claimed a message while an older transaction that enqueued before it was open',
          );
        } finally {
          release();
          await open_;
        }
        assert.deepEqual(ids(await store.claim(claimOf('r', { limit: 10 }))), [
          'early',
          'late',
          'keyless',
        ]);
      },
    );

    itIf(
      crossProcess === undefined,
      'the cross-process race below covers it',
      `${CLAIMERS} concurrent claimers never get the same message twice nor hold one key at once`,
      async () => {
        const namespace = uniqueNamespace('outbox');
        const store = await open(namespace);
        await store.enqueue(raceMessages());
        const stores = await Promise.all([open(namespace), open(namespace), open(namespace)]);
        const results = await Promise.all(
          Array.from({ length: CLAIMERS }, (_, i) =>
            claimAndPublish(stores[i % stores.length] as OutboxStore, `claimer-${i}`),
          ),
        );
        assertRace(results);
      },
    );

    itIf(
      crossProcess !== undefined,
      'the store lives inside one process (the in-process race above runs instead)',
      `${CLAIMERS} claimers in ${processes} processes never get the same message twice nor hold one key at once`,
      async () => {
        const namespace = uniqueNamespace('outbox');
        const store = await open(namespace);
        await store.enqueue(raceMessages());
        const target = crossProcess as CrossProcessTarget;
        const results = await runInProcesses<RaceResult>({
          module: fileURLToPath(import.meta.url),
          exportName: 'outboxStoreConformanceWorker',
          count: processes,
          execArgv: target.execArgv ?? [],
          timeoutMs: PROCESS_TIMEOUT_MS,
          args: {
            module: target.module,
            exportName: target.exportName,
            namespace,
            claimers: Math.ceil(CLAIMERS / processes),
          } satisfies WorkerArgs,
        });
        assertRace(
          results.map((r) => {
            assert.equal(r.status, 'fulfilled', `a process failed: ${JSON.stringify(r)}`);
            return (r as { value: RaceResult }).value;
          }),
        );
      },
      PROCESS_TIMEOUT_MS,
    );
  });

  function assertRace(results: readonly RaceResult[]): void {
    const claimed = results.flatMap((r) => r.claimed);
    const seen = new Set<string>();
    const twice = claimed.filter((id) => seen.has(id) || !seen.add(id));
    assert.deepEqual(twice, [], 'messages claimed twice while their leases held');
    assert.equal(seen.size, raceMessages().length, 'some messages were never claimed');
    assert.deepEqual(
      results.flatMap((r) => r.violations),
      [],
      'a message was claimed while an earlier one of its key was not published',
    );
  }
}

/** What one claim loop saw: the ids it claimed, and per-key order violations. */
interface RaceResult {
  readonly claimed: string[];
  readonly violations: string[];
}

/** Keyed messages `r<i>` (key `k<i mod RACE_KEYS>`, payload `{ i }`) with keyless ones between. */
function raceMessages(): NewOutboxMessage[] {
  const messages: NewOutboxMessage[] = [];
  for (let i = 0; i < RACE_MESSAGES; i += 1) {
    messages.push(msg(`r${pad(i)}`, { key: `k${i % RACE_KEYS}`, payload: { i } }));
    if (i % 3 === 0) messages.push(msg(`free${pad(i)}`, { key: null, payload: {} }));
  }
  return messages;
}

/**
 * Claims (long leases) until nothing is left, checking for each keyed message that the one before
 * it of its key is published or in the same claim (so no other claim holds its key), then
 * publishes the batch.
 */
async function claimAndPublish(store: OutboxStore, owner: string): Promise<RaceResult> {
  const result: RaceResult = { claimed: [], violations: [] };
  for (;;) {
    const batch = await store.claim({ owner, leaseMs: LONG_MS, limit: 3 });
    if (batch.length === 0) {
      if ((await store.stats()).oldestPendingAt === null) return result;
      // Others hold the rest of a key: wait for them to publish.
      await sleep(5);
      continue;
    }
    const inBatch = new Set(ids(batch));
    for (const message of batch) {
      result.claimed.push(message.id);
      const i = (message.payload as { i?: number }).i;
      if (message.key === null || i === undefined || i < RACE_KEYS) continue;
      const previous = `r${pad(i - RACE_KEYS)}`;
      if (inBatch.has(previous)) continue;
      const status = (await store.get(previous))?.status;
      if (status !== 'published') {
        result.violations.push(`${message.id} claimed while ${previous} was ${status}`);
      }
    }
    const published = await store.markPublished([...inBatch], owner);
    if (published !== batch.length) result.violations.push(`${owner} lost a claim`);
  }
}

function msg(
  id: string,
  options: {
    readonly topic?: string;
    readonly key?: string | null;
    readonly payload?: unknown;
    readonly headers?: Readonly<Record<string, string>>;
  } = {},
): NewOutboxMessage {
  return {
    id,
    topic: options.topic ?? 'order.created',
    key: options.key === undefined ? null : options.key,
    payload: 'payload' in options ? options.payload : { id },
    headers: options.headers ?? {},
  };
}

function claimOf(owner: string, options: Partial<OutboxClaimRequest> = {}): OutboxClaimRequest {
  return { owner, leaseMs: LONG_MS, limit: 1, ...options };
}

function retryOf(
  id: string,
  options: { retryInMs?: number; countAttempt?: boolean; error?: ErrorRecord } = {},
) {
  const countAttempt = options.countAttempt ?? true;
  return {
    id,
    retryInMs: options.retryInMs ?? 0,
    countAttempt,
    ...(countAttempt ? { error: options.error ?? ERROR } : {}),
  };
}

function ids(messages: readonly StoredOutboxMessage[]): string[] {
  return messages.map((m) => m.id);
}

function pad(i: number): string {
  return String(i).padStart(2, '0');
}

async function nowMs(store: OutboxStore): Promise<number> {
  return (await store.now()).getTime();
}

function assertBetween(value: number, low: number, high: number, name: string): void {
  assert.ok(value >= low && value <= high, `${name} ${value} is not within [${low}, ${high}]`);
}

/** Claims until something comes back (a lease ending), within 5 s. */
async function claimEventually(
  store: OutboxStore,
  request: OutboxClaimRequest,
): Promise<readonly StoredOutboxMessage[]> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const claimed = await store.claim(request);
    if (claimed.length > 0) return claimed;
    if (Date.now() > deadline) assert.fail('nothing became claimable within 5 s');
    await sleep(25);
  }
}

async function pageAll(
  store: OutboxStore,
  status: OutboxMessageStatus,
  topic: string | undefined,
  limit: number,
): Promise<string[]> {
  const all: string[] = [];
  let afterId: string | undefined;
  for (;;) {
    const page = await store.list({
      status,
      ...(topic === undefined ? {} : { topic }),
      ...(afterId === undefined ? {} : { afterId }),
      limit,
    });
    assert.ok(page.length <= limit, `a page of ${page.length} for limit ${limit}`);
    all.push(...ids(page));
    if (page.length < limit) return all;
    afterId = page[page.length - 1]?.id;
  }
}

interface WorkerArgs {
  readonly module: string;
  readonly exportName: string;
  readonly namespace: string;
  readonly claimers: number;
}

/**
 * The function the cross-process race runs in each child: opens the target's store on the shared
 * namespace and runs `claimers` claim loops at once until nothing is left; returns what they
 * claimed and any per-key order violation they saw. Exported for the child processes, not for
 * direct use.
 *
 * @internal
 */
export async function outboxStoreConformanceWorker(
  args: WorkerArgs,
  worker: { readonly index: number },
): Promise<RaceResult> {
  const target = await importTarget<OutboxStoreTarget>(
    args.module,
    args.exportName,
    'an OutboxStoreTarget',
  );
  const store = await target.factory(args.namespace);
  try {
    await store.migrate();
    const loops = await Promise.all(
      Array.from({ length: args.claimers }, (_, i) =>
        claimAndPublish(store, `p${worker.index}-c${i}`),
      ),
    );
    return {
      claimed: loops.flatMap((l) => l.claimed),
      violations: loops.flatMap((l) => l.violations),
    };
  } finally {
    await store.close();
  }
}
