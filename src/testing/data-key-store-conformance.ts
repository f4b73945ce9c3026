/**
 * The conformance suite of the {@link DataKeyStore} port: isolated namespaces and idempotent
 * migrations; ids the store assigns, increasing and never reused; wrapped bytes kept byte for
 * byte; named keys created once however many callers (and processes) race; shredding that
 * erases the wrapped bytes and leaves a tombstone; compare-and-set rewrapping; retiring; job
 * cursors; writes that commit or roll back with the caller's transaction. Every data-key store
 * flowproof ships runs it; run it on your own to certify it.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { sleep } from '../core/async.js';
import type { StorageBackend } from '../core/storage-backend.js';
import {
  DATA_KEY_STORE_COMPONENT,
  type DataKeyCreate,
  type DataKeyCreated,
  type DataKeyRow,
  type DataKeyStore,
} from '../privacy/data-key-store.js';
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
export interface DataKeyStoreCapabilities {
  /**
   * The target has `bind`, and a store bound to a transaction's backend writes in that
   * transaction: its writes commit or roll back with it.
   * @default false
   */
  readonly transactions?: boolean;
}

/** A data-key store under test. */
export interface DataKeyStoreTarget<S extends DataKeyStore = DataKeyStore> {
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
  bind?(store: S, backend: StorageBackend): DataKeyStore;
  /** Optional behaviour present. */
  readonly capabilities?: DataKeyStoreCapabilities;
}

/** Options of {@link describeDataKeyStoreConformance}. */
export interface DataKeyStoreConformanceOptions<S extends DataKeyStore>
  extends DataKeyStoreTarget<S> {
  /** `describe` and `it` of your test framework (vitest, jest, node:test, mocha). */
  readonly test: ConformanceTestApi;
  /**
   * Enables the cross-process case (processes creating one subject's key at once); omit for
   * stores that live inside one process.
   */
  readonly crossProcess?: CrossProcessTarget;
}

const CONCURRENT = 32;
const PER_PROCESS = 8;
const PROCESS_TIMEOUT_MS = 90_000;

/** Distinct wrapped bytes for key `n`: every byte value appears, so nothing is treated as text. */
function wrappedBytes(n: number, length = 60): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 37 + n) % 256);
}

function fieldKey(n: number, kekId = 'kek-1'): DataKeyCreate {
  return { purpose: 'field', name: null, kekId, wrapped: wrappedBytes(n) };
}

function subjectKey(subject: string, n = 1, kekId = 'kek-1'): DataKeyCreate {
  return { purpose: 'subject', name: subject, kekId, wrapped: wrappedBytes(n) };
}

/** The row as plain values, its bytes as an array, so `Buffer` and `Uint8Array` compare alike. */
function plain(row: DataKeyRow | undefined): unknown {
  return row && { ...row, wrapped: row.wrapped && [...row.wrapped] };
}

/** Asserts `row` is the stored form of `key`, and returns it. */
function assertStoredAs(row: DataKeyRow, key: DataKeyCreate): DataKeyRow {
  assert.ok(row.wrapped instanceof Uint8Array, 'wrapped must be a Uint8Array');
  assert.deepEqual(plain(row), {
    id: row.id,
    purpose: key.purpose,
    name: key.name,
    kekId: key.kekId,
    wrapped: [...key.wrapped],
    createdAt: row.createdAt,
    retiredAt: null,
    shreddedAt: null,
  });
  assert.ok(Number.isInteger(row.id) && row.id >= 1 && row.id <= 2 ** 32 - 1, `id ${row.id}`);
  return row;
}

/** Asserts the racing creates of one named key agree: one created it, all got its row. */
function assertOneKey(results: readonly DataKeyCreated[]): DataKeyRow {
  const created = results.filter((r) => r.created);
  assert.equal(created.length, 1, `${created.length} callers created the key`);
  const key = (created[0] as DataKeyCreated).key;
  for (const result of results) assert.deepEqual(plain(result.key), plain(key));
  return key;
}

/**
 * Registers the data-key-store conformance tests for one store.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { createMemoryBackend, createMemoryDataKeyStore } from 'flowproof/adapters/memory';
 * import { describeDataKeyStoreConformance } from 'flowproof/testing';
 *
 * describeDataKeyStoreConformance({
 *   name: 'memory',
 *   test: { describe, it },
 *   factory: () => createMemoryDataKeyStore({ backend: createMemoryBackend() }),
 *   bind: (store, backend) => store.withBackend(backend as typeof store.backend),
 *   capabilities: { transactions: true },
 * });
 * ```
 */
export function describeDataKeyStoreConformance<S extends DataKeyStore>(
  options: DataKeyStoreConformanceOptions<S>,
): void {
  const { test, name, factory, crossProcess } = options;
  const processes = crossProcess?.processes ?? 4;
  const transactions = options.capabilities?.transactions ?? false;
  const bind = options.bind?.bind(options);
  const { opened, it, itIf } = caseRunner<S>(test, name);
  const open = async (namespace = uniqueNamespace('keys')) => {
    const store = await factory(namespace);
    opened.push(store);
    await store.migrate();
    return store;
  };

  test.describe(`DataKeyStore conformance: ${name}`, () => {
    it('factory() gives isolated instances', async () => {
      const a = await open();
      const b = await open();
      await a.create(subjectKey('alice'));
      await a.saveCursor('job', 'a');
      assert.equal(await b.byName('subject', 'alice'), undefined, 'a key leaked');
      assert.equal(await b.loadCursor('job'), undefined, 'a cursor leaked');
    });

    it('migrate() is idempotent, safe concurrently, and records component privacy-keys', async () => {
      const namespace = uniqueNamespace('keys');
      const [a, b] = [await factory(namespace), await factory(namespace)];
      opened.push(a, b);
      const reports = await Promise.all([a.migrate(), b.migrate()]);
      assert.deepEqual(reports.map((r) => r.applied.length > 0).sort(), [false, true]);
      const again = await a.migrate();
      assert.equal(again.component, DATA_KEY_STORE_COMPONENT);
      assert.deepEqual(again.applied, []);
    });

    it('a store used before migrate() fails with SCHEMA_OUTDATED', async () => {
      const namespace = uniqueNamespace('keys');
      const raw = await factory(namespace);
      opened.push(raw);
      await assertRejectsWithCode(raw.create(fieldKey(1)), 'SCHEMA_OUTDATED');
      await assertRejectsWithCode(raw.get(1), 'SCHEMA_OUTDATED');
      const store = await open(namespace);
      assert.equal(await store.get(1), undefined);
    });

    it("create() stores keys byte for byte under increasing ids, on the store's clock", async () => {
      const store = await open();
      const before = (await store.now()).getTime();
      const keys = [fieldKey(1), subjectKey('Zoë – 東京 🧾', 2), fieldKey(3, 'kms:eu/ключ')];
      const rows: DataKeyRow[] = [];
      for (const key of keys) {
        const { key: row, created } = await store.create(key);
        assert.equal(created, true);
        rows.push(assertStoredAs(row, key));
      }
      const later = (await store.now()).getTime();
      for (const [i, row] of rows.entries()) {
        assert.ok(i === 0 || row.id > (rows[i - 1] as DataKeyRow).id, 'ids must increase');
        assert.ok(row.createdAt >= before && row.createdAt <= later, `createdAt ${row.createdAt}`);
        assert.deepEqual(plain(await store.get(row.id)), plain(row));
      }
      assert.deepEqual(plain(await store.byName('subject', 'Zoë – 東京 🧾')), plain(rows[1]));
      assert.equal(await store.byName('index', 'Zoë – 東京 🧾'), undefined);
      assert.equal(await store.get(2 ** 32 - 1), undefined);
      // The bytes returned are the caller's to change: the store keeps its own.
      const first = rows[0] as DataKeyRow;
      const stored = plain(first);
      first.wrapped?.fill(0);
      assert.deepEqual(plain(await store.get(first.id)), stored);
    });

    it('a named key is created once: later creates return it unchanged', async () => {
      const store = await open();
      const first = await store.create(subjectKey('alice', 1));
      const again = await store.create(subjectKey('alice', 2, 'kek-2'));
      assert.equal(again.created, false);
      assert.deepEqual(plain(again.key), plain(first.key));
      // Names are unique per purpose: an index key of the same name is another key.
      const index = await store.create({ ...subjectKey('alice', 3), purpose: 'index' });
      assert.equal(index.created, true);
      assert.notEqual(index.key.id, first.key.id);
      assert.deepEqual(plain(await store.byName('index', 'alice')), plain(index.key));
      // Field keys have no name: each create is a new key.
      const [a, b] = [await store.create(fieldKey(4)), await store.create(fieldKey(4))];
      assert.ok(a.created && b.created && a.key.id !== b.key.id);
    });

    it(`${CONCURRENT} callers creating one subject's key at once get one key`, async () => {
      const store = await open();
      const results = await Promise.all(
        Array.from({ length: CONCURRENT }, (_, i) => store.create(subjectKey('race', i))),
      );
      const key = assertOneKey(results);
      assert.deepEqual(plain(await store.byName('subject', 'race')), plain(key));
      assert.deepEqual((await store.list({ purpose: 'subject', limit: 100 })).map(plain), [
        plain(key),
      ]);
    });

    it('newestFieldKey() is the greatest field key that is not retired; retire keeps its first time', async () => {
      const store = await open();
      assert.equal(await store.newestFieldKey(), undefined);
      await store.create(subjectKey('alice'));
      const first = (await store.create(fieldKey(1))).key;
      const second = (await store.create(fieldKey(2))).key;
      await store.create(subjectKey('bob'));
      assert.deepEqual(plain(await store.newestFieldKey()), plain(second));
      const retired = await store.retire(second.id);
      assert.ok(retired?.retiredAt !== null && retired?.retiredAt !== undefined);
      assert.deepEqual(plain(retired), plain({ ...second, retiredAt: retired.retiredAt }));
      assert.deepEqual(plain(await store.get(second.id)), plain(retired));
      assert.deepEqual(plain(await store.newestFieldKey()), plain(first));
      await waitPast(store, retired.retiredAt);
      assert.deepEqual(plain(await store.retire(second.id)), plain(retired), 'first time kept');
      await store.retire(first.id);
      assert.equal(await store.newestFieldKey(), undefined);
      assert.equal(await store.retire(2 ** 32 - 1), undefined);
    });

    it('list() pages one purpose by id ascending, shredded keys included', async () => {
      const store = await open();
      const fields: DataKeyRow[] = [];
      for (let i = 0; i < 5; i++) {
        fields.push((await store.create(fieldKey(i))).key);
        await store.create(subjectKey(`s${i}`));
      }
      await store.shred('s1');
      const pages: DataKeyRow[][] = [];
      let afterId: number | undefined;
      for (;;) {
        const page = await store.list({
          purpose: 'field',
          limit: 2,
          ...(afterId === undefined ? {} : { afterId }),
        });
        if (page.length === 0) break;
        pages.push([...page]);
        afterId = page.at(-1)?.id;
      }
      assert.deepEqual(
        pages.map((p) => p.length),
        [2, 2, 1],
      );
      assert.deepEqual(pages.flat().map(plain), fields.map(plain));
      const subjects = await store.list({ purpose: 'subject', limit: 10 });
      assert.deepEqual(
        subjects.map((k) => [k.name, k.shreddedAt !== null]),
        [0, 1, 2, 3, 4].map((i) => [`s${i}`, i === 1]),
      );
      assert.deepEqual(await store.list({ purpose: 'index', limit: 10 }), []);
    });

    it('shred() erases the wrapped key, keeps a tombstone, and is idempotent', async () => {
      const store = await open();
      const key = (await store.create(subjectKey('alice'))).key;
      const other = (await store.create(subjectKey('bob'))).key;
      const before = (await store.now()).getTime();
      const tombstone = await store.shred('alice');
      assert.deepEqual(plain(tombstone), {
        ...(plain(key) as object),
        kekId: null,
        wrapped: null,
        shreddedAt: tombstone.shreddedAt,
      });
      assert.ok((tombstone.shreddedAt ?? 0) >= before);
      assert.deepEqual(plain(await store.get(key.id)), plain(tombstone));
      assert.deepEqual(plain(await store.byName('subject', 'alice')), plain(tombstone));
      await waitPast(store, tombstone.shreddedAt ?? 0);
      assert.deepEqual(plain(await store.shred('alice')), plain(tombstone), 'first time kept');
      // No key can be created for a shredded subject.
      const again = await store.create(subjectKey('alice', 9));
      assert.deepEqual(
        { ...again, key: plain(again.key) },
        { created: false, key: plain(tombstone) },
      );
      assert.equal(
        await store.rewrap({
          id: key.id,
          expectKekId: 'kek-1',
          kekId: 'kek-2',
          wrapped: wrappedBytes(5),
        }),
        false,
      );
      assert.deepEqual(plain(await store.get(other.id)), plain(other), 'another subject kept');
    });

    it('shred() of a subject without a key stores a tombstone that blocks a later create', async () => {
      const store = await open();
      const earlier = (await store.create(fieldKey(1))).key;
      const tombstone = await store.shred('never-had-a-key');
      assert.deepEqual(plain(tombstone), {
        id: tombstone.id,
        purpose: 'subject',
        name: 'never-had-a-key',
        kekId: null,
        wrapped: null,
        createdAt: tombstone.createdAt,
        retiredAt: null,
        shreddedAt: tombstone.shreddedAt,
      });
      assert.ok(tombstone.id > earlier.id);
      assert.ok(tombstone.shreddedAt !== null);
      const create = await store.create(subjectKey('never-had-a-key'));
      assert.equal(create.created, false);
      assert.deepEqual(plain(create.key), plain(tombstone));
      assert.deepEqual(plain(await store.shred('never-had-a-key')), plain(tombstone));
      // Ids are never reused: the next key comes after the tombstone's.
      assert.ok((await store.create(fieldKey(2))).key.id > tombstone.id);
    });

    it('rewrap() is compare-and-set on the key-encryption key', async () => {
      const store = await open();
      const key = (await store.create(fieldKey(1, 'kek-1'))).key;
      const change = { id: key.id, expectKekId: 'kek-1', kekId: 'kek-2', wrapped: wrappedBytes(7) };
      assert.equal(await store.rewrap({ ...change, expectKekId: 'kek-0' }), false);
      assert.deepEqual(
        plain(await store.get(key.id)),
        plain(key),
        'a refused rewrap changes nothing',
      );
      assert.equal(await store.rewrap(change), true);
      assert.deepEqual(
        plain(await store.get(key.id)),
        plain({ ...key, kekId: 'kek-2', wrapped: wrappedBytes(7) }),
      );
      assert.equal(await store.rewrap(change), false, 'no longer wrapped by kek-1');
      assert.equal(await store.rewrap({ ...change, id: 2 ** 32 - 1 }), false, 'no such key');
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          store.rewrap({
            id: key.id,
            expectKekId: 'kek-2',
            kekId: `kek-3-${i}`,
            wrapped: wrappedBytes(i),
          }),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1, 'one concurrent rewrap wins');
    });

    it('job cursors are saved, read back, replaced and cleared', async () => {
      const store = await open();
      assert.equal(await store.loadCursor('rewrap'), undefined);
      await store.saveCursor('rewrap', '17');
      await store.saveCursor('other', 'ünïcode ✓');
      assert.equal(await store.loadCursor('rewrap'), '17');
      await store.saveCursor('rewrap', '42');
      assert.equal(await store.loadCursor('rewrap'), '42');
      await store.saveCursor('rewrap', null);
      assert.equal(await store.loadCursor('rewrap'), undefined);
      await store.saveCursor('rewrap', null);
      assert.equal(await store.loadCursor('other'), 'ünïcode ✓');
    });

    it('a bad argument is a TypeError naming it, and nothing is written', async () => {
      const store = await open();
      const bad: readonly [() => Promise<unknown>, string][] = [
        [() => store.create({ ...fieldKey(1), purpose: 'other' as 'field' }), 'key.purpose'],
        [() => store.create({ ...fieldKey(1), name: 'x' }), 'key.name'],
        [() => store.create({ ...subjectKey('a'), name: null }), 'key.name'],
        [() => store.create(subjectKey('')), 'key.name'],
        [() => store.create(subjectKey('a\u0000b')), 'key.name'],
        [() => store.create({ ...fieldKey(1), kekId: '' }), 'key.kekId'],
        [() => store.create({ ...fieldKey(1), wrapped: new Uint8Array(0) }), 'key.wrapped'],
        [() => store.create({ ...fieldKey(1), wrapped: new Uint8Array(4097) }), 'key.wrapped'],
        [() => store.create({ ...fieldKey(1), wrapped: 'bytes' as never }), 'key.wrapped'],
        [() => store.create({ ...fieldKey(1), extra: 1 } as DataKeyCreate), 'extra'],
        [() => store.get(0), 'id'],
        [() => store.get(2 ** 32), 'id'],
        [() => store.get(1.5), 'id'],
        [() => store.byName('field' as 'index', 'x'), 'purpose'],
        [() => store.byName('subject', ''), 'name'],
        [() => store.list({ purpose: 'field', limit: 0 }), 'read.limit'],
        [() => store.list({ purpose: 'field', limit: 1, afterId: -1 }), 'read.afterId'],
        [() => store.list({ purpose: 'x' as 'field', limit: 1 }), 'read.purpose'],
        [
          () => store.rewrap({ id: 1, expectKekId: 'a', kekId: 'b', wrapped: new Uint8Array(0) }),
          'change.wrapped',
        ],
        [
          () => store.rewrap({ id: 0, expectKekId: 'a', kekId: 'b', wrapped: wrappedBytes(1) }),
          'change.id',
        ],
        [() => store.retire(-1), 'id'],
        [() => store.shred(''), 'subject'],
        [() => store.saveCursor('', 'x'), 'job'],
        [() => store.saveCursor('job', 7 as never), 'cursor'],
        [() => store.loadCursor(7 as never), 'job'],
      ];
      for (const [call, field] of bad) await assertTypeErrorNaming(call(), field);
      assert.deepEqual(await store.list({ purpose: 'field', limit: 10 }), []);
      assert.equal(await store.loadCursor('job'), undefined);
    });

    itIf(
      transactions && bind !== undefined,
      'the target has no transactions capability',
      "writes inside the caller's transaction commit with it; a rollback leaves nothing",
      async () => {
        const store = await open();
        const connect = bind as NonNullable<typeof bind>;
        const kept = (await store.create(subjectKey('alice'))).key;
        const inside = await store.backend.transaction(async (tx) => {
          const bound = connect(store, tx);
          const created = (await bound.create(subjectKey('bob'))).key;
          const shredded = await bound.shred('alice');
          await bound.saveCursor('job', 'committed');
          assert.deepEqual(plain(await bound.byName('subject', 'bob')), plain(created));
          return { created, shredded };
        });
        assert.deepEqual(plain(await store.get(inside.created.id)), plain(inside.created));
        assert.deepEqual(plain(await store.get(kept.id)), plain(inside.shredded));
        const carol = (await store.create(subjectKey('carol'))).key;
        await assert.rejects(
          store.backend.transaction(async (tx) => {
            const bound = connect(store, tx);
            await bound.create(subjectKey('dave'));
            await bound.shred('carol');
            await bound.shred('erin');
            await bound.saveCursor('job', 'rolled back');
            throw new Error('roll back');
          }),
          /roll back/,
        );
        assert.equal(await store.byName('subject', 'dave'), undefined);
        assert.equal(await store.byName('subject', 'erin'), undefined);
        assert.deepEqual(plain(await store.get(carol.id)), plain(carol));
        assert.equal(await store.loadCursor('job'), 'committed');
      },
    );

    itIf(
      transactions && bind !== undefined,
      'the target has no transactions capability',
      'a create racing a transaction that creates the same key gets its key once it commits, and creates it when it rolls back',
      async () => {
        const store = await open();
        const connect = bind as NonNullable<typeof bind>;
        const race = async (subject: string, commit: boolean) => {
          const inserted = signal();
          const release = signal();
          const inside = store.backend.transaction(async (tx) => {
            const { key } = await connect(store, tx).create(subjectKey(subject, 1));
            inserted.resolve();
            await release.promise;
            if (!commit) throw new Error('roll back');
            return key;
          });
          await inserted.promise;
          // Started while the transaction holds the uncommitted key: it waits for the outcome.
          const outside = store.create(subjectKey(subject, 2));
          await sleep(250);
          release.resolve();
          return { inside: await inside.catch((error: Error) => error), outside: await outside };
        };
        const committed = await race('contended', true);
        assert.ok(!(committed.inside instanceof Error), String(committed.inside));
        assert.equal(committed.outside.created, false);
        assert.deepEqual(plain(committed.outside.key), plain(committed.inside));
        const rolledBack = await race('abandoned', false);
        assert.ok(rolledBack.inside instanceof Error);
        assert.equal(rolledBack.outside.created, true);
        assertStoredAs(rolledBack.outside.key, subjectKey('abandoned', 2));
      },
    );

    itIf(
      crossProcess !== undefined,
      'the store lives inside one process',
      `${processes} processes × ${PER_PROCESS} callers creating one subject's key get one key`,
      async () => {
        const namespace = uniqueNamespace('keys');
        const store = await open(namespace);
        const perProcess = await runTargetWorkers<DataKeyWorkerResult[]>(
          fileURLToPath(import.meta.url),
          'dataKeyStoreConformanceWorker',
          crossProcess as CrossProcessTarget,
          { namespace, subject: 'raced' } satisfies Omit<
            DataKeyWorkerArgs,
            'module' | 'exportName'
          >,
          PROCESS_TIMEOUT_MS,
        );
        const all = perProcess.flat();
        assert.equal(all.length, processes * PER_PROCESS);
        assert.equal(all.filter((r) => r.created).length, 1, 'one caller created the key');
        const key = await store.byName('subject', 'raced');
        assert.ok(key !== undefined);
        assert.deepEqual(new Set(all.map((r) => r.id)), new Set([key.id]));
        assert.equal((await store.list({ purpose: 'subject', limit: 10 })).length, 1);
      },
      PROCESS_TIMEOUT_MS,
    );
  });
}

/** A promise and the function that resolves it. */
function signal(): { readonly promise: Promise<void>; readonly resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** Waits until the store's clock has passed `time`, so a later write is strictly later. */
async function waitPast(store: DataKeyStore, time: number): Promise<void> {
  while ((await store.now()).getTime() <= time) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

interface DataKeyWorkerArgs {
  readonly module: string;
  readonly exportName: string;
  readonly namespace: string;
  /** The subject whose key every caller creates. */
  readonly subject: string;
}

interface DataKeyWorkerResult {
  readonly id: number;
  readonly created: boolean;
}

/**
 * The function the cross-process case runs in each child: opens the target's store on the
 * shared namespace and creates the key of `subject` from {@link PER_PROCESS} callers at once;
 * returns what each got. Exported for the child processes, not for direct use.
 *
 * @internal
 */
export async function dataKeyStoreConformanceWorker(
  args: DataKeyWorkerArgs,
): Promise<DataKeyWorkerResult[]> {
  const target = await importTarget<DataKeyStoreTarget>(
    args.module,
    args.exportName,
    'a DataKeyStoreTarget',
  );
  const store = await target.factory(args.namespace);
  try {
    await store.migrate();
    const results = await Promise.all(
      Array.from({ length: PER_PROCESS }, (_, i) => store.create(subjectKey(args.subject, i))),
    );
    return results.map((r) => ({ id: r.key.id, created: r.created }));
  } finally {
    await store.close();
  }
}
