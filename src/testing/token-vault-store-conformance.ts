/**
 * The conformance suite of the {@link TokenVaultStore} port: isolated namespaces and idempotent
 * migrations; a put that stores a token once, text kept byte for byte, however many callers (and
 * processes) race; erasure by data subject in bounded batches that leaves every other token;
 * writes that commit or roll back with the caller's transaction. Every token-vault store
 * flowproof ships runs it; run it on your own to certify it.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { StorageBackend } from '../core/storage-backend.js';
import {
  TOKEN_VAULT_STORE_COMPONENT,
  type TokenPut,
  type TokenPutResult,
  type TokenRow,
  type TokenVaultStore,
} from '../privacy/token-vault-store.js';
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
export interface TokenVaultStoreCapabilities {
  /**
   * The target has `bind`, and a store bound to a transaction's backend writes in that
   * transaction: its writes commit or roll back with it.
   * @default false
   */
  readonly transactions?: boolean;
}

/** A token-vault store under test. */
export interface TokenVaultStoreTarget<S extends TokenVaultStore = TokenVaultStore> {
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
  bind?(store: S, backend: StorageBackend): TokenVaultStore;
  /** Optional behaviour present. */
  readonly capabilities?: TokenVaultStoreCapabilities;
}

/** Options of {@link describeTokenVaultStoreConformance}. */
export interface TokenVaultStoreConformanceOptions<S extends TokenVaultStore>
  extends TokenVaultStoreTarget<S> {
  /** `describe` and `it` of your test framework (vitest, jest, node:test, mocha). */
  readonly test: ConformanceTestApi;
  /**
   * Enables the cross-process case (processes putting one token at once); omit for stores that
   * live inside one process.
   */
  readonly crossProcess?: CrossProcessTarget;
}

const CONCURRENT = 32;
const PER_PROCESS = 8;
const PROCESS_TIMEOUT_MS = 90_000;

function tokenPut(token: string, subject: string | null = 'subject-1', n = 1): TokenPut {
  return { token, tenant: 'acme', type: 'card', subject, ciphertext: `AQAAAAEciphertext-${n}` };
}

/** Asserts the racing puts of one token agree: one stored it, all got its row. */
function assertOneRow(results: readonly TokenPutResult[]): TokenRow {
  const created = results.filter((r) => r.created);
  assert.equal(created.length, 1, `${created.length} callers stored the token`);
  const row = (created[0] as TokenPutResult).row;
  for (const result of results) assert.deepEqual(result.row, row);
  return row;
}

/**
 * Registers the token-vault-store conformance tests for one store.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { createMemoryBackend, createMemoryTokenVaultStore } from 'flowproof/adapters/memory';
 * import { describeTokenVaultStoreConformance } from 'flowproof/testing';
 *
 * describeTokenVaultStoreConformance({
 *   name: 'memory',
 *   test: { describe, it },
 *   factory: () => createMemoryTokenVaultStore({ backend: createMemoryBackend() }),
 *   bind: (store, backend) => store.withBackend(backend as typeof store.backend),
 *   capabilities: { transactions: true },
 * });
 * ```
 */
export function describeTokenVaultStoreConformance<S extends TokenVaultStore>(
  options: TokenVaultStoreConformanceOptions<S>,
): void {
  const { test, name, factory, crossProcess } = options;
  const processes = crossProcess?.processes ?? 4;
  const transactions = options.capabilities?.transactions ?? false;
  const bind = options.bind?.bind(options);
  const { opened, it, itIf } = caseRunner<S>(test, name);
  const open = async (namespace = uniqueNamespace('tokens')) => {
    const store = await factory(namespace);
    opened.push(store);
    await store.migrate();
    return store;
  };

  test.describe(`TokenVaultStore conformance: ${name}`, () => {
    it('factory() gives isolated instances', async () => {
      const a = await open();
      const b = await open();
      await a.put(tokenPut('tok_1'));
      assert.equal(await b.get('tok_1'), undefined, 'a token leaked');
    });

    it('migrate() is idempotent, safe concurrently, and records component privacy-tokens', async () => {
      const namespace = uniqueNamespace('tokens');
      const [a, b] = [await factory(namespace), await factory(namespace)];
      opened.push(a, b);
      const reports = await Promise.all([a.migrate(), b.migrate()]);
      assert.deepEqual(reports.map((r) => r.applied.length > 0).sort(), [false, true]);
      const again = await a.migrate();
      assert.equal(again.component, TOKEN_VAULT_STORE_COMPONENT);
      assert.deepEqual(again.applied, []);
    });

    it('a store used before migrate() fails with SCHEMA_OUTDATED', async () => {
      const namespace = uniqueNamespace('tokens');
      const raw = await factory(namespace);
      opened.push(raw);
      await assertRejectsWithCode(raw.put(tokenPut('tok_1')), 'SCHEMA_OUTDATED');
      await assertRejectsWithCode(raw.get('tok_1'), 'SCHEMA_OUTDATED');
      const store = await open(namespace);
      assert.equal(await store.get('tok_1'), undefined);
    });

    it("put() stores a token once, byte for byte, on the store's clock", async () => {
      const store = await open();
      const put: TokenPut = {
        token: 'tok_Zürich_東京_🧾',
        tenant: '',
        type: 'iban – ✓',
        subject: 'Zoë 👩🏽‍💻',
        ciphertext: 'AQ\u00e9\u{1f4b6}  trailing spaces  ',
      };
      const before = (await store.now()).getTime();
      const first = await store.put(put);
      const later = (await store.now()).getTime();
      assert.equal(first.created, true);
      assert.deepEqual(first.row, { ...put, createdAt: first.row.createdAt });
      assert.ok(first.row.createdAt >= before && first.row.createdAt <= later);
      assert.deepEqual(await store.get(put.token), first.row);
      // Another value under the same token stores nothing: the first row is returned.
      const again = await store.put({ ...put, ciphertext: 'other', subject: null });
      assert.deepEqual(again, { row: first.row, created: false });
      // Tokens differing only by case or normalisation are different tokens.
      assert.equal(await store.get('TOK_ZÜRICH_東京_🧾'), undefined);
      assert.equal(await store.get('tok_Zu\u0308rich_東京_🧾'), undefined);
      const unowned = await store.put(tokenPut('tok_2', null));
      assert.equal(unowned.row.subject, null);
      assert.deepEqual(await store.get('tok_2'), unowned.row);
    });

    it(`${CONCURRENT} callers putting one token at once store one row`, async () => {
      const store = await open();
      const results = await Promise.all(
        Array.from({ length: CONCURRENT }, (_, i) => store.put(tokenPut('tok_race', 's', i))),
      );
      const row = assertOneRow(results);
      assert.deepEqual(await store.get('tok_race'), row);
    });

    it("deleteBySubject() drains one subject's tokens in batches and leaves the others", async () => {
      const store = await open();
      for (let i = 0; i < 7; i++) await store.put(tokenPut(`a_${i}`, 'alice'));
      const others = [
        (await store.put(tokenPut('b_1', 'bob'))).row,
        (await store.put(tokenPut('n_1', null))).row,
        (await store.put(tokenPut('alice', 'alicia'))).row,
      ];
      assert.equal(await store.deleteBySubject('nobody', 10), 0);
      const batches: number[] = [];
      for (;;) {
        const deleted = await store.deleteBySubject('alice', 3);
        batches.push(deleted);
        if (deleted < 3) break;
      }
      assert.deepEqual(batches, [3, 3, 1]);
      for (let i = 0; i < 7; i++) assert.equal(await store.get(`a_${i}`), undefined);
      for (const row of others) assert.deepEqual(await store.get(row.token), row);
      assert.equal(await store.deleteBySubject('alice', 3), 0);
    });

    it('a bad argument is a TypeError naming it, and nothing is written', async () => {
      const store = await open();
      const good = tokenPut('tok_1');
      const bad: readonly [() => Promise<unknown>, string][] = [
        [() => store.put({ ...good, token: '' }), 'token.token'],
        [() => store.put({ ...good, token: 'a\u0000b' }), 'token.token'],
        [() => store.put({ ...good, tenant: null as never }), 'token.tenant'],
        [() => store.put({ ...good, type: '' }), 'token.type'],
        [() => store.put({ ...good, subject: '' }), 'token.subject'],
        [() => store.put({ ...good, subject: undefined as never }), 'token.subject'],
        [() => store.put({ ...good, ciphertext: '\ud800' }), 'token.ciphertext'],
        [() => store.put({ ...good, extra: 1 } as TokenPut), 'extra'],
        [() => store.put(null as never), 'token'],
        [() => store.get(''), 'token'],
        [() => store.deleteBySubject('', 1), 'subject'],
        [() => store.deleteBySubject('s', 0), 'limit'],
        [() => store.deleteBySubject('s', 1.5), 'limit'],
      ];
      for (const [call, field] of bad) await assertTypeErrorNaming(call(), field);
      assert.equal(await store.get('tok_1'), undefined);
    });

    itIf(
      transactions && bind !== undefined,
      'the target has no transactions capability',
      "writes inside the caller's transaction commit with it; a rollback leaves nothing",
      async () => {
        const store = await open();
        const connect = bind as NonNullable<typeof bind>;
        const kept = (await store.put(tokenPut('kept', 'alice'))).row;
        const inside = await store.backend.transaction(async (tx) => {
          const bound = connect(store, tx);
          const { row } = await bound.put(tokenPut('committed', 'bob'));
          assert.equal(await bound.deleteBySubject('alice', 10), 1);
          assert.deepEqual(await bound.get('committed'), row);
          return row;
        });
        assert.deepEqual(await store.get('committed'), inside);
        assert.equal(await store.get(kept.token), undefined);
        await assert.rejects(
          store.backend.transaction(async (tx) => {
            const bound = connect(store, tx);
            await bound.put(tokenPut('rolled-back', 'carol'));
            await bound.deleteBySubject('bob', 10);
            throw new Error('roll back');
          }),
          /roll back/,
        );
        assert.equal(await store.get('rolled-back'), undefined);
        assert.deepEqual(await store.get('committed'), inside);
      },
    );

    itIf(
      crossProcess !== undefined,
      'the store lives inside one process',
      `${processes} processes × ${PER_PROCESS} callers putting one token store one row`,
      async () => {
        const namespace = uniqueNamespace('tokens');
        const store = await open(namespace);
        const perProcess = await runTargetWorkers<TokenWorkerResult[]>(
          fileURLToPath(import.meta.url),
          'tokenVaultStoreConformanceWorker',
          crossProcess as CrossProcessTarget,
          { namespace, token: 'tok_raced' } satisfies Omit<
            TokenWorkerArgs,
            'module' | 'exportName'
          >,
          PROCESS_TIMEOUT_MS,
        );
        const all = perProcess.flat();
        assert.equal(all.length, processes * PER_PROCESS);
        assert.equal(all.filter((r) => r.created).length, 1, 'one caller stored the token');
        const row = await store.get('tok_raced');
        assert.ok(row !== undefined);
        assert.deepEqual(new Set(all.map((r) => r.ciphertext)), new Set([row.ciphertext]));
      },
      PROCESS_TIMEOUT_MS,
    );
  });
}

interface TokenWorkerArgs {
  readonly module: string;
  readonly exportName: string;
  readonly namespace: string;
  /** The token every caller puts. */
  readonly token: string;
}

interface TokenWorkerResult {
  readonly ciphertext: string;
  readonly created: boolean;
}

/**
 * The function the cross-process case runs in each child: opens the target's store on the
 * shared namespace and puts `token` from {@link PER_PROCESS} callers at once, each with its own
 * ciphertext; returns what each got back. Exported for the child processes, not for direct use.
 *
 * @internal
 */
export async function tokenVaultStoreConformanceWorker(
  args: TokenWorkerArgs,
): Promise<TokenWorkerResult[]> {
  const target = await importTarget<TokenVaultStoreTarget>(
    args.module,
    args.exportName,
    'a TokenVaultStoreTarget',
  );
  const store = await target.factory(args.namespace);
  try {
    await store.migrate();
    const results = await Promise.all(
      Array.from({ length: PER_PROCESS }, (_, i) =>
        store.put(tokenPut(args.token, 's', process.pid * 100 + i)),
      ),
    );
    return results.map((r) => ({ ciphertext: r.row.ciphertext, created: r.created }));
  } finally {
    await store.close();
  }
}
