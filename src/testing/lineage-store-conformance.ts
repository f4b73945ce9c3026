/**
 * The conformance suite of the {@link LineageStore} port: isolated namespaces and idempotent
 * migrations; records appended on the store's clock, bodies kept byte for byte, batches all or
 * none; the newest value of a field at a time; history pages newest first and correlation pages
 * oldest first, without gaps or duplicates; retention purges in bounded batches, oldest first;
 * appends that commit or roll back with the caller's transaction; concurrent appenders. Every
 * lineage store flowproof ships runs it; run it on your own to certify it.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { isFlowproofError } from '../core/errors.js';
import { createId } from '../core/ids.js';
import type { StorageBackend } from '../core/storage-backend.js';
import {
  LINEAGE_STORE_COMPONENT,
  type LineageAppend,
  type LineageRow,
  type LineageStore,
} from '../lineage/lineage-store.js';
import {
  assertRejectsWithCode,
  type CrossProcessTarget,
  uniqueNamespace,
} from './backend-conformance.js';
import { type ProcessFulfilled, runInProcesses } from './multi-process.js';
import { type ConformanceTestApi, caseRunner, importTarget } from './test-api.js';

/** Optional behaviour the suite tests only where the store has it. */
export interface LineageStoreCapabilities {
  /**
   * The target has `bind`, and a store bound to a transaction's backend appends in that
   * transaction: its records commit or roll back with it.
   * @default false
   */
  readonly transactions?: boolean;
}

/** A lineage store under test. */
export interface LineageStoreTarget<S extends LineageStore = LineageStore> {
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
  bind?(store: S, backend: StorageBackend): LineageStore;
  /** Optional behaviour present. */
  readonly capabilities?: LineageStoreCapabilities;
}

/** Options of {@link describeLineageStoreConformance}. */
export interface LineageStoreConformanceOptions<S extends LineageStore>
  extends LineageStoreTarget<S> {
  /** `describe` and `it` of your test framework (vitest, jest, node:test, mocha). */
  readonly test: ConformanceTestApi;
  /**
   * Enables the cross-process cases (appenders, and purges racing each other); omit for stores
   * that live inside one process.
   */
  readonly crossProcess?: CrossProcessTarget;
}

const CONCURRENT = 32;
const PER_PROCESS = 16;
const PURGE_LIMIT = 7;
const EXPIRED = 120;
const PROCESS_TIMEOUT_MS = 90_000;

/** A `value` record of `entity`'s `field`. */
function valueRecord(
  entity: string,
  field: string,
  body = `{"v":1,"value":${JSON.stringify(field)}}`,
  correlationId: string | null = null,
): LineageAppend {
  return {
    id: createId(),
    kind: 'value',
    entity,
    field,
    job: null,
    runId: null,
    correlationId,
    causationId: null,
    body,
  };
}

/** A `run` record of pipeline `job`. */
function runRecord(job: string, correlationId: string | null = null): LineageAppend {
  return {
    id: createId(),
    kind: 'run',
    entity: null,
    field: null,
    job,
    runId: '6f1c2b1e-8d43-4a5e-9b7a-2f0c1d3e4a5b',
    correlationId,
    causationId: 'cause-1',
    body: '{"v":1,"type":"pipeline","state":"COMPLETE","stages":[]}',
  };
}

/** The row `record` becomes when appended at `recordedAt`. */
function rowOf(record: LineageAppend, recordedAt: number): LineageRow {
  return { ...record, recordedAt };
}

/** Waits until the store's clock has passed `time`, so the next append is strictly later. */
async function waitPast(store: LineageStore, time: number): Promise<void> {
  while ((await store.now()).getTime() <= time) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Every record of correlation id `correlationId`, oldest first. */
function allOf(store: LineageStore, correlationId: string): Promise<readonly LineageRow[]> {
  return store.byCorrelation({ correlationId, limit: 10_000 });
}

/** Asserts that `promise` rejects with a `TypeError` whose message mentions `name`. */
async function assertTypeError(promise: Promise<unknown>, name: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof TypeError, `expected a TypeError naming ${name}, got ${error}`);
    assert.ok(error.message.includes(name), `"${error.message}" does not name ${name}`);
    return true;
  });
}

/**
 * Registers the lineage-store conformance tests for one store.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import Database from 'better-sqlite3';
 * import { createSqliteBackend, createSqliteLineageStore } from 'flowproof/adapters/sqlite';
 * import { describeLineageStoreConformance } from 'flowproof/testing';
 *
 * describeLineageStoreConformance({
 *   name: 'sqlite',
 *   test: { describe, it },
 *   factory: (namespace) =>
 *     createSqliteLineageStore({
 *       backend: createSqliteBackend({ database: new Database(`/tmp/${namespace}.db`) }),
 *       ownsBackend: true,
 *     }),
 *   bind: (store, backend) => store.withBackend(backend as typeof store.backend),
 *   capabilities: { transactions: true },
 * });
 * ```
 */
export function describeLineageStoreConformance<S extends LineageStore>(
  options: LineageStoreConformanceOptions<S>,
): void {
  const { test, name, factory, crossProcess } = options;
  const processes = crossProcess?.processes ?? 4;
  /** Runs the worker in `processes` children on `namespace`, asserting each one succeeded. */
  const inProcesses = async (args: Omit<WorkerArgs, 'module' | 'exportName'>) => {
    const target = crossProcess as CrossProcessTarget;
    const results = await runInProcesses<number>({
      module: fileURLToPath(import.meta.url),
      exportName: 'lineageStoreConformanceWorker',
      count: processes,
      execArgv: target.execArgv ?? [],
      timeoutMs: PROCESS_TIMEOUT_MS,
      args: { ...args, module: target.module, exportName: target.exportName } satisfies WorkerArgs,
    });
    return results.map((r) => {
      assert.equal(r.status, 'fulfilled', `a process failed: ${JSON.stringify(r)}`);
      return (r as ProcessFulfilled<number>).value;
    });
  };
  const transactions = options.capabilities?.transactions ?? false;
  const bind = options.bind?.bind(options);
  const { opened, it, itIf } = caseRunner<S>(test, name);
  const open = async (namespace = uniqueNamespace('lineage')) => {
    const store = await factory(namespace);
    opened.push(store);
    await store.migrate();
    return store;
  };

  test.describe(`LineageStore conformance: ${name}`, () => {
    it('factory() gives isolated instances', async () => {
      const a = await open();
      const b = await open();
      await a.append([valueRecord('order:1', 'total', '{}', 'corr')]);
      assert.equal(await b.latest('order:1', 'total'), undefined, 'a record leaked');
      assert.deepEqual(await allOf(b, 'corr'), []);
    });

    it('migrate() is idempotent, safe concurrently, and records component lineage', async () => {
      const namespace = uniqueNamespace('lineage');
      const [a, b] = [await factory(namespace), await factory(namespace)];
      opened.push(a, b);
      const reports = await Promise.all([a.migrate(), b.migrate()]);
      assert.deepEqual(reports.map((r) => r.applied.length > 0).sort(), [false, true]);
      const again = await a.migrate();
      assert.equal(again.component, LINEAGE_STORE_COMPONENT);
      assert.deepEqual(again.applied, []);
    });

    it('a store used before migrate() fails with SCHEMA_OUTDATED', async () => {
      const namespace = uniqueNamespace('lineage');
      const raw = await factory(namespace);
      opened.push(raw);
      await assertRejectsWithCode(raw.append([valueRecord('order:1', 'total')]), 'SCHEMA_OUTDATED');
      await assertRejectsWithCode(raw.latest('order:1', 'total'), 'SCHEMA_OUTDATED');
      const store = await open(namespace);
      assert.equal(await store.latest('order:1', 'total'), undefined);
    });

    it("append() returns the rows in order, on the store's clock, bodies byte for byte", async () => {
      const store = await open();
      const correlationId = createId();
      const bodies = [
        '{"v":1,"value":"Zürich – 東京 ✓","provenance":{"kind":"literal"}}',
        '{"v":1,"value":"🧾💶👩🏽‍💻","note":"\\u0000 escaped, \\"quoted\\""}',
        '  {"spacing" :  "kept",\n"order":[3,1,2]}  ',
        '',
      ];
      const records = [
        ...bodies.map((body, i) => valueRecord('order:é', `field-${i}`, body, correlationId)),
        runRecord('checkout', correlationId),
      ];
      assert.deepEqual(await store.append([]), []);
      const before = (await store.now()).getTime();
      const rows = await store.append(records);
      const later = (await store.now()).getTime();
      assert.equal(rows.length, records.length);
      rows.forEach((row, i) => {
        assert.ok(
          row.recordedAt >= before && row.recordedAt <= later,
          `recordedAt ${row.recordedAt} is not between ${before} and ${later}`,
        );
        assert.deepEqual(row, rowOf(records[i] as LineageAppend, row.recordedAt));
      });
      assert.deepEqual(await allOf(store, correlationId), rows);
      for (const [i, body] of bodies.entries()) {
        assert.equal((await store.latest('order:é', `field-${i}`))?.body, body);
      }
    });

    it('a batch is all or none: a bad record is a TypeError naming it, nothing written', async () => {
      const store = await open();
      const correlationId = createId();
      const good = valueRecord('order:1', 'total', '{}', correlationId);
      const bad: readonly [unknown, string][] = [
        [{ ...good, id: 'not-a-ulid' }, 'records[1].id'],
        [{ ...good, id: createId(), kind: 'other' }, 'records[1].kind'],
        [{ ...good, id: createId(), entity: null }, 'records[1].entity'],
        [{ ...good, id: createId(), field: '' }, 'records[1].field'],
        [{ ...runRecord('job', correlationId), job: null }, 'records[1].job'],
        [{ ...runRecord('job', correlationId), runId: 7 }, 'records[1].runId'],
        [{ ...good, id: createId(), body: { v: 1 } }, 'records[1].body'],
        [{ ...good, id: createId(), correlationId: 'a\u0000b' }, 'records[1].correlationId'],
        [{ ...good, id: createId(), entity: 'x\uD800' }, 'records[1].entity'],
        [{ ...good, id: createId(), extra: 1 }, 'records[1]'],
        [good, 'records[1].id'],
      ];
      for (const [record, field] of bad) {
        await assertTypeError(store.append([good, record as LineageAppend]), field);
      }
      await assertTypeError(store.append('x' as never), 'records');
      assert.deepEqual(await allOf(store, correlationId), []);
    });

    it('a stored id is LINEAGE_RECORD_EXISTS {id}, and nothing of its batch is written', async () => {
      const store = await open();
      const correlationId = createId();
      const first = valueRecord('order:1', 'total', '{"n":1}', correlationId);
      const [stored] = await store.append([first]);
      const fresh = valueRecord('order:1', 'total', '{"n":2}', correlationId);
      for (const batch of [[first], [fresh, { ...first, body: '{"n":3}' }]]) {
        await assert.rejects(store.append(batch), (error: unknown) => {
          assert.ok(isFlowproofError(error), `expected a FlowproofError, got ${error}`);
          assert.equal(error.code, 'LINEAGE_RECORD_EXISTS');
          assert.deepEqual(error.details, { id: first.id });
          return true;
        });
      }
      assert.deepEqual(await allOf(store, correlationId), [stored]);
      // The store still appends after a refusal.
      assert.equal((await store.append([fresh]))[0]?.id, fresh.id);
    });

    it('refuses bad arguments of reads and purges with a TypeError naming them', async () => {
      const store = await open();
      await assertTypeError(store.latest('', 'total'), 'entity');
      await assertTypeError(store.latest('order:1', 5 as never), 'field');
      await assertTypeError(store.latest('order:1', 'total', 1.5), 'at');
      const read = { entity: 'order:1', field: 'total', limit: 10 };
      await assertTypeError(store.history({ ...read, limit: 0 }), 'read.limit');
      await assertTypeError(store.history({ ...read, limt: 3 } as never), 'limt');
      await assertTypeError(
        store.history({ ...read, before: { recordedAt: 1, id: 'x' } }),
        'read.before.id',
      );
      await assertTypeError(
        store.byCorrelation({ correlationId: 'c', kind: 'values' as never, limit: 1 }),
        'read.kind',
      );
      await assertTypeError(
        store.byCorrelation({
          correlationId: 'c',
          after: { recordedAt: -1, id: createId() },
          limit: 1,
        }),
        'read.after.recordedAt',
      );
      await assertTypeError(store.purge({ before: 1, limit: 0 }), 'request.limit');
      await assertTypeError(store.purge({ before: 'now' as never, limit: 1 }), 'request.before');
    });

    it('latest(): the newest value of one field, at a time, ties broken by id, runs never', async () => {
      const store = await open();
      assert.equal(await store.latest('order:1', 'total'), undefined);
      const [old] = await store.append([valueRecord('order:1', 'total', '{"value":1}')]);
      assert.ok(old);
      await waitPast(store, old.recordedAt);
      // One batch shares one time: the greater id wins.
      const tied = [
        valueRecord('order:1', 'total', '{"value":2}'),
        valueRecord('order:1', 'total', '{"value":3}'),
      ];
      const [, newest] = await store.append(tied);
      assert.ok(newest);
      assert.ok(newest.recordedAt > old.recordedAt);
      await store.append([
        valueRecord('order:1', 'subtotal', '{"other":"field"}'),
        valueRecord('order:2', 'total', '{"other":"entity"}'),
        { ...runRecord('pipeline'), entity: 'order:1', field: 'total' },
      ]);
      assert.deepEqual(await store.latest('order:1', 'total'), newest);
      assert.deepEqual(await store.latest('order:1', 'total', newest.recordedAt), newest);
      assert.deepEqual(await store.latest('order:1', 'total', newest.recordedAt - 1), old);
      assert.deepEqual(await store.latest('order:1', 'total', old.recordedAt), old);
      assert.equal(await store.latest('order:1', 'total', old.recordedAt - 1), undefined);
      assert.equal(await store.latest('order:1', 'total', -1), undefined);
      assert.equal(await store.latest('order:1', 'tota'), undefined);
      assert.equal(await store.latest('order:3', 'total'), undefined);
    });

    it('history() pages one field newest first: pages of any size join without gaps or duplicates', async () => {
      const store = await open();
      const appended: LineageRow[] = [];
      for (const size of [1, 3, 2]) {
        const batch = Array.from({ length: size }, (_, i) =>
          valueRecord('order:1', 'total', `{"i":${appended.length + i}}`),
        );
        appended.push(...(await store.append(batch)));
        await store.append([valueRecord('order:1', 'other'), runRecord('job')]);
        await waitPast(store, appended.at(-1)?.recordedAt ?? 0);
      }
      const expected = [...appended].reverse();
      for (let limit = 1; limit <= expected.length + 1; limit++) {
        const seen: LineageRow[] = [];
        let before: LineageRow | undefined;
        for (;;) {
          const page = await store.history({
            entity: 'order:1',
            field: 'total',
            limit,
            ...(before === undefined
              ? {}
              : { before: { recordedAt: before.recordedAt, id: before.id } }),
          });
          assert.ok(page.length <= limit);
          seen.push(...page);
          before = page.at(-1);
          if (page.length < limit) break;
        }
        assert.deepEqual(seen, expected, `pages of ${limit}`);
      }
      assert.deepEqual(await store.history({ entity: 'order:9', field: 'total', limit: 5 }), []);
    });

    it('byCorrelation() pages oldest first, filters by kind, and pages after a position', async () => {
      const store = await open();
      const correlationId = createId();
      const first = await store.append([
        valueRecord('order:1', 'total', '{}', correlationId),
        runRecord('checkout', correlationId),
      ]);
      await waitPast(store, first[0]?.recordedAt ?? 0);
      const second = await store.append([
        runRecord('invoice', correlationId),
        valueRecord('order:1', 'tax', '{}', correlationId),
        valueRecord('order:1', 'tax', '{}', createId()),
      ]);
      const ours = [...first, ...second.slice(0, 2)];
      assert.deepEqual(await allOf(store, correlationId), ours);
      const runs = ours.filter((r) => r.kind === 'run');
      assert.deepEqual(await store.byCorrelation({ correlationId, kind: 'run', limit: 10 }), runs);
      const values = ours.filter((r) => r.kind === 'value');
      assert.deepEqual(
        await store.byCorrelation({ correlationId, kind: 'value', limit: 10 }),
        values,
      );
      for (let limit = 1; limit <= ours.length; limit++) {
        const seen: LineageRow[] = [];
        let last: LineageRow | undefined;
        for (;;) {
          const page = await store.byCorrelation({
            correlationId,
            limit,
            ...(last === undefined ? {} : { after: { recordedAt: last.recordedAt, id: last.id } }),
          });
          seen.push(...page);
          last = page.at(-1);
          if (page.length < limit) break;
        }
        assert.deepEqual(seen, ours, `pages of ${limit}`);
      }
      const [firstRun] = runs;
      assert.ok(firstRun);
      assert.deepEqual(
        await store.byCorrelation({
          correlationId,
          kind: 'run',
          after: { recordedAt: firstRun.recordedAt, id: firstRun.id },
          limit: 10,
        }),
        runs.slice(1),
      );
    });

    it('purge() deletes at most limit rows before the time, oldest first, and repeated calls drain exactly', async () => {
      const store = await open();
      const correlationId = createId();
      const expired: LineageRow[] = [];
      for (let i = 0; i < 3; i++) {
        const rows = await store.append([
          valueRecord('order:1', 'total', `{"i":${i}}`, correlationId),
          runRecord('job', correlationId),
        ]);
        expired.push(...rows);
        await waitPast(store, rows[0]?.recordedAt ?? 0);
      }
      const cutoff = (await store.now()).getTime();
      await waitPast(store, cutoff);
      const kept = await store.append([
        valueRecord('order:1', 'total', '{"i":"new"}', correlationId),
        runRecord('job', correlationId),
      ]);
      assert.equal(await store.purge({ before: -1, limit: 10 }), 0);
      assert.equal(await store.purge({ before: expired[0]?.recordedAt ?? 0, limit: 10 }), 0);
      // Oldest first: one row goes, then the rest of the first batch's time, then the others.
      assert.equal(await store.purge({ before: cutoff, limit: 1 }), 1);
      assert.deepEqual(await allOf(store, correlationId), [...expired.slice(1), ...kept]);
      let total = 1;
      let calls = 0;
      for (;;) {
        const deleted = await store.purge({ before: cutoff, limit: 2 });
        assert.ok(deleted <= 2, `purge deleted ${deleted} rows, more than its limit`);
        total += deleted;
        calls++;
        if (deleted < 2) break;
      }
      assert.equal(total, expired.length);
      assert.equal(calls, Math.floor((expired.length - 1) / 2) + 1);
      assert.deepEqual(await allOf(store, correlationId), kept);
      assert.equal(await store.purge({ before: cutoff, limit: 100 }), 0);
    });

    itIf(
      transactions && bind !== undefined,
      'the target has no transactions capability',
      "appends inside the caller's transaction commit with it; a rollback leaves nothing",
      async () => {
        const store = await open();
        const connect = bind as NonNullable<typeof bind>;
        const correlationId = createId();
        const committed = valueRecord('order:1', 'total', '{"tx":"commit"}', correlationId);
        const rolledBack = valueRecord('order:1', 'total', '{"tx":"rollback"}', correlationId);
        const inside = await store.backend.transaction(async (tx) => {
          const bound = connect(store, tx);
          const rows = await bound.append([committed]);
          assert.deepEqual(await bound.latest('order:1', 'total'), rows[0]);
          // A refused batch leaves the transaction usable.
          await assertRejectsWithCode(
            bound.append([valueRecord('order:1', 'x'), committed]),
            'LINEAGE_RECORD_EXISTS',
          );
          return rows;
        });
        await assert.rejects(
          store.backend.transaction(async (tx) => {
            await connect(store, tx).append([rolledBack, runRecord('job', correlationId)]);
            throw new Error('roll back');
          }),
          /roll back/,
        );
        assert.deepEqual(await allOf(store, correlationId), inside);
      },
    );

    it(`${CONCURRENT} concurrent appenders all land`, async () => {
      const store = await open();
      const correlationId = createId();
      const batches = Array.from({ length: CONCURRENT }, (_, i) =>
        i % 2 === 0
          ? [valueRecord(`order:${i}`, 'total', `{"i":${i}}`, correlationId)]
          : [
              valueRecord(`order:${i}`, 'total', '{}', correlationId),
              runRecord(`job-${i}`, correlationId),
            ],
      );
      const results = await Promise.all(batches.map((batch) => store.append(batch)));
      const ids = new Set(results.flat().map((row) => row.id));
      assert.equal(ids.size, batches.flat().length);
      const stored = await allOf(store, correlationId);
      assert.deepEqual(new Set(stored.map((row) => row.id)), ids);
    });

    itIf(
      crossProcess !== undefined,
      'the store lives inside one process',
      `${processes} processes × ${PER_PROCESS} appenders all land`,
      async () => {
        const namespace = uniqueNamespace('lineage');
        const store = await open(namespace);
        const correlationId = createId();
        const appended = await inProcesses({ namespace, correlationId, mode: 'append' });
        assert.deepEqual(appended, Array(processes).fill(PER_PROCESS * 2));
        const stored = await allOf(store, correlationId);
        assert.equal(new Set(stored.map((row) => row.id)).size, processes * PER_PROCESS * 2);
      },
      PROCESS_TIMEOUT_MS,
    );

    itIf(
      crossProcess !== undefined,
      'the store lives inside one process',
      `${processes} processes purging at once delete each expired record once, and only those`,
      async () => {
        const namespace = uniqueNamespace('lineage');
        const store = await open(namespace);
        const correlationId = createId();
        const batch = (size: number) =>
          Array.from({ length: size }, (_, i) =>
            i % 3 === 0
              ? runRecord('job', correlationId)
              : valueRecord(`order:${i}`, 'total', '{}', correlationId),
          );
        await store.append(batch(EXPIRED));
        const cutoff = (await store.now()).getTime();
        await waitPast(store, cutoff);
        const kept = await store.append(batch(5));
        const deleted = await inProcesses({ namespace, before: cutoff + 1, mode: 'purge' });
        assert.equal(
          deleted.reduce((a, b) => a + b, 0),
          EXPIRED,
          `the processes deleted ${deleted.join(' + ')} rows`,
        );
        assert.deepEqual(await allOf(store, correlationId), kept);
      },
      PROCESS_TIMEOUT_MS,
    );
  });
}

interface WorkerArgs {
  readonly module: string;
  readonly exportName: string;
  readonly namespace: string;
  /** `append`: append {@link PER_PROCESS} batches of two at once; `purge`: purge until drained. */
  readonly mode: 'append' | 'purge';
  /** With `append`: the records' correlation id. */
  readonly correlationId?: string;
  /** With `purge`: the purge's time. */
  readonly before?: number;
}

/**
 * The function the cross-process cases run in each child: opens the target's store on the
 * shared namespace and either appends {@link PER_PROCESS} batches of two records at once, or
 * purges in batches until a purge deletes less than its limit; returns how many records it
 * appended or deleted. Exported for the child processes, not for direct use.
 *
 * @internal
 */
export async function lineageStoreConformanceWorker(args: WorkerArgs): Promise<number> {
  const target = await importTarget<LineageStoreTarget>(
    args.module,
    args.exportName,
    'a LineageStoreTarget',
  );
  const store = await target.factory(args.namespace);
  try {
    await store.migrate();
    if (args.mode === 'append') {
      const correlationId = args.correlationId ?? null;
      const rows = await Promise.all(
        Array.from({ length: PER_PROCESS }, (_, i) =>
          store.append([
            valueRecord(`order:${i}`, 'total', '{}', correlationId),
            runRecord('job', correlationId),
          ]),
        ),
      );
      return rows.flat().length;
    }
    let total = 0;
    for (;;) {
      const deleted = await store.purge({ before: args.before ?? 0, limit: PURGE_LIMIT });
      total += deleted;
      if (deleted < PURGE_LIMIT) return total;
    }
  } finally {
    await store.close();
  }
}
