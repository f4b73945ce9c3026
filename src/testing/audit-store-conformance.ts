/**
 * The conformance suite of the {@link AuditStore} port: isolated namespaces and idempotent
 * migrations; records numbered 1, 2, 3… per chain, each body and hash exactly the encoding's
 * over the returned values, on the store's clock; batches in order, all or none; appends that
 * commit or roll back with the caller's transaction and leave no gap; concurrent appenders (across
 * processes where the store allows) that never fork a chain; chain pages, heads, queries with
 * keyset paging, checkpoints, verification markers and archiving; the database's refusal of any
 * other change (SQL stores); and raw tampering hooks whose every single mutation verification must
 * name. Every audit store flowproof ships runs it; run it on your own to certify it.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { auditRecordBody, auditRecordHash } from '../audit/audit-encoding.js';
import { createAuditLog } from '../audit/audit-log.js';
import {
  AUDIT_GENESIS_HASH,
  AUDIT_STORE_COMPONENT,
  type AuditAppend,
  type AuditCheckpoint,
  type AuditRow,
  type AuditStore,
} from '../audit/audit-store.js';
import type { AuditBreak, AuditBreakKind } from '../audit/chain-verifier.js';
import { canonicalJson } from '../core/canonical-json.js';
import type { StorageBackend } from '../core/storage-backend.js';
import {
  assertRejectsWithCode,
  type CrossProcessTarget,
  uniqueNamespace,
} from './backend-conformance.js';
import { runInProcesses } from './multi-process.js';
import { type ConformanceTestApi, caseRunner, importTarget } from './test-api.js';

/** Changes to a stored record that bypass the store (and its append-only protection). */
export interface AuditRecordChange {
  /** A new body. */
  readonly body?: string;
  /** A new previous-hash link. */
  readonly prevHash?: string;
  /** A new hash. */
  readonly hash?: string;
  /** A new sequence number (the record moves). */
  readonly seq?: number;
  /** A new time column (the body is left alone). */
  readonly recordedAt?: number;
}

/**
 * Raw access to a store's records, past its append-only protection: what an attacker (or a
 * careless administrator) with write access to the database could do. The tamper cases use it to
 * check that verification names every single mutation.
 */
export interface AuditTamper {
  /** Changes record `seq` of `chain`. */
  update(chain: string, seq: number, set: AuditRecordChange): Promise<void>;
  /** Deletes record `seq` of `chain` (the head is left alone). */
  delete(chain: string, seq: number): Promise<void>;
  /** Inserts `row` as it is (the head is left alone). */
  insert(row: AuditRow): Promise<void>;
}

/** Optional behaviour the suite tests only where the store has it. */
export interface AuditStoreCapabilities {
  /**
   * The target has `bind`, and a store bound to a transaction's backend appends in that
   * transaction: its records commit or roll back with it, and a rollback leaves no gap.
   * @default false
   */
  readonly transactions?: boolean;
  /**
   * The store's backend is a SQL backend (`table()` and `execute()`) whose database refuses
   * `UPDATE` and `DELETE` of records and checkpoints (except archived records).
   * @default false
   */
  readonly appendOnly?: boolean;
  /** With `appendOnly`: the engine has `TRUNCATE`, which is refused too. @default false */
  readonly truncate?: boolean;
}

/** An audit store under test. */
export interface AuditStoreTarget<S extends AuditStore = AuditStore> {
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
  bind?(store: S, backend: StorageBackend): AuditStore;
  /**
   * Raw access to `store`'s records, for the tamper cases (each single mutation must be found by
   * `createAuditLog({ store }).verify()` with its kind and sequence number); they are skipped
   * without it.
   */
  tamper?(store: S): AuditTamper;
  /** Optional behaviour present. */
  readonly capabilities?: AuditStoreCapabilities;
}

/** Options of {@link describeAuditStoreConformance}. */
export interface AuditStoreConformanceOptions<S extends AuditStore> extends AuditStoreTarget<S> {
  /** `describe` and `it` of your test framework (vitest, jest, node:test, mocha). */
  readonly test: ConformanceTestApi;
  /** Enables the cross-process appenders; omit for stores that live inside one process. */
  readonly crossProcess?: CrossProcessTarget;
}

const CONCURRENT = 32;
const PER_PROCESS = 16;
const PROCESS_TIMEOUT_MS = 90_000;
const TAMPER_LENGTH = 6;

/** A record to append: `i` picks actor, resource and correlation id. */
function entry(chain: string, i: number, extra: Record<string, unknown> = {}): AuditAppend {
  const value = {
    action: i % 2 === 0 ? 'order.updated' : 'order.created',
    actor: { id: `user-${i % 3}` },
    resource: { type: i % 4 === 0 ? 'invoice' : 'order', id: `r-${i % 5}` },
    correlationId: `corr-${i % 7}`,
    ...extra,
  };
  return {
    chain,
    content: canonicalJson(value, 'entry').slice(1, -1),
    action: value.action,
    actorId: value.actor.id,
    resourceType: value.resource.type,
    resourceId: value.resource.id,
    correlationId: value.correlationId,
  };
}

/** What concurrent appender `i` appends: one record, or (every other one) two at once. */
function appenderBatch(i: number): AuditAppend[] {
  return i % 2 === 0 ? [entry('global', i)] : [entry('global', i), entry('global', i + 500)];
}

/** How many records `appenders` appenders of {@link appenderBatch} append. */
function appended(appenders: number): number {
  return appenders + Math.floor(appenders / 2);
}

/** Asserts that `rows` are records 1..n of one chain, each body and hash as the encoding says. */
function assertChain(rows: readonly AuditRow[], chain: string, contents?: readonly string[]): void {
  let prev = AUDIT_GENESIS_HASH;
  rows.forEach((row, i) => {
    assert.equal(row.chain, chain);
    assert.equal(row.seq, i + 1, `record ${i + 1} has seq ${row.seq}`);
    assert.equal(row.prevHash, prev, `record ${row.seq} does not link to the one before`);
    const content = contents?.[i];
    if (content !== undefined) {
      assert.equal(row.body, auditRecordBody(chain, row.seq, row.recordedAt, content));
    }
    assert.equal(row.hash, auditRecordHash(prev, row.body), `record ${row.seq}'s hash`);
    prev = row.hash;
  });
}

/** The part of the store the append-only cases reach past it with. */
interface RawSql {
  table(name: string): string;
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
}

/**
 * Registers the audit-store conformance tests for one store.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import Database from 'better-sqlite3';
 * import { createSqliteAuditStore, createSqliteBackend } from 'flowproof/adapters/sqlite';
 * import { describeAuditStoreConformance } from 'flowproof/testing';
 *
 * describeAuditStoreConformance({
 *   name: 'sqlite',
 *   test: { describe, it },
 *   factory: (namespace) =>
 *     createSqliteAuditStore({
 *       backend: createSqliteBackend({ database: new Database(`/tmp/${namespace}.db`) }),
 *       ownsBackend: true,
 *     }),
 *   bind: (store, backend) => store.withBackend(backend as typeof store.backend),
 *   capabilities: { transactions: true, appendOnly: true },
 * });
 * ```
 */
export function describeAuditStoreConformance<S extends AuditStore>(
  options: AuditStoreConformanceOptions<S>,
): void {
  const { test, name, factory, crossProcess } = options;
  const transactions = options.capabilities?.transactions ?? false;
  const appendOnly = options.capabilities?.appendOnly ?? false;
  const truncate = appendOnly && (options.capabilities?.truncate ?? false);
  const bind = options.bind?.bind(options);
  const tamper = options.tamper?.bind(options);
  const { opened, it, itIf } = caseRunner<S>(test, name);
  const open = async (namespace = uniqueNamespace('audit')) => {
    const store = await factory(namespace);
    opened.push(store);
    await store.migrate();
    return store;
  };
  const processes = crossProcess?.processes ?? 4;
  const readAll = (store: AuditStore, chain: string) =>
    store.readChain({ chain, afterSeq: 0, limit: 10_000 });

  test.describe(`AuditStore conformance: ${name}`, () => {
    it('factory() gives isolated instances', async () => {
      const a = await open();
      const b = await open();
      await a.append([entry('global', 1)]);
      assert.deepEqual(await b.heads(), [], 'a chain leaked into another instance');
      const [row] = await b.append([entry('global', 2)]);
      assert.equal(row?.seq, 1);
    });

    it('migrate() is idempotent, safe concurrently, and records component audit', async () => {
      const namespace = uniqueNamespace('audit');
      const [a, b] = [await factory(namespace), await factory(namespace)];
      opened.push(a, b);
      const reports = await Promise.all([a.migrate(), b.migrate()]);
      assert.deepEqual(reports.map((r) => r.applied.length > 0).sort(), [false, true]);
      const again = await a.migrate();
      assert.equal(again.component, AUDIT_STORE_COMPONENT);
      assert.deepEqual(again.applied, []);
    });

    it('a store used before migrate() fails with SCHEMA_OUTDATED and writes nothing', async () => {
      const namespace = uniqueNamespace('audit');
      const raw = await factory(namespace);
      opened.push(raw);
      await assertRejectsWithCode(raw.append([entry('global', 1)]), 'SCHEMA_OUTDATED');
      await assertRejectsWithCode(raw.heads(), 'SCHEMA_OUTDATED');
      const store = await open(namespace);
      assert.deepEqual(await store.heads(), []);
    });

    it('append() numbers records 1..n per chain, chains independent, bodies and hashes as encoded', async () => {
      const store = await open();
      const before = (await store.now()).getTime();
      const appended: AuditRow[] = [];
      const contents: string[] = [];
      for (let i = 0; i < 4; i++) {
        const e = entry('global', i);
        contents.push(e.content);
        appended.push(...(await store.append([e])));
      }
      const [tenant] = await store.append([entry('tenant-a', 9)]);
      const after = (await store.now()).getTime();
      assertChain(appended, 'global', contents);
      assert.equal(tenant?.seq, 1, 'another chain starts at 1');
      assert.equal(tenant?.prevHash, AUDIT_GENESIS_HASH);
      for (const row of [...appended, tenant as AuditRow]) {
        assert.ok(
          row.recordedAt >= before - 1 && row.recordedAt <= after + 1,
          `recordedAt ${row.recordedAt} is not on the store's clock (${before}..${after})`,
        );
      }
      assert.deepEqual(
        await readAll(store, 'global'),
        appended,
        'stored rows differ from returned',
      );
    });

    it('a batch keeps its order across chains and is all or none', async () => {
      const store = await open();
      const batch = [entry('b', 0), entry('a', 1), entry('b', 2), entry('c', 3), entry('a', 4)];
      const rows = await store.append(batch);
      assert.deepEqual(
        rows.map((r) => `${r.chain}${r.seq}`),
        ['b1', 'a1', 'b2', 'c1', 'a2'],
      );
      rows.forEach((row, i) => {
        assert.equal(
          row.body,
          auditRecordBody(row.chain, row.seq, row.recordedAt, batch[i]?.content ?? ''),
        );
      });
      assertChain(await readAll(store, 'a'), 'a', [
        batch[1]?.content ?? '',
        batch[4]?.content ?? '',
      ]);
      assertChain(await readAll(store, 'b'), 'b');
      const bad = [entry('a', 5), { ...entry('d', 6), content: '"action":' }];
      await assert.rejects(store.append(bad), (error: unknown) => {
        assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`);
        assert.match(error.message, /entries\[1\]\.content/);
        return true;
      });
      assert.deepEqual(
        (await store.heads()).map((h) => [h.chain, h.seq]),
        [
          ['a', 2],
          ['b', 2],
          ['c', 1],
        ],
        'a refused batch wrote something',
      );
      assert.deepEqual(await store.append([]), []);
    });

    it('refuses bad arguments with a TypeError naming them, before writing', async () => {
      const store = await open();
      const refused = async (promise: Promise<unknown>, pattern: RegExp) =>
        assert.rejects(promise, (error: unknown) => {
          assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`);
          assert.match(error.message, pattern);
          return true;
        });
      await refused(store.append([{ ...entry('x', 1), chain: '' }]), /entries\[0\]\.chain/);
      await refused(store.append([{ ...entry('x', 1), chain: 'a\u0000b' }]), /entries\[0\]\.chain/);
      await refused(store.append([{ ...entry('x', 1), chain: '\ud800' }]), /entries\[0\]\.chain/);
      await refused(
        store.append([{ ...entry('x', 1), extra: 1 } as AuditAppend]),
        /entries\[0\]\.extra/,
      );
      await refused(store.readChain({ chain: 'x', afterSeq: -1, limit: 1 }), /read\.afterSeq/);
      await refused(store.readChain({ chain: 'x', afterSeq: 0, limit: 1.5 }), /read\.limit/);
      await refused(store.query({ limit: -1 }), /query\.limit/);
      await refused(store.query({ limit: 1, acter: 'u' } as never), /query\.acter/);
      await refused(store.archive({ chain: 'x', throughSeq: 1, limit: -1 }), /request\.limit/);
      await refused(store.markVerified('x', 1, 'nope'), /hash/);
      assert.deepEqual(await store.heads(), [], 'a refused call wrote something');
    });

    itIf(
      transactions,
      'the target has no transactions capability',
      "appends inside the caller's transaction commit with it; a rollback leaves no record and no gap",
      async () => {
        const store = await open();
        const bound = (tx: StorageBackend) => (bind as NonNullable<typeof bind>)(store, tx);
        await store.append([entry('global', 0)]);
        await store.backend.transaction(async (tx) => {
          await bound(tx).append([entry('global', 1), entry('other', 2)]);
        });
        await assert.rejects(
          store.backend.transaction(async (tx) => {
            await bound(tx).append([entry('global', 3)]);
            await bound(tx).append([entry('other', 4), entry('new', 5)]);
            throw new Error('roll back');
          }),
          /roll back/,
        );
        assert.deepEqual(
          (await store.heads()).map((h) => [h.chain, h.seq]),
          [
            ['global', 2],
            ['other', 1],
          ],
        );
        const [next] = await store.append([entry('global', 6)]);
        assert.equal(next?.seq, 3, 'the rolled-back record left a gap');
        assertChain(await readAll(store, 'global'), 'global');
        assert.deepEqual(await readAll(store, 'new'), []);
      },
    );

    itIf(
      crossProcess === undefined,
      'the cross-process appenders below cover it',
      `${CONCURRENT} concurrent appenders make one chain without gaps or forks`,
      async () => {
        const namespace = uniqueNamespace('audit');
        const store = await open(namespace);
        const stores = [store, await open(namespace), await open(namespace)];
        await Promise.all(
          Array.from({ length: CONCURRENT }, (_, i) =>
            (stores[i % stores.length] as AuditStore).append(appenderBatch(i)),
          ),
        );
        const rows = await readAll(store, 'global');
        assert.equal(rows.length, appended(CONCURRENT));
        assertChain(rows, 'global');
      },
    );

    itIf(
      crossProcess !== undefined,
      'the store lives inside one process (the in-process appenders above run instead)',
      `${processes} processes × ${PER_PROCESS} appenders make one chain without gaps or forks`,
      async () => {
        const namespace = uniqueNamespace('audit');
        const store = await open(namespace);
        const target = crossProcess as CrossProcessTarget;
        const results = await runInProcesses<number>({
          module: fileURLToPath(import.meta.url),
          exportName: 'auditStoreConformanceWorker',
          count: processes,
          execArgv: target.execArgv ?? [],
          timeoutMs: PROCESS_TIMEOUT_MS,
          args: {
            module: target.module,
            exportName: target.exportName,
            namespace,
            appenders: PER_PROCESS,
          } satisfies WorkerArgs,
        });
        for (const r of results)
          assert.equal(r.status, 'fulfilled', `a process failed: ${JSON.stringify(r)}`);
        const rows = await readAll(store, 'global');
        assert.equal(rows.length, processes * appended(PER_PROCESS));
        assertChain(rows, 'global');
      },
      PROCESS_TIMEOUT_MS,
    );

    it('readChain() pages by afterSeq, throughSeq and limit', async () => {
      const store = await open();
      const rows = await store.append(Array.from({ length: 7 }, (_, i) => entry('c', i)));
      const page = (afterSeq: number, limit: number, throughSeq?: number) =>
        store
          .readChain({
            chain: 'c',
            afterSeq,
            limit,
            ...(throughSeq === undefined ? {} : { throughSeq }),
          })
          .then((r) => r.map((row) => row.seq));
      assert.deepEqual(await page(0, 3), [1, 2, 3]);
      assert.deepEqual(await page(3, 3), [4, 5, 6]);
      assert.deepEqual(await page(6, 3), [7]);
      assert.deepEqual(await page(7, 3), []);
      assert.deepEqual(await page(1, 10, 4), [2, 3, 4]);
      assert.deepEqual(await page(0, 0), []);
      assert.deepEqual((await store.readChain({ chain: 'c', afterSeq: 4, limit: 1 }))[0], rows[4]);
      assert.deepEqual(await store.readChain({ chain: 'none', afterSeq: 0, limit: 5 }), []);
    });

    it('heads() reports one chain or all of them by name', async () => {
      const store = await open();
      const rows = await store.append([entry('b', 0), entry('a', 1), entry('b', 2)]);
      assert.deepEqual(await store.heads(), [
        { chain: 'a', seq: 1, hash: rows[1]?.hash, archivedThrough: 0 },
        { chain: 'b', seq: 2, hash: rows[2]?.hash, archivedThrough: 0 },
      ]);
      assert.deepEqual(await store.heads('b'), [
        { chain: 'b', seq: 2, hash: rows[2]?.hash, archivedThrough: 0 },
      ]);
      assert.deepEqual(await store.heads('none'), []);
    });

    it('query() filters by each criterion and time, ordered by time, chain and seq, with keyset pages', async () => {
      const store = await open();
      const rows: AuditRow[] = [];
      for (let i = 0; i < 12; i++) {
        rows.push(...(await store.append([entry(i % 3 === 0 ? 'x' : 'y', i)])));
      }
      const order = (a: AuditRow, b: AuditRow) =>
        a.recordedAt - b.recordedAt ||
        (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : a.seq - b.seq);
      const expected = (keep: (i: number, row: AuditRow) => boolean) =>
        rows.filter((row, i) => keep(i, row)).sort(order);
      const check = async (
        query: Parameters<AuditStore['query']>[0],
        keep: (i: number, row: AuditRow) => boolean,
      ) =>
        assert.deepEqual(
          await store.query(query),
          expected(keep).slice(0, query.limit),
          JSON.stringify(query),
        );
      await check({ limit: 100 }, () => true);
      await check({ chain: 'x', limit: 100 }, (i) => i % 3 === 0);
      await check({ action: 'order.created', limit: 100 }, (i) => i % 2 === 1);
      await check({ actorId: 'user-1', limit: 100 }, (i) => i % 3 === 1);
      await check({ resourceType: 'invoice', limit: 100 }, (i) => i % 4 === 0);
      await check(
        { resourceType: 'order', resourceId: 'r-1', limit: 100 },
        (i) => i % 4 !== 0 && i % 5 === 1,
      );
      await check({ correlationId: 'corr-2', limit: 100 }, (i) => i % 7 === 2);
      await check(
        { actorId: 'user-0', action: 'order.updated', limit: 100 },
        (i) => i % 3 === 0 && i % 2 === 0,
      );
      const middle = rows[5]?.recordedAt ?? 0;
      await check({ from: middle, limit: 100 }, (_, row) => row.recordedAt >= middle);
      await check({ to: middle, limit: 100 }, (_, row) => row.recordedAt < middle);
      assert.deepEqual(await store.query({ limit: 0 }), []);
      // Keyset pages of 5 cover everything once, in order.
      const seen: AuditRow[] = [];
      let after: AuditRow | undefined;
      for (;;) {
        const page = await store.query({
          limit: 5,
          ...(after === undefined
            ? {}
            : { after: { recordedAt: after.recordedAt, chain: after.chain, seq: after.seq } }),
        });
        if (page.length === 0) break;
        seen.push(...page);
        after = page[page.length - 1];
      }
      assert.deepEqual(
        seen,
        expected(() => true),
      );
      const lastOfY = expected((_, row) => row.chain === 'y')[2] as AuditRow;
      await check(
        {
          chain: 'y',
          after: { recordedAt: lastOfY.recordedAt, chain: 'y', seq: lastOfY.seq },
          limit: 100,
        },
        (_, row) => row.chain === 'y' && order(row, lastOfY) > 0,
      );
    });

    it('addCheckpoint() stores a checkpoint once; checkpoints() pages them in order', async () => {
      const store = await open();
      const rows = await store.append(Array.from({ length: 5 }, (_, i) => entry('c', i)));
      const checkpoint = (seq: number, keyId = 'k1'): AuditCheckpoint => ({
        chain: 'c',
        seq,
        hash: rows[seq - 1]?.hash ?? AUDIT_GENESIS_HASH,
        signedAt: 1_700_000_000_000 + seq,
        keyId,
        algorithm: 'ed25519',
        signature: `sig-${seq}-${keyId}`,
      });
      await store.addCheckpoint(checkpoint(4));
      await store.addCheckpoint(checkpoint(2));
      await store.addCheckpoint(checkpoint(2));
      await store.addCheckpoint(checkpoint(4, 'k2'));
      const page = (afterSeq: number, limit: number) =>
        store.checkpoints({ chain: 'c', afterSeq, limit });
      assert.deepEqual(await page(0, 10), [checkpoint(2), checkpoint(4), checkpoint(4, 'k2')]);
      assert.deepEqual(await page(0, 1), [checkpoint(2)]);
      assert.deepEqual(await page(2, 10), [checkpoint(4), checkpoint(4, 'k2')]);
      assert.deepEqual(await page(4, 10), []);
      assert.deepEqual(await store.checkpoints({ chain: 'none', afterSeq: 0, limit: 5 }), []);
    });

    it('markVerified() moves the marker that lastVerified() reads', async () => {
      const store = await open();
      assert.equal(await store.lastVerified('c'), undefined);
      await store.markVerified('c', 2, 'a'.repeat(64));
      assert.deepEqual(await store.lastVerified('c'), { seq: 2, hash: 'a'.repeat(64) });
      await store.markVerified('c', 5, 'b'.repeat(64));
      assert.deepEqual(await store.lastVerified('c'), { seq: 5, hash: 'b'.repeat(64) });
      assert.equal(await store.lastVerified('other'), undefined);
    });

    it('archive() deletes the oldest records up to a checkpointed boundary, in batches; refuses otherwise', async () => {
      const store = await open();
      const rows = await store.append(Array.from({ length: 8 }, (_, i) => entry('c', i)));
      const checkpoint = (seq: number): AuditCheckpoint => ({
        chain: 'c',
        seq,
        hash: rows[seq - 1]?.hash ?? '',
        signedAt: 1,
        keyId: 'k',
        algorithm: 'hmac-sha256',
        signature: 's',
      });
      /** Refused, with a reason that names the condition (`reason` matches it). */
      const refused = async (throughSeq: number, reason: RegExp) => {
        await assertRejectsWithCode(
          store.archive({ chain: 'c', throughSeq, limit: 100 }),
          'AUDIT_ARCHIVE_REFUSED',
        );
        await store
          .archive({ chain: 'c', throughSeq, limit: 100 })
          .catch((error: { details?: { reason?: unknown } }) => {
            const given = error.details?.reason;
            assert.deepEqual(error.details, { chain: 'c', throughSeq, reason: given });
            assert.match(String(given), reason);
          });
      };
      await refused(5, /checkpoint/);
      await refused(9, /last record/);
      await assertRejectsWithCode(
        store.archive({ chain: 'none', throughSeq: 1, limit: 1 }),
        'AUDIT_ARCHIVE_REFUSED',
      );
      assert.equal((await readAll(store, 'c')).length, 8, 'a refused archive deleted records');
      await store.addCheckpoint(checkpoint(5));
      await store.addCheckpoint(checkpoint(3));
      assert.equal(await store.archive({ chain: 'c', throughSeq: 5, limit: 2 }), 2);
      assert.deepEqual(
        (await readAll(store, 'c')).map((r) => r.seq),
        [3, 4, 5, 6, 7, 8],
      );
      assert.equal((await store.heads('c'))[0]?.archivedThrough, 5);
      assert.equal(await store.archive({ chain: 'c', throughSeq: 5, limit: 2 }), 2);
      assert.equal(await store.archive({ chain: 'c', throughSeq: 5, limit: 2 }), 1);
      assert.equal(await store.archive({ chain: 'c', throughSeq: 5, limit: 2 }), 0);
      await refused(3, /archived already/);
      assert.deepEqual(
        await readAll(store, 'c'),
        rows.slice(5),
        'records after the boundary changed',
      );
      const [next] = await store.append([entry('c', 9)]);
      assert.equal(next?.seq, 9);
      assert.equal(next?.prevHash, rows[7]?.hash);
    });

    itIf(
      appendOnly,
      'the target has no appendOnly capability',
      'the database refuses UPDATE, DELETE (above the archive boundary) and TRUNCATE of records and checkpoints, and moving a head back or its boundary without a checkpoint',
      async () => {
        const store = await open();
        const rows = await store.append(Array.from({ length: 3 }, (_, i) => entry('c', i)));
        await store.addCheckpoint({
          chain: 'c',
          seq: 1,
          hash: rows[0]?.hash ?? '',
          signedAt: 1,
          keyId: 'k',
          algorithm: 'ed25519',
          signature: 's',
        });
        const checkpoints = await store.checkpoints({ chain: 'c', afterSeq: 0, limit: 10 });
        await store.archive({ chain: 'c', throughSeq: 1, limit: 0 });
        const raw = store.backend as unknown as RawSql;
        const records = raw.table('audit_records');
        const cps = raw.table('audit_checkpoints');
        const heads = raw.table('audit_heads');
        const statements = [
          // Moving the boundary would let records go; moving the head back would fork the chain.
          `UPDATE ${heads} SET archived_through = 3`,
          `UPDATE ${heads} SET archived_through = 0`,
          `UPDATE ${heads} SET seq = 1`,
          `DELETE FROM ${heads}`,
          `UPDATE ${records} SET hash = prev_hash`,
          `UPDATE ${records} SET recorded_at = recorded_at + 1 WHERE seq = 3`,
          `DELETE FROM ${records} WHERE seq = 2`,
          `DELETE FROM ${records}`,
          `UPDATE ${cps} SET signature = 'forged'`,
          `DELETE FROM ${cps}`,
          ...(truncate ? [`TRUNCATE ${records}`, `TRUNCATE ${cps}`, `TRUNCATE ${heads}`] : []),
        ];
        for (const sql of statements) {
          await assert.rejects(
            raw.execute(sql),
            (error: unknown) => {
              assert.ok(!(error instanceof TypeError), `${sql}: ${String(error)}`);
              return true;
            },
            sql,
          );
        }
        assert.deepEqual(await readAll(store, 'c'), rows, 'a refused statement changed records');
        assert.deepEqual(await store.heads('c'), [
          { chain: 'c', seq: 3, hash: rows[2]?.hash, archivedThrough: 1 },
        ]);
        assert.deepEqual(
          await store.checkpoints({ chain: 'c', afterSeq: 0, limit: 10 }),
          checkpoints,
        );
        // Within the boundary, a record may go (that is how archive() deletes).
        assert.equal(await raw.execute(`DELETE FROM ${records} WHERE seq = 1`), 1);
      },
    );

    describeTamperCases();
  });

  function describeTamperCases(): void {
    /** One single mutation of a chain of {@link TAMPER_LENGTH} records, and what must be found. */
    const cases: readonly {
      readonly title: string;
      readonly expect: { readonly kind: AuditBreakKind; readonly seq: number };
      readonly apply: (t: AuditTamper, rows: readonly AuditRow[]) => Promise<void>;
      readonly check: (after: readonly AuditRow[], rows: readonly AuditRow[]) => void;
    }[] = [
      {
        title: 'edit the body of record 3',
        expect: { kind: 'content-changed', seq: 3 },
        apply: (t, rows) =>
          t.update('c', 3, { body: (rows[2]?.body ?? '').replace('order.', 'ORDER.') }),
        check: (after, rows) => assert.notEqual(after[2]?.body, rows[2]?.body),
      },
      {
        title: 'edit the time column of record 3',
        expect: { kind: 'content-changed', seq: 3 },
        apply: (t, rows) => t.update('c', 3, { recordedAt: (rows[2]?.recordedAt ?? 0) + 1000 }),
        check: (after, rows) =>
          assert.equal(after[2]?.recordedAt, (rows[2]?.recordedAt ?? 0) + 1000),
      },
      {
        title: 'edit the hash column of record 3',
        expect: { kind: 'link-broken', seq: 3 },
        apply: (t) => t.update('c', 3, { hash: 'f'.repeat(64) }),
        check: (after) => assert.equal(after[2]?.hash, 'f'.repeat(64)),
      },
      {
        title: 'edit the prev_hash column of record 3',
        expect: { kind: 'link-broken', seq: 3 },
        apply: (t) => t.update('c', 3, { prevHash: 'e'.repeat(64) }),
        check: (after) => assert.equal(after[2]?.prevHash, 'e'.repeat(64)),
      },
      {
        title: 'delete record 3 in the middle',
        expect: { kind: 'missing', seq: 3 },
        apply: (t) => t.delete('c', 3),
        check: (after) =>
          assert.deepEqual(
            after.map((r) => r.seq),
            [1, 2, 4, 5, 6],
          ),
      },
      {
        title: 'delete the first record',
        expect: { kind: 'missing', seq: 1 },
        apply: (t) => t.delete('c', 1),
        check: (after) =>
          assert.deepEqual(
            after.map((r) => r.seq),
            [2, 3, 4, 5, 6],
          ),
      },
      {
        title: 'delete the last 2 records (head untouched)',
        expect: { kind: 'truncated', seq: TAMPER_LENGTH - 1 },
        apply: async (t) => {
          await t.delete('c', TAMPER_LENGTH);
          await t.delete('c', TAMPER_LENGTH - 1);
        },
        check: (after) => assert.equal(after.length, TAMPER_LENGTH - 2),
      },
      {
        title: 'insert a forged record (garbage hash) at 3, renumbering the rest',
        expect: { kind: 'inserted', seq: 3 },
        apply: async (t, rows) => {
          await shiftUp(t, 3);
          const body = auditRecordBody('c', 3, rows[2]?.recordedAt ?? 0, entry('c', 99).content);
          await t.insert({ ...(rows[2] as AuditRow), body, hash: '1'.repeat(64) });
        },
        check: (after) => assert.equal(after.length, TAMPER_LENGTH + 1),
      },
      {
        title: 'insert a well-formed forged record at 3, linked to record 2',
        expect: { kind: 'inserted', seq: 3 },
        apply: async (t, rows) => {
          await shiftUp(t, 3);
          const prevHash = rows[1]?.hash ?? '';
          const body = auditRecordBody('c', 3, rows[2]?.recordedAt ?? 0, entry('c', 99).content);
          await t.insert({
            chain: 'c',
            seq: 3,
            recordedAt: rows[2]?.recordedAt ?? 0,
            body,
            prevHash,
            hash: auditRecordHash(prevHash, body),
          });
        },
        check: (after) => assert.equal(after.length, TAMPER_LENGTH + 1),
      },
      {
        title: 'swap records 2 and 4',
        expect: { kind: 'reordered', seq: 2 },
        apply: async (t) => {
          await t.update('c', 2, { seq: 0 });
          await t.update('c', 4, { seq: 2 });
          await t.update('c', 0, { seq: 4 });
        },
        check: (after, rows) => assert.equal(after[1]?.hash, rows[3]?.hash),
      },
      {
        title: 'delete record 3 and renumber the rest down',
        expect: { kind: 'missing', seq: 3 },
        apply: async (t) => {
          await t.delete('c', 3);
          for (let seq = 4; seq <= TAMPER_LENGTH; seq++) await t.update('c', seq, { seq: seq - 1 });
        },
        check: (after) =>
          assert.deepEqual(
            after.map((r) => r.seq),
            [1, 2, 3, 4, 5],
          ),
      },
    ];
    for (const c of cases) {
      itIf(
        tamper !== undefined,
        'the target has no tamper hook',
        `tamper: ${c.title} is found as ${c.expect.kind} at ${c.expect.seq}`,
        async () => {
          const store = await open();
          const rows = await store.append(
            Array.from({ length: TAMPER_LENGTH }, (_, i) => entry('c', i)),
          );
          assert.equal(await firstBreak(store), undefined, 'the intact chain did not verify');
          await c.apply((tamper as NonNullable<typeof tamper>)(store), rows);
          c.check(await readAll(store, 'c'), rows);
          assert.equal((await store.heads('c'))[0]?.seq, TAMPER_LENGTH, 'tampering moved the head');
          const found = await firstBreak(store);
          assert.deepEqual(found && { kind: found.kind, seq: found.seq }, c.expect, found?.message);
        },
      );
    }
  }
}

/** The first break verification finds in chain `c` of `store`, from its start. */
async function firstBreak(store: AuditStore): Promise<AuditBreak | undefined> {
  const report = await createAuditLog({ store }).verify({ chain: 'c', from: 'start' });
  return report.chains[0]?.break;
}

/** Moves records `from`..{@link TAMPER_LENGTH} up by one, last first, to make room at `from`. */
async function shiftUp(t: AuditTamper, from: number): Promise<void> {
  for (let seq = TAMPER_LENGTH; seq >= from; seq--) await t.update('c', seq, { seq: seq + 1 });
}

interface WorkerArgs {
  readonly module: string;
  readonly exportName: string;
  readonly namespace: string;
  readonly appenders: number;
}

/**
 * The function the cross-process appenders run in each child: opens the target's store on the
 * shared namespace and appends `appenders` records to chain `global` at once; returns how many it
 * appended. Exported for the child processes, not for direct use.
 *
 * @internal
 */
export async function auditStoreConformanceWorker(
  args: WorkerArgs,
  worker: { readonly index: number },
): Promise<number> {
  const target = await importTarget<AuditStoreTarget>(
    args.module,
    args.exportName,
    'an AuditStoreTarget',
  );
  const store = await target.factory(args.namespace);
  try {
    await store.migrate();
    const rows = await Promise.all(
      Array.from({ length: args.appenders }, (_, i) =>
        store.append(appenderBatch(worker.index * 1000 + i)),
      ),
    );
    return rows.flat().length;
  } finally {
    await store.close();
  }
}
