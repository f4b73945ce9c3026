/**
 * The conformance suite of the {@link RetentionStore} port: isolated namespaces and idempotent
 * migrations; requests created on the store's clock, one open request per subject and scope
 * (insert-or-find, also under concurrency and across processes); compare-and-set updates; pages
 * by status, subject and deadline without gaps or duplicates; locations added once, marked, and
 * settled with a receipt written exactly once however many settle at once; legal holds and the
 * lookups that find them; the erasure ledger; writes that commit or roll back with the caller's
 * transaction; text kept byte for byte. Every retention store flowproof ships runs it; run it on
 * your own to certify it.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { createId } from '../core/ids.js';
import type { StorageBackend } from '../core/storage-backend.js';
import {
  type ErasureLedgerEntry,
  type ErasureRequestRow,
  type LegalHoldRow,
  type NewErasureRequest,
  type NewLegalHold,
  RETENTION_STORE_COMPONENT,
  type RetentionStore,
} from '../retention/retention-store.js';
import {
  assertRejectsWithCode,
  type CrossProcessTarget,
  uniqueNamespace,
} from './backend-conformance.js';
import {
  assertTypeErrorNaming,
  type ConformanceTestApi,
  caseRunner,
  importTarget,
  runTargetWorkers,
} from './test-api.js';

/** Optional behaviour the suite tests only where the store has it. */
export interface RetentionStoreCapabilities {
  /**
   * The target has `bind`, and a store bound to a transaction's backend writes in that
   * transaction: its writes commit or roll back with it.
   * @default false
   */
  readonly transactions?: boolean;
}

/** A retention store under test. */
export interface RetentionStoreTarget<S extends RetentionStore = RetentionStore> {
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
  bind?(store: S, backend: StorageBackend): RetentionStore;
  /** Optional behaviour present. */
  readonly capabilities?: RetentionStoreCapabilities;
}

/** Options of {@link describeRetentionStoreConformance}. */
export interface RetentionStoreConformanceOptions<S extends RetentionStore>
  extends RetentionStoreTarget<S> {
  /** `describe` and `it` of your test framework (vitest, jest, node:test, mocha). */
  readonly test: ConformanceTestApi;
  /**
   * Enables the cross-process cases (creates of one subject's request and settles of one
   * location racing each other); omit for stores that live inside one process.
   */
  readonly crossProcess?: CrossProcessTarget;
}

const CONCURRENT = 16;
const PER_PROCESS = 8;
const PROCESS_TIMEOUT_MS = 90_000;
const DAY = 86_400_000;

/** A new request of `subject` (scope: everything), with a fresh id. */
function newRequest(subject: string, overrides: Partial<NewErasureRequest> = {}) {
  return {
    id: createId(),
    subject,
    scope: '',
    source: 'user_request',
    reason: null,
    actor: null,
    graceMs: 30 * DAY,
    dueInMs: 31 * DAY,
    ...overrides,
  } satisfies NewErasureRequest;
}

/** A new hold with a fresh id. */
function newHold(subject: string | null, dataType: string | null): NewLegalHold {
  return { id: createId(), subject, dataType, reason: 'case 2026-117', owner: 'legal' };
}

/** Reads every page of `read` (which returns rows after the previous page's last row). */
async function allPages<T>(
  limit: number,
  read: (last: T | undefined) => Promise<readonly T[]>,
): Promise<T[]> {
  const seen: T[] = [];
  let last: T | undefined;
  for (;;) {
    const page = await read(last);
    assert.ok(page.length <= limit, `a page of ${page.length} rows, more than its limit ${limit}`);
    seen.push(...page);
    last = page.at(-1);
    if (page.length < limit) return seen;
  }
}

const ids = (rows: readonly { readonly id: string }[]) => rows.map((row) => row.id);

/**
 * Registers the retention-store conformance tests for one store.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import Database from 'better-sqlite3';
 * import { createSqliteBackend, createSqliteRetentionStore } from 'flowproof/adapters/sqlite';
 * import { describeRetentionStoreConformance } from 'flowproof/testing';
 *
 * describeRetentionStoreConformance({
 *   name: 'sqlite',
 *   test: { describe, it },
 *   factory: (namespace) =>
 *     createSqliteRetentionStore({
 *       backend: createSqliteBackend({ database: new Database(`/tmp/${namespace}.db`) }),
 *       ownsBackend: true,
 *     }),
 *   bind: (store, backend) => store.withBackend(backend as typeof store.backend),
 *   capabilities: { transactions: true },
 * });
 * ```
 */
export function describeRetentionStoreConformance<S extends RetentionStore>(
  options: RetentionStoreConformanceOptions<S>,
): void {
  const { test, name, factory, crossProcess } = options;
  const processes = crossProcess?.processes ?? 4;
  const inProcesses = (args: Omit<WorkerArgs, 'module' | 'exportName'>) =>
    runTargetWorkers<number>(
      fileURLToPath(import.meta.url),
      'retentionStoreConformanceWorker',
      crossProcess as CrossProcessTarget,
      args,
      PROCESS_TIMEOUT_MS,
    );
  const transactions = options.capabilities?.transactions ?? false;
  const bind = options.bind?.bind(options);
  const { opened, it, itIf } = caseRunner<S>(test, name);
  const open = async (namespace = uniqueNamespace('retention')) => {
    const store = await factory(namespace);
    opened.push(store);
    await store.migrate();
    return store;
  };
  /** A request of `subject` created, with `locations` added. */
  const requestWith = async (store: RetentionStore, locations: readonly string[]) => {
    const { row } = await store.createRequest(newRequest(createId()));
    await store.addLocations(
      row.id,
      locations.map((location) => ({ location, identifiers: `["${location}"]` })),
    );
    return row;
  };

  test.describe(`RetentionStore conformance: ${name}`, () => {
    it('factory() gives isolated instances', async () => {
      const a = await open();
      const b = await open();
      const { row } = await a.createRequest(newRequest('user-1'));
      await a.placeHold(newHold('user-1', null));
      await a.appendLedger({ requestId: row.id, subject: 'user-1', scope: '' });
      assert.equal(await b.getRequest(row.id), undefined, 'a request leaked');
      assert.deepEqual(await b.requestsOfSubject('user-1', 10), []);
      assert.deepEqual(await b.activeHolds({}), []);
      assert.deepEqual(await b.ledger({ limit: 10 }), []);
      assert.equal((await b.createRequest(newRequest('user-1'))).created, true);
    });

    it('migrate() is idempotent, safe concurrently, and records component retention', async () => {
      const namespace = uniqueNamespace('retention');
      const [a, b] = [await factory(namespace), await factory(namespace)];
      opened.push(a, b);
      const reports = await Promise.all([a.migrate(), b.migrate()]);
      assert.deepEqual(reports.map((r) => r.applied.length > 0).sort(), [false, true]);
      const again = await a.migrate();
      assert.equal(again.component, RETENTION_STORE_COMPONENT);
      assert.deepEqual(again.applied, []);
    });

    it('a store used before migrate() fails with SCHEMA_OUTDATED', async () => {
      const namespace = uniqueNamespace('retention');
      const raw = await factory(namespace);
      opened.push(raw);
      await assertRejectsWithCode(raw.createRequest(newRequest('user-1')), 'SCHEMA_OUTDATED');
      await assertRejectsWithCode(raw.activeHolds({ subject: 'user-1' }), 'SCHEMA_OUTDATED');
      const store = await open(namespace);
      assert.deepEqual(await store.activeHolds({ subject: 'user-1' }), []);
    });

    it("createRequest() stores a resolving request on the store's clock, text byte for byte", async () => {
      const store = await open();
      const request = newRequest('usér-42 👩🏽‍💻', {
        scope: 'marketing_consent,session_logs',
        source: 'consent_withdrawal',
        reason: '  «Widerruf» \n\t東京 ✓ ',
        actor: '{"type":"user","id":"usér-42","note":"\\u0000 escaped"}',
        graceMs: 5 * DAY,
        dueInMs: 0,
      });
      const before = (await store.now()).getTime();
      const { row, created } = await store.createRequest(request);
      const after = (await store.now()).getTime();
      assert.equal(created, true);
      assert.ok(row.receivedAt >= before && row.receivedAt <= after, 'receivedAt is not now');
      const { graceMs, dueInMs, ...fields } = request;
      assert.deepEqual(row, {
        ...fields,
        status: 'resolving',
        receivedAt: row.receivedAt,
        eraseAfter: row.receivedAt + graceMs,
        dueAt: row.receivedAt + dueInMs,
        extensions: null,
        finishedAt: null,
        version: 1,
      } satisfies ErasureRequestRow);
      assert.deepEqual(await store.getRequest(row.id), row);
      assert.equal(await store.getRequest(createId()), undefined);
    });

    it('createRequest() finds the open request of the same subject and scope, or the same id', async () => {
      const store = await open();
      const first = await store.createRequest(newRequest('user-1', { reason: 'first' }));
      const again = await store.createRequest(newRequest('user-1', { reason: 'second' }));
      assert.deepEqual(again, { row: first.row, created: false });
      // A retried create (same id) is answered with the stored request.
      const retried = await store.createRequest(newRequest('user-2', { id: first.row.id }));
      assert.deepEqual(retried, { row: first.row, created: false });
      const narrower = await store.createRequest(newRequest('user-1', { scope: 'session_logs' }));
      assert.equal(narrower.created, true);
      assert.equal((await store.createRequest(newRequest('user-2'))).created, true);
      // Once the request has ended, a new one may open.
      for (const status of ['completed', 'partial', 'cancelled'] as const) {
        const current = await store.createRequest(newRequest('user-3'));
        assert.equal(current.created, true, `no new request after ${status}`);
        assert.ok(await store.updateRequest(current.row.id, 1, { status }));
      }
      const pending = await store.createRequest(newRequest('user-4'));
      for (const status of ['pending', 'running'] as const) {
        const row = await store.getRequest(pending.row.id);
        assert.ok(await store.updateRequest(pending.row.id, row?.version ?? 0, { status }));
        assert.equal((await store.createRequest(newRequest('user-4'))).created, false);
      }
      assert.equal((await store.requestsOfSubject('user-1', 10)).length, 2);
    });

    it(`${CONCURRENT} concurrent creates of one subject and scope store one request`, async () => {
      const store = await open();
      const results = await Promise.all(
        Array.from({ length: CONCURRENT }, () => store.createRequest(newRequest('user-1'))),
      );
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal(new Set(results.map((r) => r.row.id)).size, 1);
      assert.equal((await store.requestsOfSubject('user-1', 100)).length, 1);
    });

    it('updateRequest() compares and sets on the version; a final status sets finishedAt', async () => {
      const store = await open();
      const { row } = await store.createRequest(newRequest('user-1'));
      assert.equal(await store.updateRequest(createId(), 1, { status: 'pending' }), undefined);
      assert.equal(await store.updateRequest(row.id, 2, { status: 'pending' }), undefined);
      const v2 = await store.updateRequest(row.id, 1, {});
      assert.deepEqual(v2, { ...row, version: 2 });
      const v3 = await store.updateRequest(row.id, 2, {
        status: 'pending',
        eraseAfter: 7,
        dueAt: row.dueAt + DAY,
        extensions: '[{"by":"P1M","reason":"complex"}]',
      });
      assert.deepEqual(v3, {
        ...row,
        status: 'pending',
        eraseAfter: 7,
        dueAt: row.dueAt + DAY,
        extensions: '[{"by":"P1M","reason":"complex"}]',
        version: 3,
      });
      assert.equal(await store.updateRequest(row.id, 2, { status: 'cancelled' }), undefined);
      const before = (await store.now()).getTime();
      const v4 = await store.updateRequest(row.id, 3, { status: 'partial', extensions: null });
      const after = (await store.now()).getTime();
      assert.ok(v4?.finishedAt != null && v4.finishedAt >= before && v4.finishedAt <= after);
      assert.equal(v4.extensions, null);
      assert.equal(v4.eraseAfter, 7);
      // A retry reopens it: no longer finished.
      const v5 = await store.updateRequest(row.id, 4, { status: 'running' });
      assert.equal(v5?.finishedAt, null);
      assert.deepEqual(await store.getRequest(row.id), v5);
      // Of concurrent updates of one version, exactly one applies.
      const raced = await Promise.all(
        Array.from({ length: CONCURRENT }, (_, i) => store.updateRequest(row.id, 5, { dueAt: i })),
      );
      const winners = raced.filter((r) => r !== undefined);
      assert.equal(winners.length, 1);
      assert.deepEqual(await store.getRequest(row.id), winners[0]);
    });

    it('requestsByStatus() pages in id order by status and end of grace period, without gaps or duplicates', async () => {
      const store = await open();
      const rows: ErasureRequestRow[] = [];
      for (let i = 0; i < 7; i++) {
        const { row } = await store.createRequest(newRequest(`user-${i}`, { graceMs: i * DAY }));
        rows.push(row);
      }
      const statuses = ['resolving', 'pending', 'running', 'completed'] as const;
      const byId = new Map<string, ErasureRequestRow>();
      for (const [i, row] of rows.entries()) {
        const status = statuses[i % statuses.length] ?? 'resolving';
        const updated =
          status === 'resolving' ? row : await store.updateRequest(row.id, 1, { status });
        assert.ok(updated);
        byId.set(row.id, updated);
      }
      const all = [...byId.values()];
      const erasing = all.filter((r) => ['pending', 'running'].includes(r.status));
      for (let limit = 1; limit <= erasing.length + 1; limit++) {
        const seen = await allPages<ErasureRequestRow>(limit, (last) =>
          store.requestsByStatus({
            statuses: ['pending', 'running', 'pending'],
            limit,
            ...(last === undefined ? {} : { afterId: last.id }),
          }),
        );
        assert.deepEqual(seen, erasing, `pages of ${limit}`);
      }
      const eraseBy = rows[4]?.eraseAfter ?? 0;
      assert.deepEqual(
        await store.requestsByStatus({ statuses: [...statuses], eraseBy, limit: 100 }),
        all.filter((r) => r.eraseAfter <= eraseBy),
      );
      assert.deepEqual(
        await store.requestsByStatus({ statuses: ['cancelled', 'partial'], limit: 100 }),
        [],
      );
    });

    it('requestsOfSubject() is newest first; requestsDueBefore() pages open requests by deadline', async () => {
      const store = await open();
      const scopes = ['a', 'b', 'c', 'd', 'e', 'f'];
      const mine: ErasureRequestRow[] = [];
      for (const [i, scope] of scopes.entries()) {
        // Deadlines in an order other than creation, two of them equal.
        const dueInMs = [3, 1, 2, 1, 5, 4][i] ?? 0;
        mine.push(
          (await store.createRequest(newRequest('user-1', { scope, dueInMs: dueInMs * DAY }))).row,
        );
      }
      await store.createRequest(newRequest('user-2'));
      const newest = [...mine].reverse();
      assert.deepEqual(await store.requestsOfSubject('user-1', 100), newest);
      assert.deepEqual(await store.requestsOfSubject('user-1', 2), newest.slice(0, 2));
      assert.deepEqual(await store.requestsOfSubject('nobody', 5), []);
      const ended = mine[1] as ErasureRequestRow;
      assert.ok(await store.updateRequest(ended.id, 1, { status: 'completed' }));
      const dueBefore = Math.max(...mine.map((r) => r.dueAt));
      const expected = mine
        .filter((r) => r.id !== ended.id && r.dueAt < dueBefore)
        .sort((a, b) => a.dueAt - b.dueAt || (a.id < b.id ? -1 : 1));
      for (let limit = 1; limit <= expected.length + 1; limit++) {
        const seen = await allPages<ErasureRequestRow>(limit, (last) =>
          store.requestsDueBefore({
            dueBefore,
            limit,
            ...(last === undefined ? {} : { after: { dueAt: last.dueAt, id: last.id } }),
          }),
        );
        assert.deepEqual(
          ids(seen.filter((r) => r.subject === 'user-1')),
          ids(expected),
          `pages of ${limit}`,
        );
      }
    });

    it('addLocations() adds each location once, in name order; markLocation() moves it unless done', async () => {
      const store = await open();
      const request = await requestWith(store, []);
      const names = [
        's3-uploads',
        'Stripe',
        'orders',
        'users-é',
        'users-\u{1F600}',
        'users-\uFFFD',
      ];
      const before = (await store.now()).getTime();
      assert.equal(
        await store.addLocations(
          request.id,
          names.map((location, i) => ({ location, identifiers: i === 0 ? null : `{"i":${i}}` })),
        ),
        names.length,
      );
      assert.equal(await store.addLocations(request.id, []), 0);
      assert.equal(
        await store.addLocations(request.id, [
          { location: 'orders', identifiers: '"replaced"' },
          { location: 'cache', identifiers: '[]' },
        ]),
        1,
      );
      const rows = await store.locations(request.id);
      // Byte order of the UTF-8 names: U+FFFD before U+1F600.
      assert.deepEqual(
        rows.map((r) => r.location),
        ['Stripe', 'cache', 'orders', 's3-uploads', 'users-é', 'users-\uFFFD', 'users-\u{1F600}'],
      );
      for (const row of rows) {
        assert.equal(row.status, 'pending');
        assert.equal(row.receipt, null);
        assert.equal(row.settledAt, null);
        assert.ok(row.addedAt >= before);
      }
      assert.equal(rows.find((r) => r.location === 'orders')?.identifiers, '{"i":2}');
      assert.equal(rows.find((r) => r.location === 's3-uploads')?.identifiers, null);
      await assertRejectsWithCode(
        store.addLocations(createId(), [{ location: 'x', identifiers: null }]),
        'RETENTION_REQUEST_NOT_FOUND',
      );

      const failed = await store.markLocation(request.id, 'orders', 'failed', '{"code":"X"}');
      assert.deepEqual(failed, {
        ...rows.find((r) => r.location === 'orders'),
        status: 'failed',
        error: '{"code":"X"}',
      });
      const restarted = await store.markLocation(request.id, 'orders', 'started');
      assert.equal(restarted?.status, 'started');
      assert.equal(restarted?.error, null);
      assert.equal(await store.markLocation(request.id, 'nowhere', 'started'), undefined);
      const { row: done } = await store.settleLocation(request.id, 'orders', '{"status":"erased"}');
      assert.deepEqual(await store.markLocation(request.id, 'orders', 'failed', '"late"'), done);
      assert.equal(await store.locations(createId()).then((r) => r.length), 0);
    });

    it('settleLocation() writes the receipt once; clearIdentifiers() clears what is left', async () => {
      const store = await open();
      const request = await requestWith(store, ['orders', 'users']);
      await store.markLocation(request.id, 'orders', 'failed', '{"attempt":3}');
      const before = (await store.now()).getTime();
      const first = await store.settleLocation(request.id, 'orders', '{"status":"erased","n":2}');
      assert.equal(first.settled, true);
      assert.equal(first.row.status, 'done');
      assert.equal(first.row.receipt, '{"status":"erased","n":2}');
      assert.equal(first.row.error, null);
      assert.ok(first.row.settledAt !== null && first.row.settledAt >= before);
      const second = await store.settleLocation(request.id, 'orders', '{"status":"other"}');
      assert.deepEqual(second, { row: first.row, settled: false });
      await assertRejectsWithCode(
        store.settleLocation(request.id, 'nowhere', '{}'),
        'RETENTION_REQUEST_NOT_FOUND',
      );
      await assertRejectsWithCode(
        store.settleLocation(createId(), 'orders', '{}'),
        'RETENTION_REQUEST_NOT_FOUND',
      );
      assert.equal(await store.clearIdentifiers(request.id), 2);
      assert.equal(await store.clearIdentifiers(request.id), 0);
      for (const row of await store.locations(request.id)) assert.equal(row.identifiers, null);
      assert.equal((await store.locations(request.id))[0]?.receipt, first.row.receipt);
    });

    it(`${CONCURRENT} concurrent settles of one location write one receipt`, async () => {
      const store = await open();
      const request = await requestWith(store, ['orders']);
      const results = await Promise.all(
        Array.from({ length: CONCURRENT }, (_, i) =>
          store.settleLocation(request.id, 'orders', `{"writer":${i}}`),
        ),
      );
      const winners = results.filter((r) => r.settled);
      assert.equal(winners.length, 1);
      for (const result of results) assert.deepEqual(result.row, winners[0]?.row);
      assert.deepEqual(await store.locations(request.id), [winners[0]?.row]);
    });

    it('holds: placed and released once on the store clock; activeHolds() finds those that cover a lookup', async () => {
      const store = await open();
      const before = (await store.now()).getTime();
      const held = {
        subject: await store.placeHold(newHold('user-1', null)),
        subjectOrders: await store.placeHold(newHold('user-1', 'orders')),
        otherOrders: await store.placeHold(newHold('user-2', 'orders')),
        orders: await store.placeHold(newHold(null, 'orders')),
        logs: await store.placeHold(newHold(null, 'session_logs')),
        other: await store.placeHold(newHold('user-2', null)),
      };
      const { subject } = held;
      assert.ok(subject.placedAt >= before);
      assert.deepEqual(subject, {
        ...newHold('user-1', null),
        id: subject.id,
        placedAt: subject.placedAt,
        releasedAt: null,
        releaseReason: null,
      } satisfies LegalHoldRow);
      // A retried place (same id) keeps the stored hold.
      assert.deepEqual(await store.placeHold({ ...newHold('x', null), id: subject.id }), subject);
      const find = async (lookup: Parameters<RetentionStore['activeHolds']>[0], limit?: number) =>
        ids(await store.activeHolds(lookup, limit));
      const sorted = (...rows: LegalHoldRow[]) => ids(rows).sort();
      assert.deepEqual(await find({}), sorted(...Object.values(held)));
      assert.deepEqual(await find({}, 2), sorted(...Object.values(held)).slice(0, 2));
      assert.deepEqual(await find({ subject: 'user-1' }), sorted(subject, held.subjectOrders));
      assert.deepEqual(
        await find({ dataTypes: ['orders'] }),
        sorted(held.subjectOrders, held.otherOrders, held.orders),
      );
      assert.deepEqual(
        await find({ subject: 'user-1', dataTypes: ['orders', 'session_logs'] }),
        sorted(subject, held.subjectOrders, held.orders, held.logs),
      );
      assert.deepEqual(
        await find({ subject: 'user-1', dataTypes: ['session_logs'] }),
        sorted(subject, held.logs),
      );
      assert.deepEqual(await find({ subject: 'user-1', dataTypes: [] }), sorted(subject));
      assert.deepEqual(await find({ subject: 'user-3', dataTypes: [] }), []);
      assert.deepEqual(await find({ dataTypes: [] }), []);
      assert.deepEqual(await find({ subject: 'user-3' }), []);

      const released = await store.releaseHold(subject.id, 'case closed');
      assert.ok(released?.releasedAt != null && released.releasedAt >= subject.placedAt);
      assert.deepEqual(released, {
        ...subject,
        releasedAt: released.releasedAt,
        releaseReason: 'case closed',
      });
      assert.deepEqual(await store.releaseHold(subject.id, 'again'), released);
      assert.deepEqual(await store.getHold(subject.id), released);
      assert.equal(await store.releaseHold(createId(), 'none'), undefined);
      assert.equal(await store.getHold(createId()), undefined);
      assert.deepEqual(await find({ subject: 'user-1' }), sorted(held.subjectOrders));

      const every = sorted(...Object.values(held));
      for (let limit = 1; limit <= every.length + 1; limit++) {
        const seen = await allPages<LegalHoldRow>(limit, (last) =>
          store.listHolds({ limit, ...(last === undefined ? {} : { afterId: last.id }) }),
        );
        assert.deepEqual(ids(seen), every, `pages of ${limit}`);
      }
      assert.deepEqual(
        ids(await store.listHolds({ activeOnly: true, limit: 100 })),
        every.filter((id) => id !== subject.id),
      );
    });

    it('the ledger keeps the first entry of a request, and pages in request-id order', async () => {
      const store = await open();
      const requestIds = Array.from({ length: 5 }, () => createId()).reverse();
      const entries = [];
      for (const [i, requestId] of requestIds.entries()) {
        const before = (await store.now()).getTime();
        const entry = await store.appendLedger({ requestId, subject: `user-${i}`, scope: '' });
        assert.ok(entry.erasedAt >= before);
        assert.deepEqual(entry, {
          requestId,
          subject: `user-${i}`,
          scope: '',
          erasedAt: entry.erasedAt,
        });
        entries.push(entry);
      }
      const first = entries[0];
      assert.ok(first);
      assert.deepEqual(
        await store.appendLedger({ requestId: first.requestId, subject: 'other', scope: 'x' }),
        first,
      );
      const expected = [...entries].sort((a, b) => (a.requestId < b.requestId ? -1 : 1));
      for (let limit = 1; limit <= expected.length + 1; limit++) {
        const seen = await allPages<ErasureLedgerEntry>(limit, (last) =>
          store.ledger({
            limit,
            ...(last === undefined ? {} : { afterRequestId: last.requestId }),
          }),
        );
        assert.deepEqual(seen, expected, `pages of ${limit}`);
      }
    });

    it('refuses bad arguments with a TypeError naming them, before writing anything', async () => {
      const store = await open();
      const good = newRequest('user-1');
      const bad: readonly [unknown, string][] = [
        [{ ...good, id: 'not-a-ulid' }, 'request.id'],
        [{ ...good, subject: '' }, 'request.subject'],
        [{ ...good, subject: 'a\u0000b' }, 'request.subject'],
        [{ ...good, scope: null }, 'request.scope'],
        [{ ...good, source: 7 }, 'request.source'],
        [{ ...good, reason: 'x\uD800' }, 'request.reason'],
        [{ ...good, actor: {} }, 'request.actor'],
        [{ ...good, graceMs: -1 }, 'request.graceMs'],
        [{ ...good, dueInMs: 1.5 }, 'request.dueInMs'],
        [{ ...good, extra: 1 }, 'request.extra'],
        ['x', 'request'],
      ];
      for (const [request, field] of bad) {
        await assertTypeErrorNaming(store.createRequest(request as NewErasureRequest), field);
      }
      assert.deepEqual(await store.requestsOfSubject('user-1', 10), []);
      const { row } = await store.createRequest(good);
      await assertTypeErrorNaming(
        store.updateRequest(row.id, 1, { status: 'done' as never }),
        'patch.status',
      );
      await assertTypeErrorNaming(store.updateRequest(row.id, 1, { dueAt: -5 }), 'patch.dueAt');
      await assertTypeErrorNaming(
        store.updateRequest(row.id, 1, { state: 'x' } as never),
        'patch.state',
      );
      await assertTypeErrorNaming(store.updateRequest(row.id, 1.5, {}), 'expectedVersion');
      await assertTypeErrorNaming(store.getRequest('' as never), 'id');
      await assertTypeErrorNaming(
        store.requestsByStatus({ statuses: [], limit: 1 }),
        'query.statuses',
      );
      await assertTypeErrorNaming(
        store.requestsByStatus({ statuses: ['open' as never], limit: 1 }),
        'query.statuses[0]',
      );
      await assertTypeErrorNaming(
        store.requestsByStatus({ statuses: ['pending'], limit: 0 }),
        'query.limit',
      );
      await assertTypeErrorNaming(store.requestsOfSubject('user-1', 0), 'limit');
      await assertTypeErrorNaming(
        store.requestsDueBefore({ dueBefore: 1, after: { dueAt: 1 } as never, limit: 1 }),
        'query.after.id',
      );
      await assertTypeErrorNaming(
        store.addLocations(row.id, [
          { location: 'a', identifiers: null },
          { location: 'a', identifiers: null },
        ]),
        'locations[1].location',
      );
      await assertTypeErrorNaming(
        store.addLocations(row.id, [{ location: 'b', identifiers: 5 as never }]),
        'locations[0].identifiers',
      );
      assert.deepEqual(await store.locations(row.id), []);
      await assertTypeErrorNaming(store.markLocation(row.id, 'a', 'done' as never), 'status');
      await assertTypeErrorNaming(store.settleLocation(row.id, 'a', null as never), 'receipt');
      await assertTypeErrorNaming(store.placeHold(newHold(null, null)), 'hold.subject');
      await assertTypeErrorNaming(
        store.placeHold({ ...newHold('s', null), owner: '' }),
        'hold.owner',
      );
      await assertTypeErrorNaming(store.releaseHold(createId(), ''), 'reason');
      await assertTypeErrorNaming(
        store.activeHolds({ dataTypes: 'orders' as never }),
        'lookup.dataTypes',
      );
      await assertTypeErrorNaming(store.activeHolds({}, 0), 'limit');
      await assertTypeErrorNaming(
        store.listHolds({ activeOnly: 1 as never, limit: 1 }),
        'query.activeOnly',
      );
      await assertTypeErrorNaming(
        store.appendLedger({ requestId: 'x', subject: 's', scope: '' }),
        'entry.requestId',
      );
      await assertTypeErrorNaming(store.ledger({ limit: -1 }), 'query.limit');
    });

    itIf(
      transactions && bind !== undefined,
      'the target has no transactions capability',
      "writes inside the caller's transaction commit with it; a rollback leaves nothing",
      async () => {
        const store = await open();
        const connect = bind as NonNullable<typeof bind>;
        const committed = await store.backend.transaction(async (tx) => {
          const bound = connect(store, tx);
          const { row } = await bound.createRequest(newRequest('user-1'));
          await bound.addLocations(row.id, [{ location: 'orders', identifiers: null }]);
          await bound.settleLocation(row.id, 'orders', '{}');
          await bound.placeHold(newHold('user-1', null));
          return row;
        });
        assert.deepEqual(await store.getRequest(committed.id), committed);
        assert.equal((await store.locations(committed.id))[0]?.status, 'done');
        const hold = newHold('user-2', null);
        const request = newRequest('user-2');
        await assert.rejects(
          store.backend.transaction(async (tx) => {
            const bound = connect(store, tx);
            await bound.createRequest(request);
            await bound.placeHold(hold);
            await bound.appendLedger({ requestId: request.id, subject: 'user-2', scope: '' });
            assert.ok(await bound.updateRequest(committed.id, 1, { status: 'pending' }));
            throw new Error('roll back');
          }),
          /roll back/,
        );
        assert.equal(await store.getRequest(request.id), undefined);
        assert.equal(await store.getHold(hold.id), undefined);
        assert.deepEqual(await store.ledger({ limit: 10 }), []);
        assert.deepEqual(await store.getRequest(committed.id), committed);
      },
    );

    itIf(
      crossProcess !== undefined,
      'the store lives inside one process',
      `${processes} processes creating one subject's request at once store one`,
      async () => {
        const namespace = uniqueNamespace('retention');
        const store = await open(namespace);
        const created = await inProcesses({ namespace, mode: 'create', key: 'user-race' });
        assert.equal(
          created.reduce((a, b) => a + b, 0),
          1,
          `the processes created ${created.join(' + ')} requests`,
        );
        assert.equal((await store.requestsOfSubject('user-race', 100)).length, 1);
      },
      PROCESS_TIMEOUT_MS,
    );

    itIf(
      crossProcess !== undefined,
      'the store lives inside one process',
      `${processes} processes settling one location at once write one receipt`,
      async () => {
        const namespace = uniqueNamespace('retention');
        const store = await open(namespace);
        const request = await requestWith(store, ['orders']);
        const settled = await inProcesses({ namespace, mode: 'settle', key: request.id });
        assert.equal(
          settled.reduce((a, b) => a + b, 0),
          1,
          `the processes settled ${settled.join(' + ')} times`,
        );
        const [row] = await store.locations(request.id);
        assert.match(row?.receipt ?? '', /^\{"pid":\d+,"i":\d+\}$/);
      },
      PROCESS_TIMEOUT_MS,
    );
  });
}

interface WorkerArgs {
  readonly module: string;
  readonly exportName: string;
  readonly namespace: string;
  /**
   * `create`: create {@link PER_PROCESS} requests of subject `key` at once; `settle`: settle the
   * location `orders` of request `key` {@link PER_PROCESS} times at once.
   */
  readonly mode: 'create' | 'settle';
  readonly key: string;
}

/**
 * The function the cross-process cases run in each child: opens the target's store on the
 * shared namespace and races {@link PER_PROCESS} creates of one subject's request, or settles
 * of one location; returns how many of its calls created or settled. Exported for the child
 * processes, not for direct use.
 *
 * @internal
 */
export async function retentionStoreConformanceWorker(args: WorkerArgs): Promise<number> {
  const target = await importTarget<RetentionStoreTarget>(
    args.module,
    args.exportName,
    'a RetentionStoreTarget',
  );
  const store = await target.factory(args.namespace);
  try {
    await store.migrate();
    const calls = Array.from({ length: PER_PROCESS }, async (_, i) =>
      args.mode === 'create'
        ? (await store.createRequest(newRequest(args.key))).created
        : (await store.settleLocation(args.key, 'orders', `{"pid":${process.pid},"i":${i}}`))
            .settled,
    );
    return (await Promise.all(calls)).filter(Boolean).length;
  } finally {
    await store.close();
  }
}
