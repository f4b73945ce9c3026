/**
 * The conformance suite of the {@link IdempotencyStore} port, and of `createIdempotency` running
 * over it: claims and fencing tokens, leases by the store's clock, retention and cleanup, round
 * trips, randomized concurrent duplicates in one process and across processes, and crashes of a
 * child process at each step. Every idempotency store flowproof ships runs it; run it on yours.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { isFlowproofError } from '../core/errors.js';
import { IdempotencyInProgressError } from '../idempotency/errors.js';
import {
  createIdempotency,
  type IdempotencyOptions,
  type RunContext,
} from '../idempotency/idempotency.js';
import type { ClaimRequest, IdempotencyStore } from '../idempotency/idempotency-store.js';
import {
  assertRejectsWithCode,
  type CrossProcessTarget,
  uniqueNamespace,
} from './backend-conformance.js';
import { type ProcessResult, runInProcesses, startProcesses } from './multi-process.js';
import { seededRandom } from './seeded-random.js';
import { type ConformanceTestApi, caseRunner, importTarget } from './test-api.js';

/** Hooks the suite passes to a factory. */
export interface IdempotencyStoreHooks {
  /**
   * Call once per round trip to the store's server (query, command, script run…). The suite checks
   * that a claim, a completion and a duplicate of a completed key each cost one.
   */
  readonly onRoundTrip?: () => void;
}

/** Optional behaviour the suite tests only where the store has it. */
export interface IdempotencyStoreCapabilities {
  /**
   * `transaction()` is available (SQL backends).
   * @default false
   */
  readonly transactions?: boolean;
  /**
   * The factory calls `hooks.onRoundTrip`, so round trips can be counted.
   * @default true
   */
  readonly countsRoundTrips?: boolean;
  /**
   * `batched`: `deleteExpired` removes expired records; `native`: the server expires them itself
   * (Redis) and `deleteExpired` returns 0.
   * @default 'batched'
   */
  readonly cleanup?: 'batched' | 'native';
  /**
   * `server`: the store's clock is its server's and must not follow the host's `Date.now()`;
   * `host`: the store runs in this process (memory, SQLite, PGlite) and shares its clock.
   * @default 'server'
   */
  readonly storeClock?: 'server' | 'host';
  /**
   * A store used before `migrate()` fails with `SCHEMA_OUTDATED` (its tables are missing). False
   * where `migrate()` has nothing to create (Redis) and the store works without it.
   * @default true
   */
  readonly requiresMigrate?: boolean;
}

/** An idempotency store under test. */
export interface IdempotencyStoreTarget {
  /** Shown in test titles. */
  readonly name: string;
  /**
   * Opens a store on `namespace` (a fresh schema, key prefix, file…). Different namespaces must
   * give isolated stores; the same namespace, the same records (also from another process).
   */
  readonly factory: (
    namespace: string,
    hooks?: IdempotencyStoreHooks,
  ) => IdempotencyStore | Promise<IdempotencyStore>;
  /** Optional behaviour present. */
  readonly capabilities?: IdempotencyStoreCapabilities;
}

/** Options of {@link describeIdempotencyStoreConformance}. */
export interface IdempotencyStoreConformanceOptions extends IdempotencyStoreTarget {
  /** `describe` and `it` of your test framework. */
  readonly test: ConformanceTestApi;
  /** Enables the cross-process tests (concurrency, crashes, skewed clocks). */
  readonly crossProcess?: CrossProcessTarget;
  /**
   * Randomized in-process trials of the concurrency property.
   * @default 250
   */
  readonly trials?: number;
  /**
   * Seed of the trials' random numbers; a failure message names the seed to replay it.
   * @default a random seed
   */
  readonly seed?: number;
}

const FIVE_MINUTES = 5 * 60_000;
const claimOf = (key: string, overrides: Partial<ClaimRequest> = {}): ClaimRequest => ({
  key,
  fingerprint: 'fp-1',
  leaseMs: 30_000,
  retentionMs: 60_000,
  reclaimStarted: false,
  ...overrides,
});
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What one concurrent caller saw. */
type Seen = { readonly executed: boolean; readonly value?: string; readonly code?: string };

/** Fires `count` concurrent `run()` calls on `key`; each execution returns a unique value. */
async function race(
  store: IdempotencyStore,
  key: string,
  count: number,
  label: string,
  delays: { readonly workMs: number; readonly staggerMs?: () => number },
  options: Partial<IdempotencyOptions> = {},
): Promise<Seen[]> {
  const idempotency = createIdempotency({ store, operation: 'conformance.race', ...options });
  return Promise.all(
    Array.from({ length: count }, async (_, i): Promise<Seen> => {
      const stagger = delays.staggerMs?.() ?? 0;
      if (stagger > 0) await wait(stagger);
      let executed = false;
      try {
        const value = await idempotency.run(key, { order: key }, async () => {
          executed = true;
          if (delays.workMs > 0) await wait(delays.workMs);
          return `${label}:${i}`;
        });
        return { executed, value };
      } catch (error) {
        return { executed, code: isFlowproofError(error) ? error.code : String(error) };
      }
    }),
  );
}

/** Asserts exactly one execution, and that every other caller got its value or IN_PROGRESS. */
function assertOneExecution(seen: readonly Seen[], context: string): void {
  const executions = seen.filter((s) => s.executed);
  assert.equal(executions.length, 1, `${context}: ${executions.length} executions, want exactly 1`);
  const winner = executions[0]?.value;
  for (const s of seen) {
    if (s.code !== undefined) {
      assert.equal(s.code, 'IDEMPOTENCY_IN_PROGRESS', `${context}: unexpected ${s.code}`);
    } else {
      assert.equal(s.value, winner, `${context}: a caller got a different result`);
    }
  }
}

/**
 * Registers the idempotency store conformance tests for one store.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { describeIdempotencyStoreConformance } from 'flowproof/testing';
 *
 * describeIdempotencyStoreConformance({
 *   name: 'my-store',
 *   test: { describe, it },
 *   factory: (namespace) => createMyIdempotencyStore({ namespace }),
 *   capabilities: { transactions: true },
 * });
 * ```
 */
export function describeIdempotencyStoreConformance(
  options: IdempotencyStoreConformanceOptions,
): void {
  const { test, name, factory, crossProcess } = options;
  const transactions = options.capabilities?.transactions ?? false;
  const countsRoundTrips = options.capabilities?.countsRoundTrips ?? true;
  const cleanup = options.capabilities?.cleanup ?? 'batched';
  const storeClock = options.capabilities?.storeClock ?? 'server';
  const requiresMigrate = options.capabilities?.requiresMigrate ?? true;
  const trials = options.trials ?? 250;
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const { opened, it, itIf } = caseRunner<IdempotencyStore>(test, name);
  const open = async (namespace = uniqueNamespace(), hooks?: IdempotencyStoreHooks) => {
    const store = await factory(namespace, hooks);
    opened.push(store);
    await store.migrate();
    return store;
  };

  test.describe(`IdempotencyStore conformance: ${name}`, () => {
    it('factory() gives isolated instances', async () => {
      const a = await open();
      const b = await open();
      assert.equal((await a.claim(claimOf('iso'))).claimed, true);
      assert.equal(await b.get('iso'), undefined, 'a record leaked into another instance');
      assert.equal((await b.claim(claimOf('iso'))).claimed, true);
    });

    itIf(
      requiresMigrate,
      'migrate() has nothing to create there',
      'a store used before migrate() fails with SCHEMA_OUTDATED, saying migrate() was not run',
      async () => {
        const store = await factory(uniqueNamespace());
        opened.push(store);
        const calls: Record<string, () => Promise<unknown>> = {
          claim: () => store.claim(claimOf('k')),
          get: () => store.get('k'),
          complete: () => store.complete('k', 1, 'result', 60_000),
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

    it('migrates idempotently', async () => {
      const store = await open();
      assert.deepEqual((await store.migrate()).applied, []);
    });

    it('claims once; a second claim returns the in-progress record', async () => {
      const store = await open();
      const first = await store.claim(claimOf('k'));
      assert.equal(first.claimed, true);
      assert.equal(first.claimed && first.reclaimed, undefined);
      assert.ok(first.record.token >= 1);
      assert.equal(first.record.status, 'in_progress');
      const lease = first.record.leaseExpiresAt - first.record.now;
      assert.ok(Math.abs(lease - 30_000) < 1_000, `lease computed as ${lease} ms`);
      const second = await store.claim(claimOf('k'));
      assert.equal(second.claimed, false);
      assert.equal(second.record.status, 'in_progress');
      assert.equal(second.record.token, first.record.token);
      assert.equal(second.record.fingerprint, 'fp-1');
    });

    it('completes with the fencing token and returns the result to later claims', async () => {
      const store = await open();
      const { record } = await store.claim(claimOf('k'));
      assert.equal(await store.complete('k', record.token + 1, 'wrong', 60_000), false);
      assert.equal(await store.release('k', record.token + 1), false);
      assert.equal(await store.heartbeat('k', record.token + 1, 30_000, false), false);
      assert.equal(await store.complete('k', record.token, 'result-1', 60_000), true);
      assert.equal(await store.complete('k', record.token, 'again', 60_000), false);
      assert.equal(await store.release('k', record.token), false, 'released a completed record');
      const dup = await store.claim(claimOf('k'));
      assert.equal(dup.claimed, false);
      assert.equal(dup.record.status, 'completed');
      assert.equal(dup.record.result, 'result-1');
      assert.equal((await store.get('k'))?.result, 'result-1');
      assert.equal(await store.get('absent'), undefined);
    });

    it('never lets a different fingerprint take a key, whatever its state', async () => {
      const store = await open();
      const { record } = await store.claim(claimOf('k'));
      assert.equal((await store.claim(claimOf('k', { fingerprint: 'fp-2' }))).claimed, false);
      await store.release('k', record.token);
      const other = await store.claim(claimOf('k', { fingerprint: 'fp-2' }));
      assert.equal(other.claimed, false);
      assert.equal(other.record.status, 'released');
    });

    it('re-claims a released key with a higher token', async () => {
      const store = await open();
      const first = await store.claim(claimOf('k'));
      assert.equal(await store.release('k', first.record.token), true);
      const again = await store.claim(claimOf('k'));
      assert.equal(again.claimed, true);
      assert.equal(again.claimed && again.reclaimed, 'released');
      assert.ok(again.record.token > first.record.token);
    });

    it('re-claims an expired lease by the store clock; the stale owner is rejected', async () => {
      const store = await open();
      const first = await store.claim(claimOf('k', { leaseMs: 300 }));
      assert.equal((await store.claim(claimOf('k', { leaseMs: 300 }))).claimed, false);
      const started = Date.now();
      let again = await store.claim(claimOf('k', { leaseMs: 300 }));
      while (!again.claimed && Date.now() - started < 3_000) {
        await wait(25);
        again = await store.claim(claimOf('k', { leaseMs: 300 }));
      }
      const elapsed = Date.now() - started;
      assert.equal(again.claimed, true, 'the key never became claimable again');
      assert.ok(elapsed <= 300 + 1_000, `the key was reusable only after ${elapsed} ms`);
      assert.equal(again.claimed && again.reclaimed, 'lease-expired');
      assert.ok(again.record.token > first.record.token);
      assert.equal(await store.complete('k', first.record.token, 'stale', 60_000), false);
      assert.equal(await store.release('k', first.record.token), false);
      assert.equal(await store.heartbeat('k', first.record.token, 300, true), false);
      assert.equal(await store.complete('k', again.record.token, 'fresh', 60_000), true);
    });

    it('keeps a lease alive with heartbeats', async () => {
      const store = await open();
      const { record } = await store.claim(claimOf('k', { leaseMs: 300 }));
      for (let i = 0; i < 4; i += 1) {
        await wait(150);
        assert.equal(await store.heartbeat('k', record.token, 300, false), true);
        assert.equal((await store.claim(claimOf('k', { leaseMs: 300 }))).claimed, false);
      }
    });

    it('does not re-claim an expired lease whose owner started its side effect, unless asked', async () => {
      const store = await open();
      const { record } = await store.claim(claimOf('k', { leaseMs: 200 }));
      assert.equal(await store.heartbeat('k', record.token, 200, true), true);
      await wait(350);
      const blocked = await store.claim(claimOf('k', { leaseMs: 200 }));
      assert.equal(blocked.claimed, false);
      assert.equal(blocked.record.sideEffectStarted, true);
      assert.ok(blocked.record.leaseExpiresAt <= blocked.record.now);
      const idempotency = createIdempotency({ store, operation: 'conformance' });
      const forced = await store.claim(claimOf('k', { leaseMs: 200, reclaimStarted: true }));
      assert.equal(forced.claimed, true);
      assert.equal(forced.record.sideEffectStarted, false);
      // Through the runner: the same situation is reported, not silently re-run.
      let runs = 0;
      const fn = async ({ markSideEffectStarted }: RunContext) => {
        runs += 1;
        await markSideEffectStarted();
        throw new Error('crash after the side effect');
      };
      const short = createIdempotency({
        store,
        operation: 'conformance',
        leaseMs: 200,
        heartbeat: false,
        onError: () => 'store',
      });
      // A stored error would be replayed; simulate a crash instead by never finishing the claim.
      const begun = await short.begin('crash', { a: 1 });
      assert.equal(begun.type, 'claimed');
      if (begun.type === 'claimed') await begun.claim.markSideEffectStarted();
      await wait(350);
      await assertRejectsWithCode(
        idempotency.run('crash', { a: 1 }, fn),
        'IDEMPOTENCY_OUTCOME_UNKNOWN',
      );
      assert.equal(runs, 0);
      await assert.rejects(
        idempotency.run('crash', { a: 1 }, fn, { onOutcomeUnknown: 'rerun' }),
        /crash after the side effect/,
      );
      assert.equal(runs, 1);
    });

    it('expires records after retention; cleanup deletes them but never a live lease', async () => {
      const store = await open();
      const done = await store.claim(claimOf('done', { leaseMs: 100, retentionMs: 200 }));
      await store.complete('done', done.record.token, 'r', 200);
      await store.claim(claimOf('live', { leaseMs: 30_000, retentionMs: 200 }));
      await wait(350);
      assert.equal(await store.get('done'), undefined, 'a record outlived its retention');
      assert.equal((await store.get('live'))?.status, 'in_progress');
      if (cleanup === 'batched') assert.equal(await store.deleteExpired(100), 1);
      else assert.equal(await store.deleteExpired(100), 0);
      assert.equal(
        (await store.get('live'))?.status,
        'in_progress',
        'cleanup removed a live lease',
      );
      const fresh = await store.claim(claimOf('done', { fingerprint: 'another request' }));
      assert.equal(fresh.claimed, true, 'an expired key was not claimable');
    });

    itIf(
      cleanup === 'batched',
      'the server expires records itself',
      'cleanup racing a re-claim never deletes the new claim',
      async () => {
        const store = await open();
        for (let i = 0; i < 20; i += 1) {
          const key = `race-${i}`;
          const first = await store.claim(claimOf(key, { leaseMs: 20, retentionMs: 40 }));
          await store.complete(key, first.record.token, 'old', 40);
          await wait(60);
          const [, claimed] = await Promise.all([
            store.deleteExpired(1_000),
            store.claim(claimOf(key, { retentionMs: 60_000 })),
          ]);
          assert.equal(claimed.claimed, true);
          const after = await store.get(key);
          assert.equal(after?.status, 'in_progress', `trial ${i}: the new claim was deleted`);
          assert.equal(after?.token, claimed.record.token);
        }
      },
    );

    itIf(
      countsRoundTrips,
      'the factory cannot count round trips',
      'costs one round trip to claim, one to complete, one for a duplicate of a completed key',
      async () => {
        let trips = 0;
        const store = await open(uniqueNamespace(), { onRoundTrip: () => (trips += 1) });
        const idempotency = createIdempotency({
          store,
          operation: 'conformance',
          heartbeat: false,
        });
        await idempotency.run('warm-up', {}, async () => 'x'); // loads scripts, prepares statements
        trips = 0;
        const begun = await idempotency.begin('k', { a: 1 });
        assert.equal(trips, 1, 'claim');
        assert.equal(begun.type, 'claimed');
        if (begun.type === 'claimed') await begun.claim.complete({ ok: true });
        assert.equal(trips, 2, 'complete');
        assert.deepEqual(await idempotency.run('k', { a: 1 }, async () => ({ ok: false })), {
          ok: true,
        });
        assert.equal(trips, 3, 'duplicate of a completed key');
        const cached = createIdempotency({
          store,
          operation: 'conformance',
          cache: { maxEntries: 10 },
        });
        await cached.run('k', { a: 1 }, async () => null);
        trips = 0;
        await cached.run('k', { a: 1 }, async () => null);
        assert.equal(trips, 0, 'a cached duplicate');
      },
    );

    it('ignores a host clock skewed by ±5 minutes', async () => {
      const store = await open();
      const realNow = Date.now;
      for (const skew of [FIVE_MINUTES, -FIVE_MINUTES]) {
        const key = `skew${skew}`;
        Date.now = () => realNow() + skew;
        try {
          const first = await store.claim(claimOf(key, { leaseMs: 2_000 }));
          const lease = first.record.leaseExpiresAt - first.record.now;
          assert.ok(Math.abs(lease - 2_000) < 200, `lease of ${lease} ms under skew ${skew}`);
          if (storeClock === 'server') {
            assert.ok(Math.abs(first.record.now - realNow()) < 60_000, 'the store read Date.now()');
          }
          assert.equal((await store.claim(claimOf(key, { leaseMs: 2_000 }))).claimed, false);
        } finally {
          Date.now = realNow;
        }
      }
    });

    it('rejects the completion of an owner whose lease ran out mid-run (IDEMPOTENCY_STALE_OWNER)', async () => {
      const store = await open();
      const slow = createIdempotency({
        store,
        operation: 'conformance',
        leaseMs: 200,
        heartbeat: false,
      });
      const fast = createIdempotency({ store, operation: 'conformance', leaseMs: 200 });
      let executions = 0;
      const first = slow.run('k', {}, async () => {
        executions += 1;
        await wait(600);
        return 'slow';
      });
      await wait(350);
      const second = await fast.run('k', {}, async () => {
        executions += 1;
        return 'fast';
      });
      assert.equal(second, 'fast');
      await assertRejectsWithCode(first, 'IDEMPOTENCY_STALE_OWNER');
      assert.equal(executions, 2);
      assert.equal(await fast.run('k', {}, async () => 'never'), 'fast');
    });

    it('keeps a long run exclusive with heartbeats', async () => {
      const store = await open();
      const idempotency = createIdempotency({ store, operation: 'conformance', leaseMs: 300 });
      const first = idempotency.run('k', {}, async () => {
        await wait(900);
        return 'done';
      });
      for (let i = 0; i < 3; i += 1) {
        await wait(250);
        await assert.rejects(
          idempotency.run('k', {}, async () => 'duplicate'),
          (error) => error instanceof IdempotencyInProgressError,
        );
      }
      assert.equal(await first, 'done');
    });

    it('waits for the first call when asked (bounded wait)', async () => {
      const store = await open();
      const idempotency = createIdempotency({ store, operation: 'conformance' });
      const first = idempotency.run('k', {}, async () => {
        await wait(150);
        return 'first';
      });
      await wait(20);
      const second = idempotency.run('k', {}, async () => 'second', {
        wait: { timeoutMs: 2_000, intervalMs: 20 },
      });
      assert.equal(await second, 'first');
      assert.equal(await first, 'first');
    });

    for (const n of [2, 16, 256]) {
      it(`${n} concurrent duplicates in one process: exactly one execution`, async () => {
        const store = await open();
        assertOneExecution(await race(store, 'k', n, 'inproc', { workMs: 30 }), `${name}, N=${n}`);
      });
    }

    it(`${trials} randomized trials of concurrent duplicates (seed ${seed})`, async () => {
      const store = await open();
      const next = seededRandom(seed);
      const batch = 10;
      for (let start = 0; start < trials; start += batch) {
        await Promise.all(
          Array.from({ length: Math.min(batch, trials - start) }, async (_, j) => {
            const trial = start + j;
            const count = 2 + Math.floor(next() * 23);
            const workMs = Math.floor(next() * 6);
            const seen = await race(store, `trial-${trial}`, count, `t${trial}`, {
              workMs,
              staggerMs: () => (next() < 0.5 ? 0 : Math.floor(next() * 4)),
            });
            assertOneExecution(seen, `${name}, seed ${seed}, trial ${trial}, N=${count}`);
          }),
        );
      }
    }, 120_000);

    itIf(
      transactions,
      'it has no transactions',
      'same-transaction mode: claim, business writes and completion commit together',
      async () => {
        const store = await open();
        const idempotency = createIdempotency({ store, operation: 'conformance' });
        let runs = 0;
        const value = await idempotency.runInTransaction('k', {}, async () => {
          runs += 1;
          return 'committed';
        });
        assert.equal(value, 'committed');
        assert.equal((await store.get('v1|conformance|||k'))?.status, 'completed');
        assert.equal(await idempotency.runInTransaction('k', {}, async () => 'again'), 'committed');
        assert.equal(runs, 1);
        await assert.rejects(
          idempotency.runInTransaction('rolled-back', {}, async () => {
            throw new Error('business write failed');
          }),
          /business write failed/,
        );
        assert.equal(
          await store.get('v1|conformance|||rolled-back'),
          undefined,
          'the claim survived a rollback',
        );
        assert.equal(await idempotency.run('rolled-back', {}, async () => 'retried'), 'retried');
      },
    );

    const target = crossProcess;
    const processes = Math.max(4, target?.processes ?? 4);
    itIf(
      target !== undefined,
      'the store lives inside one process',
      `N ∈ {2, 16, 256} concurrent duplicates and randomized trials from ${processes} processes, two with the host clock skewed ±5 min`,
      async () => {
        const t = target as CrossProcessTarget;
        const namespace = uniqueNamespace();
        const holder = await open(namespace);
        // A lease the skewed children must see as running, whatever their clock says.
        const held = await holder.claim(claimOf('held-by-parent', { leaseMs: 20_000 }));
        assert.equal(held.claimed, true);
        const results = await runInProcesses<WorkerReport, WorkerArgs>({
          module: fileURLToPath(import.meta.url),
          exportName: 'idempotencyConformanceWorker',
          count: processes,
          execArgv: t.execArgv ?? [],
          args: {
            module: t.module,
            exportName: t.exportName,
            namespace,
            mode: 'race',
            seed,
            processes,
          },
          timeoutMs: 120_000,
        });
        const reports = fulfilled(results);
        for (const n of [2, 16, 256]) {
          assertOneExecution(
            reports.flatMap((r) => r.races[String(n)] ?? []),
            `${name}, ${n} duplicates across processes`,
          );
        }
        const keys = new Set(reports.flatMap((r) => Object.keys(r.trials)));
        assert.ok(keys.size >= 25);
        for (const key of keys) {
          assertOneExecution(
            reports.flatMap((r) => r.trials[key] ?? []),
            `${name}, seed ${seed}, cross-process trial ${key}`,
          );
        }
        for (const report of reports) {
          assert.equal(
            report.heldSeenAsInProgress,
            true,
            `process with skew ${report.skewMs} ms took over a running lease`,
          );
        }
      },
      120_000,
    );

    itIf(
      target !== undefined,
      'the store lives inside one process',
      'crashes: killed before claiming, after claiming, after starting the side effect',
      async () => {
        const t = target as CrossProcessTarget;
        const namespace = uniqueNamespace();
        const [child] = startProcesses<WorkerReport, WorkerArgs>({
          module: fileURLToPath(import.meta.url),
          exportName: 'idempotencyConformanceWorker',
          count: 1,
          execArgv: t.execArgv ?? [],
          args: {
            module: t.module,
            exportName: t.exportName,
            namespace,
            mode: 'crash',
            seed,
            processes: 1,
          },
          timeoutMs: 60_000,
        });
        if (!child) throw new Error('no child process');
        await child.waitForMessage((m) => m === 'claimed-and-started', 30_000);
        child.kill();
        await child.result;
        const store = await open(namespace);
        const idempotency = createIdempotency({
          store,
          operation: 'conformance.crash',
          leaseMs: LEASE_MS,
        });
        // Killed before claiming: nothing stands in the way.
        assert.equal(await idempotency.run('never-claimed', {}, async () => 'ran'), 'ran');
        // Killed while holding leases: in progress until they end.
        await assertRejectsWithCode(
          idempotency.run('claimed', {}, async () => 'x'),
          'IDEMPOTENCY_IN_PROGRESS',
        );
        await assertRejectsWithCode(
          idempotency.run('started', {}, async () => 'x'),
          'IDEMPOTENCY_IN_PROGRESS',
        );
        const started = Date.now();
        let value: string | undefined;
        while (value === undefined && Date.now() - started < LEASE_MS + 3_000) {
          try {
            value = await idempotency.run('claimed', {}, async () => 'reclaimed');
          } catch (error) {
            if (!isFlowproofError(error, 'IDEMPOTENCY_IN_PROGRESS')) throw error;
            await wait(50);
          }
        }
        assert.equal(value, 'reclaimed');
        assert.ok(
          Date.now() - started <= LEASE_MS + 1_000,
          'the key was not reusable within lease + 1 s',
        );
        // After the side effect, before completion: the outcome is unknown, not silently re-run.
        // Marking the side effect renewed that lease after 'claimed' was taken, so it may still
        // run a little longer: in progress until then, never re-run.
        let outcome: unknown;
        do {
          outcome = await idempotency.run('started', {}, async () => 'x').catch((e: unknown) => e);
          if (isFlowproofError(outcome, 'IDEMPOTENCY_IN_PROGRESS')) await wait(50);
        } while (
          isFlowproofError(outcome, 'IDEMPOTENCY_IN_PROGRESS') &&
          Date.now() - started < LEASE_MS + 3_000
        );
        assert.ok(
          isFlowproofError(outcome, 'IDEMPOTENCY_OUTCOME_UNKNOWN'),
          `expected IDEMPOTENCY_OUTCOME_UNKNOWN, got ${String(outcome)}`,
        );
        assert.equal(
          await idempotency.run('started', {}, async () => 'reconciled', {
            onOutcomeUnknown: 'rerun',
          }),
          'reconciled',
        );
      },
      60_000,
    );
  });
}

const LEASE_MS = 3_000;

/** @internal */
interface WorkerArgs {
  readonly module: string;
  readonly exportName: string;
  readonly namespace: string;
  readonly mode: 'race' | 'crash';
  readonly seed: number;
  readonly processes: number;
}

/** @internal */
interface WorkerReport {
  readonly skewMs: number;
  readonly races: Record<string, Seen[]>;
  readonly trials: Record<string, Seen[]>;
  readonly heldSeenAsInProgress: boolean;
}

function fulfilled(results: readonly ProcessResult<WorkerReport>[]): WorkerReport[] {
  return results.map((r) => {
    assert.equal(r.status, 'fulfilled', `a process failed: ${JSON.stringify(r)}`);
    return (r as { value: WorkerReport }).value;
  });
}

/**
 * What the cross-process tests run in each child. Exported for the child processes, not for
 * direct use.
 *
 * @internal
 */
export async function idempotencyConformanceWorker(
  args: WorkerArgs,
  worker: { index: number; report(message: unknown): void },
): Promise<WorkerReport> {
  const target = await importTarget<IdempotencyStoreTarget>(
    args.module,
    args.exportName,
    'an IdempotencyStoreTarget',
  );
  const store = await target.factory(args.namespace);
  if (args.mode === 'crash') {
    await store.migrate();
    const idempotency = createIdempotency({
      store,
      operation: 'conformance.crash',
      leaseMs: LEASE_MS,
      heartbeat: false,
    });
    const claimed = await idempotency.begin('claimed', {});
    const started = await idempotency.begin('started', {});
    if (claimed.type !== 'claimed' || started.type !== 'claimed') throw new Error('claims failed');
    await started.claim.markSideEffectStarted();
    worker.report('claimed-and-started');
    await new Promise(() => {}); // killed here, before completing and before claiming 'never-claimed'
  }
  // Two children run with the host clock skewed by ±5 minutes: nothing may change.
  const skewMs = worker.index === 0 ? FIVE_MINUTES : worker.index === 1 ? -FIVE_MINUTES : 0;
  const realNow = Date.now;
  if (skewMs !== 0) Date.now = () => realNow() + skewMs;
  try {
    const held = await store.claim(claimOf('held-by-parent', { leaseMs: 20_000 }));
    const races: Record<string, Seen[]> = {};
    for (const n of [2, 16, 256]) {
      // Spread N callers over the processes (N = 2: one caller in each of two processes).
      const mine = Math.floor(n / args.processes) + (worker.index < n % args.processes ? 1 : 0);
      races[String(n)] = await race(store, `race-${n}`, mine, `p${worker.index}`, { workMs: 40 });
    }
    const next = seededRandom(args.seed + 7_919 * worker.index);
    const trials: Record<string, Seen[]> = {};
    for (let batch = 0; batch < 5; batch += 1) {
      await Promise.all(
        Array.from({ length: 5 }, async (_, j) => {
          const key = `x-${batch * 5 + j}`;
          trials[key] = await race(store, key, 1 + Math.floor(next() * 4), `p${worker.index}`, {
            workMs: Math.floor(next() * 5),
            staggerMs: () => Math.floor(next() * 3),
          });
        }),
      );
    }
    return { skewMs, races, trials, heldSeenAsInProgress: !held.claimed };
  } finally {
    Date.now = realNow;
    await store.close();
  }
}
