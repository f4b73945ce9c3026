/**
 * The conformance suite of the {@link SagaStore} port: idempotent creation (leased or not), claims
 * of due and unleased sagas only (filters, limit, oldest due first, growing fencing tokens), fenced
 * saves and heartbeats, lease expiry, racing claimers (across processes where the store allows)
 * that never share a saga, listing with a cursor, purging finished sagas only, the JSON log kept
 * exactly (and what JSON cannot hold refused before writing), the store's clock for every delay,
 * and saves that commit with the caller's work in one transaction. Every saga store flowproof
 * ships runs it; run it on your own to certify it.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { sleep } from '../core/async.js';
import { isFlowproofError } from '../core/errors.js';
import type { StorageBackend } from '../core/storage-backend.js';
import type {
  ClaimedSaga,
  ClaimRequest,
  NewSaga,
  SagaLease,
  SagaStatus,
  SagaStore,
  SagaUpdate,
  StoredSaga,
} from '../saga/saga-store.js';
import { type CrossProcessTarget, uniqueNamespace } from './backend-conformance.js';
import { runInProcesses } from './multi-process.js';
import { type ConformanceTestApi, caseRunner, importTarget } from './test-api.js';

/** Optional behaviour the suite tests only where the store has it. */
export interface SagaStoreCapabilities {
  /**
   * The store has `saveInTransaction` and the target's `bind`: a save commits or rolls back with
   * the caller's work.
   * @default false
   */
  readonly transactions?: boolean;
  /**
   * A store used before `migrate()` fails with `SCHEMA_OUTDATED`.
   * @default true
   */
  readonly requiresMigrate?: boolean;
}

/** A saga store under test. */
export interface SagaStoreTarget<S extends SagaStore = SagaStore> {
  /** Shown in test titles. */
  readonly name: string;
  /**
   * Opens a store on `namespace`. Different namespaces must give isolated stores, the same
   * namespace the same data. The suite calls `migrate()` and `close()` itself.
   */
  readonly factory: (namespace: string) => S | Promise<S>;
  /**
   * The same store over `backend`, the transaction's backend `saveInTransaction` gives its work
   * (e.g. `store.withBackend(backend)`). Needed for the `transactions` capability.
   */
  bind?(store: S, backend: StorageBackend): SagaStore;
  /** Optional behaviour present. */
  readonly capabilities?: SagaStoreCapabilities;
}

/** Options of {@link describeSagaStoreConformance}. */
export interface SagaStoreConformanceOptions<S extends SagaStore> extends SagaStoreTarget<S> {
  /** `describe` and `it` of your test framework (vitest, jest, node:test, mocha). */
  readonly test: ConformanceTestApi;
  /**
   * Enables the cross-process claim race; omit for stores that live inside one process.
   */
  readonly crossProcess?: CrossProcessTarget;
}

const CLAIMERS = 30;
const CROSS_PROCESS_SAGAS = 200;
const PROCESS_TIMEOUT_MS = 90_000;
const SHORT_LEASE_MS = 300;
const LONG_MS = 60_000;

/**
 * Registers the saga-store conformance tests for one store.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { createMemoryBackend, createMemorySagaStore } from 'flowproof/adapters/memory';
 * import { describeSagaStoreConformance } from 'flowproof/testing';
 *
 * const backends = new Map();
 * describeSagaStoreConformance({
 *   name: 'memory',
 *   test: { describe, it },
 *   factory: (namespace) => {
 *     if (!backends.has(namespace)) backends.set(namespace, createMemoryBackend());
 *     return createMemorySagaStore({ backend: backends.get(namespace) });
 *   },
 *   bind: (store, backend) => store.withBackend(backend),
 *   capabilities: { transactions: true },
 * });
 * ```
 */
export function describeSagaStoreConformance<S extends SagaStore>(
  options: SagaStoreConformanceOptions<S>,
): void {
  const { test, name, factory, crossProcess } = options;
  const transactions = options.capabilities?.transactions ?? false;
  const requiresMigrate = options.capabilities?.requiresMigrate ?? true;
  const bind = options.bind?.bind(options);
  const { opened, it, itIf } = caseRunner<S>(test, name);
  const open = async (namespace = uniqueNamespace('saga')) => {
    const store = await factory(namespace);
    opened.push(store);
    await store.migrate();
    return store;
  };
  const processes = crossProcess?.processes ?? 4;

  test.describe(`SagaStore conformance: ${name}`, () => {
    it('factory() gives isolated instances', async () => {
      const a = await open();
      const b = await open();
      assert.equal((await a.create(newSaga('iso'))).created, true);
      assert.equal(await b.get('iso'), undefined, 'a saga leaked into another instance');
      assert.equal((await b.create(newSaga('iso'))).created, true);
    });

    it('migrate() is idempotent and records component saga', async () => {
      const store = await open();
      const again = await store.migrate();
      assert.equal(again.component, 'saga');
      assert.deepEqual(again.applied, []);
    });

    itIf(
      requiresMigrate,
      'migrate() has nothing to create there',
      'a store used before migrate() fails with SCHEMA_OUTDATED, saying migrate() was not run',
      async () => {
        const store = await factory(uniqueNamespace('saga'));
        opened.push(store);
        const lease = { owner: 'r', token: 1 };
        const calls: Record<string, () => Promise<unknown>> = {
          create: () => store.create(newSaga('s')),
          claim: () => store.claim(claimOf('r')),
          save: () => store.save(updateOf('s'), lease),
          heartbeat: () => store.heartbeat('s', lease, 1000),
          get: () => store.get('s'),
          list: () => store.list({ limit: 10 }),
          purge: () => store.purge({ statuses: ['completed'], finishedBeforeMs: 0, limit: 10 }),
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

    it('create() inserts a due, unleased saga stamped with the store clock', async () => {
      const store = await open();
      const before = (await store.now()).getTime();
      const result = await store.create(newSaga('s1', { log: { steps: [] } }));
      const after = (await store.now()).getTime();
      assert.equal(result.created, true);
      assert.equal('lease' in result && result.lease !== undefined, false);
      const { saga } = result;
      assert.deepEqual(
        { ...saga, wakeAt: 0, createdAt: 0, updatedAt: 0 },
        {
          id: 's1',
          name: 'order',
          version: 1,
          status: 'running',
          log: { steps: [] },
          wakeAt: 0,
          createdAt: 0,
          updatedAt: 0,
          finishedAt: null,
        },
      );
      assertBetween(saga.createdAt, before, after, 'createdAt');
      assert.equal(saga.wakeAt, saga.createdAt, 'a new saga is due at once');
      assert.equal(saga.updatedAt, saga.createdAt);
      assert.deepEqual(await store.get('s1'), saga);
      const [claimed] = await store.claim(claimOf('runner'));
      assert.equal(claimed?.saga.id, 's1', 'a new saga is claimable at once');
    });

    it('create() is idempotent by id: the second returns created: false and the stored saga untouched', async () => {
      const store = await open();
      const first = await store.create(newSaga('dup', { log: { first: true } }));
      const second = await store.create(
        newSaga('dup', { name: 'other', version: 7, log: { first: false } }),
        { owner: 'r2', leaseMs: LONG_MS },
      );
      assert.equal(second.created, false);
      assert.deepEqual(second.saga, first.saga);
      assert.deepEqual(await store.get('dup'), first.saga);
      // Not leased by the second create: a runner still claims it, with token 1.
      const [claimed] = await store.claim(claimOf('r1'));
      assert.deepEqual(claimed?.lease, { owner: 'r1', token: 1 });
    });

    it('create() with a lease holds the saga (token 1) until the lease ends', async () => {
      const store = await open();
      const result = await store.create(newSaga('leased'), {
        owner: 'creator',
        leaseMs: SHORT_LEASE_MS,
      });
      assert.equal(result.created, true);
      assert.deepEqual(result.created && result.lease, { owner: 'creator', token: 1 });
      assert.deepEqual(await store.claim(claimOf('other')), [], 'claimed a leased saga');
      assert.equal(await store.heartbeat('leased', { owner: 'creator', token: 1 }, 50), true);
      await sleep(SHORT_LEASE_MS / 3);
      const claimed = await claimEventually(store, claimOf('other'));
      assert.deepEqual(claimed.lease, { owner: 'other', token: 2 });
      assert.equal(
        await store.save(updateOf('leased'), { owner: 'creator', token: 1 }),
        false,
        "the creator's lease was taken over",
      );
    });

    it('claim() takes only due sagas: a wake 60 s ahead on the store clock is not due', async () => {
      const store = await open();
      await store.create(newSaga('later'));
      await store.create(newSaga('now'));
      const [held] = await store.claim({ ...claimOf('r'), ids: ['later'] });
      assert.ok(held);
      const before = (await store.now()).getTime();
      assert.equal(
        await store.save(updateOf('later', { wakeInMs: LONG_MS, lease: 'release' }), held.lease),
        true,
      );
      const after = (await store.now()).getTime();
      const later = await store.get('later');
      assertBetween(later?.wakeAt ?? 0, before + LONG_MS, after + LONG_MS, 'wakeAt');
      const claimed = await store.claim({ ...claimOf('r2'), limit: 10 });
      assert.deepEqual(ids(claimed), ['now']);
    });

    it('claim() filters by status, name and id, and honours limit', async () => {
      const store = await open();
      for (const id of ['a1', 'a2', 'a3']) await store.create(newSaga(id, { name: 'alpha' }));
      for (const id of ['b1', 'b2']) await store.create(newSaga(id, { name: 'beta' }));
      // b2 moves to compensating.
      const [b2] = await store.claim({ ...claimOf('r'), ids: ['b2'] });
      assert.ok(b2);
      await store.save(updateOf('b2', { status: 'compensating', lease: 'release' }), b2.lease);
      // a3 finishes: only a claim asking for its status finds it.
      const [a3] = await store.claim({ ...claimOf('r'), ids: ['a3'] });
      assert.ok(a3);
      await store.save(updateOf('a3', { status: 'completed', lease: 'release' }), a3.lease);

      const compensating = await store.claim({ ...claimOf('r'), statuses: ['compensating'] });
      assert.deepEqual(ids(compensating), ['b2']);
      const beta = await store.claim({ ...claimOf('r'), names: ['beta'], limit: 10 });
      assert.deepEqual(ids(beta), ['b1']);
      const one = await store.claim({ ...claimOf('r'), ids: ['a2', 'a3', 'nope'], limit: 10 });
      assert.deepEqual(ids(one), ['a2']);
      const limited = await store.claim({ ...claimOf('r'), limit: 0 });
      assert.deepEqual(limited, []);
      const rest = await store.claim({
        ...claimOf('r'),
        statuses: ['running', 'compensating', 'completed'],
        limit: 10,
      });
      assert.deepEqual(ids(rest), ['a1', 'a3']);
    });

    it('claim() returns the oldest due first and no more than limit', async () => {
      const store = await open();
      // Created in the order c, a, b, so due in that order (ids sort otherwise).
      for (const id of ['c', 'a', 'b']) {
        await store.create(newSaga(id));
        await waitForStoreTick(store);
      }
      const first = await store.claim({ ...claimOf('r'), limit: 2 });
      assert.deepEqual(ids(first), ['c', 'a']);
      const second = await store.claim({ ...claimOf('r'), limit: 2 });
      assert.deepEqual(ids(second), ['b']);
    });

    it('claim() returns the saga as stored, and the token grows by one per claim', async () => {
      const store = await open();
      await store.create(newSaga('t', { log: { n: 0 } }));
      for (let expected = 1; expected <= 3; expected += 1) {
        const [claimed] = await store.claim(claimOf(`r${expected}`));
        assert.ok(claimed, `claim ${expected} found nothing`);
        assert.deepEqual(claimed.lease, { owner: `r${expected}`, token: expected });
        assert.deepEqual(claimed.saga, await store.get('t'));
        assert.deepEqual(claimed.saga.log, { n: expected - 1 });
        const update = updateOf('t', { log: { n: expected }, lease: 'release' });
        assert.equal(await store.save(update, claimed.lease), true);
      }
    });

    it('save() is fenced: a stale token or another owner writes nothing', async () => {
      const store = await open();
      await store.create(newSaga('f', { log: { v: 'original' } }));
      const [claimed] = await store.claim(claimOf('r1'));
      assert.ok(claimed);
      const stored = await store.get('f');
      const wrong: SagaLease[] = [
        { owner: 'r1', token: claimed.lease.token + 1 },
        { owner: 'r1', token: claimed.lease.token - 1 },
        { owner: 'intruder', token: claimed.lease.token },
      ];
      for (const lease of wrong) {
        const update = updateOf('f', { log: { v: 'stale' }, status: 'completed' });
        assert.equal(await store.save(update, lease), false, JSON.stringify(lease));
        assert.equal(await store.heartbeat('f', lease, LONG_MS), false, JSON.stringify(lease));
      }
      assert.deepEqual(await store.get('f'), stored, 'a refused write changed the saga');
      assert.equal(await store.save(updateOf('missing'), claimed.lease), false);
    });

    it('save() with extendMs keeps other runners out; release lets another claim at once', async () => {
      const store = await open();
      await store.create(newSaga('x'));
      const [claimed] = await store.claim({ ...claimOf('r1'), leaseMs: SHORT_LEASE_MS });
      assert.ok(claimed);
      const keep = updateOf('x', { log: { step: 1 }, lease: { extendMs: LONG_MS } });
      assert.equal(await store.save(keep, claimed.lease), true);
      await sleep(SHORT_LEASE_MS + 100);
      assert.deepEqual(await store.claim(claimOf('r2')), [], 'the extended lease was ignored');
      // The holder goes on writing under the same lease.
      const release = updateOf('x', { log: { step: 2 }, lease: 'release' });
      assert.equal(await store.save(release, claimed.lease), true);
      assert.equal(
        await store.save(updateOf('x', { log: { step: 3 } }), claimed.lease),
        false,
        'a released lease still wrote',
      );
      const [next] = await store.claim(claimOf('r2'));
      assert.deepEqual(next?.lease, { owner: 'r2', token: claimed.lease.token + 1 });
      assert.deepEqual(next?.saga.log, { step: 2 });
    });

    it('save() sets updatedAt, and finishedAt for a status that is not active (null for active ones)', async () => {
      const store = await open();
      const statuses: readonly SagaStatus[] = [
        'compensating',
        'completed',
        'running',
        'compensated',
        'failed',
        'compensation_failed',
      ];
      for (const status of statuses) {
        const id = `fin-${status}`;
        const created = await store.create(newSaga(id));
        const [claimed] = await store.claim({ ...claimOf('r'), ids: [id] });
        assert.ok(claimed);
        await waitForStoreTick(store, created.saga.createdAt);
        const before = (await store.now()).getTime();
        assert.equal(
          await store.save(updateOf(id, { status, lease: 'release' }), claimed.lease),
          true,
        );
        const after = (await store.now()).getTime();
        const saga = await store.get(id);
        assert.equal(saga?.status, status);
        assert.equal(saga?.createdAt, created.saga.createdAt, 'createdAt changed');
        assertBetween(saga?.updatedAt ?? 0, before, after, `${status}: updatedAt`);
        if (status === 'running' || status === 'compensating') {
          assert.equal(saga?.finishedAt, null, `${status}: finishedAt`);
        } else {
          assertBetween(saga?.finishedAt ?? 0, before, after, `${status}: finishedAt`);
        }
      }
      // Back to active (a redriven dead letter): finishedAt is cleared.
      const [redo] = await store.claim({
        ...claimOf('r'),
        statuses: ['failed'],
        ids: ['fin-failed'],
      });
      assert.ok(redo);
      assert.equal(await store.save(updateOf('fin-failed'), redo.lease), true);
      assert.equal((await store.get('fin-failed'))?.finishedAt, null);
    });

    it('heartbeat() extends a held lease past its first end', async () => {
      const store = await open();
      await store.create(newSaga('hb'));
      const [claimed] = await store.claim({ ...claimOf('r1'), leaseMs: SHORT_LEASE_MS });
      assert.ok(claimed);
      assert.equal(await store.heartbeat('hb', claimed.lease, LONG_MS), true);
      await sleep(SHORT_LEASE_MS + 100);
      assert.deepEqual(await store.claim(claimOf('r2')), [], 'the heartbeat was ignored');
      assert.equal(await store.heartbeat('nope', claimed.lease, LONG_MS), false);
    });

    it('an expired lease makes the saga claimable again with a new token; the old holder is refused', async () => {
      const store = await open();
      await store.create(newSaga('exp', { log: { by: 'nobody' } }));
      const [first] = await store.claim({ ...claimOf('r1'), leaseMs: SHORT_LEASE_MS });
      assert.ok(first);
      assert.deepEqual(await store.claim(claimOf('r2')), [], 'claimed while the lease held');
      const second = await claimEventually(store, claimOf('r2'));
      assert.deepEqual(second.lease, { owner: 'r2', token: first.lease.token + 1 });
      assert.equal(await store.save(updateOf('exp', { log: { by: 'r1' } }), first.lease), false);
      assert.equal(await store.heartbeat('exp', first.lease, LONG_MS), false);
      assert.equal(await store.save(updateOf('exp', { log: { by: 'r2' } }), second.lease), true);
      assert.deepEqual((await store.get('exp'))?.log, { by: 'r2' });
    });

    itIf(
      crossProcess === undefined,
      'the cross-process race below covers it',
      `${CLAIMERS} concurrent claimers never get the same saga twice while leases hold`,
      async () => {
        const namespace = uniqueNamespace('saga');
        const store = await open(namespace);
        const count = CLAIMERS * 3;
        for (let i = 0; i < count; i += 1) await store.create(newSaga(`c${pad(i)}`));
        const stores = await Promise.all([open(namespace), open(namespace), open(namespace)]);
        const claimed = await Promise.all(
          Array.from({ length: CLAIMERS }, (_, i) =>
            claimAll(stores[i % stores.length] as SagaStore, `claimer-${i}`, 2),
          ),
        );
        assertClaimedOnce(claimed.flat(), count);
      },
    );

    itIf(
      crossProcess !== undefined,
      'the store lives inside one process (the in-process race above runs instead)',
      `${CLAIMERS} claimers in ${processes} processes over ${CROSS_PROCESS_SAGAS} sagas never get the same saga twice`,
      async () => {
        const namespace = uniqueNamespace('saga');
        const store = await open(namespace);
        for (let i = 0; i < CROSS_PROCESS_SAGAS; i += 1) {
          await store.create(newSaga(`p${pad(i)}`));
        }
        const target = crossProcess as CrossProcessTarget;
        const results = await runInProcesses<string[]>({
          module: fileURLToPath(import.meta.url),
          exportName: 'sagaStoreConformanceWorker',
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
        const claimed = results.flatMap((r) => {
          assert.equal(r.status, 'fulfilled', `a process failed: ${JSON.stringify(r)}`);
          return (r as { value: string[] }).value;
        });
        assertClaimedOnce(claimed, CROSS_PROCESS_SAGAS);
      },
      PROCESS_TIMEOUT_MS,
    );

    it('list() filters by status and name and pages by id with afterId', async () => {
      const store = await open();
      for (let i = 0; i < 25; i += 1) {
        await store.create(newSaga(`l${pad(i)}`, { name: i % 2 === 0 ? 'even' : 'odd' }));
      }
      // Every fifth ends failed.
      for (let i = 0; i < 25; i += 5) {
        const id = `l${pad(i)}`;
        const [claimed] = await store.claim({ ...claimOf('r'), ids: [id] });
        assert.ok(claimed);
        await store.save(updateOf(id, { status: 'failed', lease: 'release' }), claimed.lease);
      }
      const all = Array.from({ length: 25 }, (_, i) => `l${pad(i)}`);
      assert.deepEqual(await pageAll(store, {}, 10), all);
      assert.deepEqual(await pageAll(store, {}, 7), all);
      assert.deepEqual(
        await pageAll(store, { name: 'odd' }, 4),
        all.filter((_, i) => i % 2 === 1),
      );
      assert.deepEqual(
        await pageAll(store, { statuses: ['failed', 'compensation_failed'] }, 2),
        all.filter((_, i) => i % 5 === 0),
      );
      assert.deepEqual(
        await pageAll(store, { statuses: ['running'], name: 'even' }, 3),
        all.filter((_, i) => i % 2 === 0 && i % 5 !== 0),
      );
      assert.deepEqual(await store.list({ afterId: 'l024', limit: 10 }), []);
      const [first] = await store.list({ limit: 1 });
      assert.deepEqual(first, await store.get('l000'));
    });

    it('purge() deletes finished sagas older than the cut-off, in batches, never active ones', async () => {
      const store = await open();
      const plan: Record<string, SagaStatus> = {
        done1: 'completed',
        done2: 'completed',
        done3: 'compensated',
        dead: 'failed',
        busy: 'compensating',
        run: 'running',
      };
      for (const [id, status] of Object.entries(plan)) {
        await store.create(newSaga(id));
        const [claimed] = await store.claim({ ...claimOf('r'), ids: [id] });
        assert.ok(claimed);
        await store.save(updateOf(id, { status, lease: 'release' }), claimed.lease);
      }
      const finished = ['completed', 'compensated'] as const;
      // Finished just now: not older than a minute.
      assert.equal(
        await store.purge({ statuses: finished, finishedBeforeMs: LONG_MS, limit: 10 }),
        0,
      );
      await waitForStoreTick(store);
      assert.equal(await store.purge({ statuses: finished, finishedBeforeMs: 0, limit: 2 }), 2);
      assert.equal(await store.purge({ statuses: finished, finishedBeforeMs: 0, limit: 2 }), 1);
      assert.equal(await store.purge({ statuses: finished, finishedBeforeMs: 0, limit: 2 }), 0);
      const left = (await store.list({ limit: 10 })).map((s) => s.id).sort();
      assert.deepEqual(left, ['busy', 'dead', 'run']);
      assert.equal(await store.purge({ statuses: ['failed'], finishedBeforeMs: 0, limit: 5 }), 1);
      await assert.rejects(
        store.purge({ statuses: ['running'], finishedBeforeMs: 0, limit: 10 }),
        TypeError,
        'purge() accepted an active status',
      );
      assert.deepEqual((await store.list({ limit: 10 })).map((s) => s.id).sort(), ['busy', 'run']);
    });

    it('keeps the JSON log exactly: nested objects, arrays, unicode, null, numbers', async () => {
      const store = await open();
      const logs: readonly unknown[] = [
        {
          steps: [
            { name: 'reserve', status: 'completed', output: { id: 'r-1', items: [1, 2, 3] } },
            { name: 'charge', status: 'running', attempts: 2, error: null },
          ],
          input: { text: 'žluťoučký kůň 🐎 \u2028 "quoted" \\ back', empty: '', rtl: 'مرحبا' },
          numbers: [0, -1, 1.5, 0.1, -123.456, 2 ** 53 - 1, -(2 ** 53 - 1), 1e21, 1e-7, 1e300],
          flags: [true, false, null],
          deep: { a: { b: { c: { d: { e: [[[{}]]] } } } } },
          empties: { obj: {}, arr: [] },
          'key with spaces / and "quotes"': 'ok',
        },
        null,
        'just a string',
        42,
        [1, 'two', { three: 3 }],
        {},
      ];
      for (const [i, log] of logs.entries()) {
        const id = `json-${i}`;
        const created = await store.create(newSaga(id, { log }));
        assert.deepEqual(created.saga.log, log, `${id}: create`);
        assert.deepEqual((await store.get(id))?.log, log, `${id}: get after create`);
        const [claimed] = await store.claim({ ...claimOf('r'), ids: [id] });
        assert.ok(claimed);
        assert.deepEqual(claimed.saga.log, log, `${id}: claim`);
        const next = { previous: log, at: i };
        assert.equal(await store.save(updateOf(id, { log: next }), claimed.lease), true);
        assert.deepEqual((await store.get(id))?.log, next, `${id}: get after save`);
        assert.deepEqual((await store.list({ afterId: `json-${i - 1}`, limit: 1 }))[0]?.log, next);
      }
      // What the store gives back is a copy: changing it changes nothing stored.
      const got = (await store.get('json-0'))?.log as { previous: { flags: unknown[] } };
      got.previous.flags.push('mutated');
      assert.deepEqual((await store.get('json-0'))?.log, { previous: logs[0], at: 0 });
    });

    it('refuses a log JSON cannot hold with a TypeError, writing nothing', async () => {
      const store = await open();
      const bad: Record<string, unknown> = {
        'undefined at top level': undefined,
        NaN: { n: Number.NaN },
        Infinity: [Number.POSITIVE_INFINITY],
        'undefined inside': { a: undefined },
        'a Date': { at: new Date(0) },
        'a BigInt': { n: 1n },
        'a function': { f: () => 1 },
        'a NUL character': { s: 'a\u0000b' },
        'a NUL character in a key': { 'a\u0000b': 1 },
      };
      await store.create(newSaga('kept', { log: { ok: true } }));
      const [claimed] = await store.claim(claimOf('r'));
      assert.ok(claimed);
      const before = await store.get('kept');
      for (const [what, log] of Object.entries(bad)) {
        await assert.rejects(store.create(newSaga('new', { log })), TypeError, `create: ${what}`);
        assert.equal(await store.get('new'), undefined, `create: ${what} wrote a saga`);
        await assert.rejects(
          store.save(updateOf('kept', { log }), claimed.lease),
          TypeError,
          `save: ${what}`,
        );
        assert.deepEqual(await store.get('kept'), before, `save: ${what} changed the saga`);
      }
      // The lease still holds: the refused writes did not touch it.
      assert.equal(await store.save(updateOf('kept', { log: { ok: 2 } }), claimed.lease), true);
    });

    it('refuses bad arguments with a TypeError naming them, writing nothing', async () => {
      const store = await open();
      await store.create(newSaga('ok'));
      const [claimed] = await store.claim(claimOf('r'));
      assert.ok(claimed);
      const before = await store.get('ok');
      const lease = claimed.lease;
      const calls: Record<string, [RegExp, () => Promise<unknown>]> = {
        'create: empty id': [/saga\.id/, () => store.create(newSaga(''))],
        'create: unknown status': [
          /saga\.status/,
          () => store.create(newSaga('n', { status: 'done' as SagaStatus })),
        ],
        'create: negative leaseMs': [
          /lease\.leaseMs/,
          () => store.create(newSaga('n'), { owner: 'r', leaseMs: -1 }),
        ],
        'claim: fractional limit': [
          /request\.limit/,
          () => store.claim({ ...claimOf('r'), limit: 1.5 }),
        ],
        'claim: NaN leaseMs': [
          /request\.leaseMs/,
          () => store.claim({ ...claimOf('r'), leaseMs: Number.NaN }),
        ],
        'claim: misspelled key': [
          /request\.leasMs/,
          () => store.claim({ ...claimOf('r'), leasMs: 1 } as ClaimRequest),
        ],
        'save: unknown status': [
          /update\.status/,
          () => store.save(updateOf('ok', { status: 'bogus' as SagaStatus }), lease),
        ],
        'save: NaN wakeInMs': [
          /update\.wakeInMs/,
          () => store.save(updateOf('ok', { wakeInMs: Number.NaN }), lease),
        ],
        'save: negative extendMs': [
          /update\.lease\.extendMs/,
          () => store.save(updateOf('ok', { lease: { extendMs: -5 } }), lease),
        ],
        'heartbeat: NaN leaseMs': [/leaseMs/, () => store.heartbeat('ok', lease, Number.NaN)],
        'list: negative limit': [/query\.limit/, () => store.list({ limit: -1 })],
        'purge: fractional limit': [
          /request\.limit/,
          () => store.purge({ statuses: ['completed'], finishedBeforeMs: 0, limit: 0.5 }),
        ],
      };
      for (const [call, [names, run]] of Object.entries(calls)) {
        await assert.rejects(run(), (error: unknown) => {
          assert.ok(error instanceof TypeError, `${call}: ${String(error)}`);
          assert.match(error.message, names, call);
          return true;
        });
      }
      assert.equal(await store.get('n'), undefined);
      assert.deepEqual(await store.get('ok'), before);
      assert.equal(await store.save(updateOf('ok'), lease), true, 'the lease was lost');
    });

    itIf(
      transactions,
      'the store has no transactions',
      'saveInTransaction() commits the work and the save together',
      async () => {
        const store = await open();
        const { lease } = await createClaimed(store, 'tx');
        const result = await saveInTransaction(store)(
          async (tx) => {
            await (bind as NonNullable<typeof bind>)(store, tx).create(newSaga('side-effect'));
            return 'value';
          },
          (value) => updateOf('tx', { log: { value }, status: 'completed' }),
          lease,
        );
        assert.deepEqual(result, { saved: true, value: 'value' });
        assert.deepEqual((await store.get('tx'))?.log, { value: 'value' });
        assert.equal((await store.get('tx'))?.status, 'completed');
        assert.ok(await store.get('side-effect'), 'the work was not committed');
      },
    );

    itIf(
      transactions,
      'the store has no transactions',
      'saveInTransaction() rolls back the work when it throws, saving nothing',
      async () => {
        const store = await open();
        const { lease } = await createClaimed(store, 'tx');
        const before = await store.get('tx');
        const failure = new Error('work failed');
        await assert.rejects(
          saveInTransaction(store)(
            async (tx) => {
              await (bind as NonNullable<typeof bind>)(store, tx).create(newSaga('side-effect'));
              throw failure;
            },
            () => updateOf('tx', { log: { value: 'never' } }),
            lease,
          ),
          (error) => error === failure,
        );
        assert.equal(await store.get('side-effect'), undefined, 'the work was not rolled back');
        assert.deepEqual(await store.get('tx'), before);
        assert.equal(await store.save(updateOf('tx'), lease), true, 'the lease was lost');
      },
    );

    itIf(
      transactions,
      'the store has no transactions',
      'saveInTransaction() with a lost lease rolls the work back and answers saved: false',
      async () => {
        const store = await open();
        const { lease } = await createClaimed(store, 'tx', SHORT_LEASE_MS);
        const taken = await claimEventually(store, claimOf('other'));
        const before = await store.get('tx');
        const result = await saveInTransaction(store)(
          async (tx) => {
            await (bind as NonNullable<typeof bind>)(store, tx).create(newSaga('side-effect'));
            return 1;
          },
          () => updateOf('tx', { log: { by: 'stale' } }),
          lease,
        );
        assert.equal(result.saved, false);
        assert.equal(await store.get('side-effect'), undefined, 'the work was not rolled back');
        assert.deepEqual(await store.get('tx'), before);
        assert.equal(await store.save(updateOf('tx'), taken.lease), true);
      },
    );
  });
}

function newSaga(id: string, overrides: Partial<NewSaga> = {}): NewSaga {
  return { id, name: 'order', version: 1, status: 'running', log: { steps: [] }, ...overrides };
}

function claimOf(owner: string): ClaimRequest {
  return { owner, leaseMs: LONG_MS, limit: 1, statuses: ['running', 'compensating'] };
}

function updateOf(id: string, overrides: Partial<SagaUpdate> = {}): SagaUpdate {
  return {
    id,
    status: 'running',
    log: { saved: true },
    wakeInMs: 0,
    lease: { extendMs: LONG_MS },
    ...overrides,
  };
}

function ids(claimed: readonly ClaimedSaga[]): string[] {
  return claimed.map((c) => c.saga.id);
}

function pad(i: number): string {
  return String(i).padStart(3, '0');
}

function assertBetween(value: number, low: number, high: number, what: string): void {
  assert.ok(value >= low && value <= high, `${what} ${value} is not within [${low}, ${high}]`);
}

function saveInTransaction(store: SagaStore): NonNullable<SagaStore['saveInTransaction']> {
  assert.equal(typeof store.saveInTransaction, 'function', 'the store has no saveInTransaction');
  return (store.saveInTransaction as NonNullable<SagaStore['saveInTransaction']>).bind(store);
}

async function createClaimed(
  store: SagaStore,
  id: string,
  leaseMs = LONG_MS,
): Promise<ClaimedSaga> {
  await store.create(newSaga(id));
  const [claimed] = await store.claim({ ...claimOf('holder'), leaseMs, ids: [id] });
  assert.ok(claimed, `${id} could not be claimed`);
  return claimed;
}

/** Claims until something comes back (a lease expiring); fails after 5 s. */
async function claimEventually(store: SagaStore, request: ClaimRequest): Promise<ClaimedSaga> {
  for (let i = 0; i < 500; i += 1) {
    const [claimed] = await store.claim(request);
    if (claimed) return claimed;
    await sleep(10);
  }
  throw new Error('nothing became claimable within 5 s');
}

/** Waits until the store clock has moved past `after` (default: its reading now). */
async function waitForStoreTick(store: SagaStore, after?: number): Promise<void> {
  const start = after ?? (await store.now()).getTime();
  for (let i = 0; i < 200; i += 1) {
    await sleep(2);
    if ((await store.now()).getTime() > start) return;
  }
  throw new Error('the store clock did not move');
}

async function pageAll(
  store: SagaStore,
  filter: { statuses?: readonly SagaStatus[]; name?: string },
  limit: number,
): Promise<string[]> {
  const all: string[] = [];
  let afterId: string | undefined;
  for (;;) {
    const page: readonly StoredSaga[] = await store.list({
      ...filter,
      ...(afterId === undefined ? {} : { afterId }),
      limit,
    });
    assert.ok(page.length <= limit, `a page of ${page.length} for limit ${limit}`);
    all.push(...page.map((s) => s.id));
    if (page.length < limit) return all;
    afterId = page[page.length - 1]?.id;
  }
}

/** Claims (long leases) until nothing is left; returns the ids claimed. */
async function claimAll(store: SagaStore, owner: string, limit: number): Promise<string[]> {
  const claimed: string[] = [];
  for (;;) {
    const batch = await store.claim({ ...claimOf(owner), limit });
    if (batch.length === 0) return claimed;
    for (const c of batch) {
      assert.equal(c.lease.owner, owner);
      assert.equal(c.lease.token, 1, `${c.saga.id} was claimed before`);
      claimed.push(c.saga.id);
    }
  }
}

function assertClaimedOnce(claimed: readonly string[], count: number): void {
  const seen = new Set<string>();
  const twice = claimed.filter((id) => seen.has(id) || !seen.add(id));
  assert.deepEqual(twice, [], 'sagas claimed twice while their leases held');
  assert.equal(seen.size, count, 'some sagas were never claimed');
}

interface WorkerArgs {
  readonly module: string;
  readonly exportName: string;
  readonly namespace: string;
  readonly claimers: number;
}

/**
 * The function the cross-process race runs in each child: opens the target's store on the shared
 * namespace and runs `claimers` claim loops at once until nothing is left; returns the ids it
 * claimed. Exported for the child processes, not for direct use.
 *
 * @internal
 */
export async function sagaStoreConformanceWorker(
  args: WorkerArgs,
  worker: { readonly index: number },
): Promise<string[]> {
  const target = await importTarget<SagaStoreTarget>(
    args.module,
    args.exportName,
    'a SagaStoreTarget',
  );
  const store = await target.factory(args.namespace);
  try {
    await store.migrate();
    const loops = await Promise.all(
      Array.from({ length: args.claimers }, (_, i) => claimAll(store, `p${worker.index}-c${i}`, 3)),
    );
    return loops.flat();
  } finally {
    await store.close();
  }
}
