/**
 * The conformance suite of the {@link StorageBackend} port: migrations (fresh, repeated, concurrent
 * in one process and across processes), schema-version checks, transactions (commit, rollback,
 * savepoints one at a time, joining the caller's transaction, a transaction's backend refused once
 * the transaction ended, closing it closing only that handle, no commit after `close()`) and the
 * store clock. Every backend flowproof ships
 * runs it; run it on your own backend to certify it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { isFlowproofError } from '../core/errors.js';
import type { MigrationSet, StorageBackend } from '../core/storage-backend.js';
import { runInProcesses } from './multi-process.js';
import { type ConformanceTestApi, importTarget, skipTitle } from './test-api.js';

/**
 * How the suite writes and reads a row of its own on backend `B`. The built-in backends have
 * probes in this module ({@link createPostgresProbe}, {@link createSqliteProbe},
 * {@link memoryProbe}, {@link redisProbe}); a custom backend supplies one.
 */
export interface BackendProbe<B extends StorageBackend> {
  /** Creates the probe's table (or equivalent). Runs as migration 1. */
  createTable(backend: B): Promise<void>;
  /** Inserts a row; must fail when `id` already exists. */
  insert(backend: B, id: string, value: string): Promise<void>;
  /** Reads a row's value, or `undefined`. */
  read(backend: B, id: string): Promise<string | undefined>;
  /**
   * Opens a transaction the way an application would (natively, not through flowproof), writes a
   * business row `businessId`, runs `work` with a backend bound to that transaction, then commits
   * or rolls back. Omit when the backend cannot join a caller's transaction.
   */
  callerTransaction?(
    backend: B,
    businessId: string,
    work: (bound: B) => Promise<void>,
    outcome: 'commit' | 'rollback',
  ): Promise<void>;
  /** True when the business row written by `callerTransaction` exists. */
  readBusinessRow?(backend: B, businessId: string): Promise<boolean>;
}

/** Optional behaviour the suite tests only where the backend has it. */
export interface BackendCapabilities {
  /**
   * `transaction()` commits and rolls back.
   * @default true
   */
  readonly transactions?: boolean;
  /**
   * `server`: `now()` reads the database server's clock and must not follow the host's
   * `Date.now()`; `host`: the backend runs in-process and reads the host or an injected clock.
   * @default 'server'
   */
  readonly storeClock?: 'server' | 'host';
}

/** Where a child process finds the target, for the cross-process tests. */
export interface CrossProcessTarget {
  /** Absolute path or `file:` URL of a module exporting the {@link BackendTarget}. */
  readonly module: string;
  /** Name of the export. */
  readonly exportName: string;
  /** Node.js flags for the children, e.g. `['--import', 'tsx']` for a TypeScript module. */
  readonly execArgv?: readonly string[];
  /**
   * How many processes race.
   * @default 4
   */
  readonly processes?: number;
}

/** A backend under test. */
export interface BackendTarget<B extends StorageBackend = StorageBackend> {
  /** Shown in test titles. */
  readonly name: string;
  /**
   * Opens a backend on `namespace` (a fresh schema, key prefix, file…). Calls with different
   * namespaces must give isolated stores; calls with the same namespace, the same store.
   */
  readonly factory: (namespace: string) => B | Promise<B>;
  /** How the suite reads and writes rows. */
  readonly probe: BackendProbe<B>;
  /** Optional behaviour present. */
  readonly capabilities?: BackendCapabilities;
}

/** Options of {@link describeBackendConformance}. */
export interface BackendConformanceOptions<B extends StorageBackend> extends BackendTarget<B> {
  /** `describe` and `it` of your test framework (vitest, jest, node:test, mocha). */
  readonly test: ConformanceTestApi;
  /** Enables the cross-process tests; omit for in-process backends. */
  readonly crossProcess?: CrossProcessTarget;
}

/** Creates a namespace unique to one test: a valid SQL identifier and Redis key prefix. */
export function uniqueNamespace(prefix = 'fp'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** The migration set the suite applies: 1 creates the probe table, 2 records that it ran. */
export function probeMigrations<B extends StorageBackend>(probe: BackendProbe<B>): MigrationSet<B> {
  return {
    component: 'conformance',
    migrations: [
      { version: 1, name: 'create probe table', up: (b) => probe.createTable(b) },
      // Inserting a fixed id fails if the migration ever runs twice.
      { version: 2, name: 'record migration 2', up: (b) => probe.insert(b, 'migration-2', 'ran') },
    ],
  };
}

/**
 * Registers the backend conformance tests for one backend.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { describeBackendConformance, sqliteProbe } from 'flowproof/testing';
 *
 * describeBackendConformance({
 *   name: 'sqlite',
 *   test: { describe, it },
 *   factory: () => createSqliteBackend({ database: new Database(':memory:') }),
 *   probe: sqliteProbe,
 * });
 * ```
 */
export function describeBackendConformance<B extends StorageBackend>(
  options: BackendConformanceOptions<B>,
): void {
  const { test, name, factory, probe, crossProcess } = options;
  const transactions = options.capabilities?.transactions ?? true;
  const storeClock = options.capabilities?.storeClock ?? 'server';
  const migrations = probeMigrations(probe);
  const opened: B[] = [];
  const open = async (namespace = uniqueNamespace()) => {
    const backend = await factory(namespace);
    opened.push(backend);
    return backend;
  };
  const closeAll = async () => {
    await Promise.all(opened.splice(0).map((b) => b.close().catch(() => {})));
  };
  const it = (title: string, fn: () => Promise<void>) =>
    test.it(title, async () => {
      try {
        await fn();
      } finally {
        await closeAll();
      }
    });
  const itIf = (enabled: boolean, reason: string, title: string, fn: () => Promise<void>) =>
    enabled ? it(title, fn) : test.it.skip(skipTitle(title, name, reason), () => {});

  test.describe(`StorageBackend conformance: ${name}`, () => {
    it('factory() gives isolated instances', async () => {
      const a = await open();
      const b = await open();
      await a.migrate(migrations);
      await b.migrate(migrations);
      await probe.insert(a, 'isolation', 'from a');
      assert.equal(await probe.read(a, 'isolation'), 'from a');
      assert.equal(
        await probe.read(b, 'isolation'),
        undefined,
        'a write to one instance leaked into another',
      );
    });

    it('migrates a fresh store, then reports nothing to do on a repeat', async () => {
      const backend = await open();
      assert.equal(await backend.schemaVersion('conformance'), 0);
      const first = await backend.migrate(migrations);
      assert.deepEqual(first, { component: 'conformance', from: 0, to: 2, applied: [1, 2] });
      assert.equal(await probe.read(backend, 'migration-2'), 'ran');
      const second = await backend.migrate(migrations);
      assert.deepEqual(second, { component: 'conformance', from: 2, to: 2, applied: [] });
      assert.equal(await backend.schemaVersion('conformance'), 2);
      await backend.assertSchemaVersion('conformance', 2);
    });

    it('applies versions incrementally and keeps components apart', async () => {
      const backend = await open();
      const v1 = { component: 'conformance', migrations: migrations.migrations.slice(0, 1) };
      assert.deepEqual((await backend.migrate(v1)).applied, [1]);
      assert.deepEqual((await backend.migrate(migrations)).applied, [2]);
      assert.equal(await backend.schemaVersion('another-component'), 0);
    });

    it('runs 8 concurrent migrate() calls in one process: each version applied once', async () => {
      const namespace = uniqueNamespace();
      const backends = await Promise.all(Array.from({ length: 8 }, () => open(namespace)));
      const reports = await Promise.all(backends.map((b) => b.migrate(migrations)));
      assert.deepEqual(reports.flatMap((r) => r.applied).sort(), [1, 2]);
      assert.equal(await probe.read(backends[0] as B, 'migration-2'), 'ran');
    });

    const processes = crossProcess?.processes ?? 4;
    itIf(
      crossProcess !== undefined,
      'the backend lives inside one process',
      `runs migrate() from ${processes} processes at once: each version applied once`,
      async () => {
        const target = crossProcess as CrossProcessTarget;
        const namespace = uniqueNamespace();
        const results = await runInProcesses<number[]>({
          module: fileURLToPath(import.meta.url),
          exportName: 'backendConformanceWorker',
          count: processes,
          execArgv: target.execArgv ?? [],
          args: { module: target.module, exportName: target.exportName, namespace },
        });
        const applied = results.flatMap((r) => {
          assert.equal(r.status, 'fulfilled', `a process failed: ${JSON.stringify(r)}`);
          return r.status === 'fulfilled' ? r.value : [];
        });
        assert.deepEqual(applied.sort(), [1, 2]);
        const backend = await open(namespace);
        assert.equal(await backend.schemaVersion('conformance'), 2);
      },
    );

    it('refuses a schema newer than the code, and a rewritten history', async () => {
      const backend = await open();
      await backend.migrate(migrations);
      const older = { component: 'conformance', migrations: migrations.migrations.slice(0, 1) };
      await assertRejectsWithCode(backend.migrate(older), 'SCHEMA_TOO_NEW');
      await assertRejectsWithCode(backend.assertSchemaVersion('conformance', 1), 'SCHEMA_TOO_NEW');
      await assertRejectsWithCode(backend.assertSchemaVersion('conformance', 3), 'SCHEMA_OUTDATED');
      const rewritten = {
        component: 'conformance',
        migrations: [migrations.migrations[0], { ...migrations.migrations[1], name: 'renamed' }],
      } as MigrationSet<B>;
      await assertRejectsWithCode(backend.migrate(rewritten), 'MIGRATION_FAILED');
    });

    it('reports a failing migration as MIGRATION_FAILED and does not record it', async () => {
      const backend = await open();
      await backend.migrate(migrations);
      const failing: MigrationSet<B> = {
        component: 'conformance',
        migrations: [
          ...migrations.migrations,
          {
            version: 3,
            name: 'fails half-way',
            up: async (b) => {
              await probe.insert(b, 'migration-3', 'half');
              throw new Error('boom');
            },
          },
        ],
      };
      await assertRejectsWithCode(backend.migrate(failing), 'MIGRATION_FAILED');
      assert.equal(await backend.schemaVersion('conformance'), 2);
      if (transactions) assert.equal(await probe.read(backend, 'migration-3'), undefined);
    });

    it('rejects malformed migration sets with a TypeError', async () => {
      const backend = await open();
      const gap = {
        component: 'conformance',
        migrations: [{ ...migrations.migrations[1] }],
      } as MigrationSet<B>;
      await assert.rejects(async () => backend.migrate(gap), TypeError);
      await assert.rejects(
        async () => backend.migrate({ component: '', migrations: migrations.migrations }),
        TypeError,
      );
    });

    itIf(transactions, 'it has no transactions', 'commits a transaction', async () => {
      const backend = await open();
      await backend.migrate(migrations);
      const result = await backend.transaction(async (tx) => {
        await probe.insert(tx, 'committed', 'yes');
        return 42;
      });
      assert.equal(result, 42);
      assert.equal(await probe.read(backend, 'committed'), 'yes');
    });

    itIf(
      transactions,
      'it has no transactions',
      'rolls a transaction back when fn throws',
      async () => {
        const backend = await open();
        await backend.migrate(migrations);
        const failure = new Error('forced rollback');
        await assert.rejects(
          backend.transaction(async (tx) => {
            await probe.insert(tx, 'rolled-back', 'no');
            throw failure;
          }),
          (error) => error === failure,
        );
        assert.equal(await probe.read(backend, 'rolled-back'), undefined);
      },
    );

    itIf(
      transactions,
      'it has no transactions',
      'rolls back a nested transaction on its own',
      async () => {
        const backend = await open();
        await backend.migrate(migrations);
        await backend.transaction(async (tx) => {
          await probe.insert(tx, 'outer', 'kept');
          await assert.rejects(
            tx.transaction(async (inner) => {
              await probe.insert(inner, 'inner', 'dropped');
              throw new Error('inner fails');
            }),
          );
        });
        assert.equal(await probe.read(backend, 'outer'), 'kept');
        assert.equal(await probe.read(backend, 'inner'), undefined);
      },
    );

    itIf(
      transactions,
      'it has no transactions',
      'refuses the backend a transaction handed out once that transaction ended (BACKEND_CLOSED)',
      async () => {
        const backend = await open();
        await backend.migrate(migrations);
        let leaked: B | undefined;
        await backend.transaction(async (tx) => {
          leaked = tx;
        });
        // Used later it would run outside the lock, or inside another caller's transaction.
        await assertRejectsWithCode(
          (async () => probe.insert(leaked as B, 'leaked', 'late'))(),
          'BACKEND_CLOSED',
        );
        assert.equal(await probe.read(backend, 'leaked'), undefined);
      },
    );

    itIf(
      transactions,
      'it has no transactions',
      "closing a transaction's backend closes only that handle: the transaction commits, the owner works",
      async () => {
        const backend = await open();
        await backend.migrate(migrations);
        await backend.transaction(async (tx) => {
          await probe.insert(tx, 'before-close', 'kept');
          await tx.close();
        });
        assert.equal(await probe.read(backend, 'before-close'), 'kept');
        await probe.insert(backend, 'owner', 'works');
        assert.equal(await probe.read(backend, 'owner'), 'works');
      },
    );

    itIf(
      transactions,
      'it has no transactions',
      'refuses a nested transaction started while a sibling still runs (TRANSACTION_UNSUPPORTED, concurrent-savepoints); the transaction goes on',
      async () => {
        const backend = await open();
        await backend.migrate(migrations);
        let results: PromiseSettledResult<unknown>[] = [];
        await backend.transaction(async (tx) => {
          results = await Promise.allSettled([
            tx.transaction(async (a) => {
              await probe.insert(a, 'sibling-a', 'dropped');
              await wait(10);
              throw new Error('A fails');
            }),
            tx.transaction(async (b) => {
              await probe.insert(b, 'sibling-b', 'never written');
            }),
          ]);
          await probe.insert(tx, 'after-siblings', 'kept');
        });
        const [first, second] = results;
        assert.equal(first?.status, 'rejected');
        assert.equal((first as PromiseRejectedResult).reason?.message, 'A fails');
        assert.equal(second?.status, 'rejected', 'the sibling savepoint was not refused');
        const refused = (second as PromiseRejectedResult).reason as unknown;
        assert.ok(isFlowproofError(refused, 'TRANSACTION_UNSUPPORTED'), String(refused));
        assert.equal(refused.details.reason, 'concurrent-savepoints');
        assert.equal(await probe.read(backend, 'sibling-a'), undefined);
        assert.equal(await probe.read(backend, 'sibling-b'), undefined);
        assert.equal(await probe.read(backend, 'after-siblings'), 'kept');
      },
    );

    itIf(
      transactions,
      'it has no transactions',
      'runs nested transactions one after another and inside each other',
      async () => {
        const backend = await open();
        await backend.migrate(migrations);
        await backend.transaction(async (tx) => {
          await probe.insert(tx, 'outer-1', 'kept');
          await tx.transaction(async (mid) => {
            await probe.insert(mid, 'mid-1', 'kept');
            await mid
              .transaction(async (inner) => {
                await probe.insert(inner, 'inner', 'dropped');
                throw new Error('inner fails');
              })
              .catch(() => {});
            await probe.insert(mid, 'mid-2', 'kept');
          });
          await tx
            .transaction(async (next) => {
              await probe.insert(next, 'next', 'dropped');
              throw new Error('next fails');
            })
            .catch(() => {});
          await probe.insert(tx, 'outer-2', 'kept');
        });
        for (const id of ['outer-1', 'mid-1', 'mid-2', 'outer-2']) {
          assert.equal(await probe.read(backend, id), 'kept', id);
        }
        for (const id of ['inner', 'next']) assert.equal(await probe.read(backend, id), undefined);
      },
    );

    itIf(
      transactions,
      'it has no transactions',
      'does not commit a transaction whose callback settles after close() (BACKEND_CLOSED)',
      async () => {
        const namespace = uniqueNamespace();
        const backend = await open(namespace);
        await backend.migrate(migrations);
        const pending = backend.transaction(async (tx) => {
          await probe.insert(tx, 'closed-meanwhile', 'not committed');
          await wait(40);
          return 'done';
        });
        await wait(15);
        await backend.close();
        await assertRejectsWithCode(pending, 'BACKEND_CLOSED');
        // Read through a new backend on the same store. An in-process backend whose namespace is
        // the closed instance itself cannot be read any more; its own tests check its state.
        const reader = await open(namespace);
        const read = await probe.read(reader, 'closed-meanwhile').catch((error: unknown) => {
          if (isFlowproofError(error, 'BACKEND_CLOSED')) return 'unreadable';
          throw error;
        });
        assert.ok(read !== 'not committed', 'the transaction committed after close()');
      },
    );

    itIf(
      transactions,
      'it has no transactions',
      "refuses transaction() on the backend itself from code inside one of its transactions (TRANSACTION_UNSUPPORTED, reentrant); the transaction's own backend works",
      async () => {
        const backend = await open();
        await backend.migrate(migrations);
        await backend.transaction(async (tx) => {
          await probe.insert(tx, 'outer', 'kept');
          // A module store not bound to the transaction does this: it would run outside the
          // transaction, or wait for it forever.
          const refused = await backend
            .transaction(async (other) => probe.insert(other, 'beside', 'never written'))
            .then(
              () => undefined,
              (error: unknown) => error,
            );
          assert.ok(isFlowproofError(refused, 'TRANSACTION_UNSUPPORTED'), String(refused));
          assert.equal(refused.details.reason, 'reentrant');
          await tx.transaction(async (nested) => probe.insert(nested, 'nested', 'kept'));
        });
        assert.equal(await probe.read(backend, 'outer'), 'kept');
        assert.equal(await probe.read(backend, 'nested'), 'kept');
        assert.equal(await probe.read(backend, 'beside'), undefined);
        // Work an ended transaction left running is not taken for code inside it.
        let leftover: Promise<unknown> | undefined;
        await backend.transaction(async () => {
          leftover = wait(20).then(() => backend.transaction(async () => 'ran'));
        });
        assert.equal(await leftover, 'ran');
      },
    );

    it('refuses a transaction() callback that is not a function with a TypeError naming fn', async () => {
      const backend = await open();
      for (const fn of [5, undefined, 'tx => tx']) {
        await assert.rejects(
          async () => backend.transaction(fn as never),
          (error: unknown) =>
            error instanceof TypeError && /^fn must be a function/.test(error.message),
        );
      }
    });

    itIf(
      !transactions,
      'it has transactions',
      'refuses transaction() with TRANSACTION_UNSUPPORTED',
      async () => {
        const backend = await open();
        await assertRejectsWithCode(
          backend.transaction(async () => undefined),
          'TRANSACTION_UNSUPPORTED',
        );
      },
    );

    const joins = probe.callerTransaction !== undefined && probe.readBusinessRow !== undefined;
    for (const outcome of ['commit', 'rollback'] as const) {
      itIf(
        joins,
        'it cannot join a transaction the application opened',
        `joins the caller's transaction: business row and library row both ${outcome === 'commit' ? 'kept' : 'gone'} after ${outcome}`,
        async () => {
          const backend = await open();
          await backend.migrate(migrations);
          const id = `order-${outcome}`;
          await probe.callerTransaction?.(
            backend,
            id,
            (bound) => probe.insert(bound, id, 'library row'),
            outcome,
          );
          const kept = outcome === 'commit';
          assert.equal(await probe.readBusinessRow?.(backend, id), kept);
          assert.equal(await probe.read(backend, id), kept ? 'library row' : undefined);
        },
      );
    }

    it('reads the store clock: a valid, non-decreasing instant near real time', async () => {
      const backend = await open();
      const readings: number[] = [];
      for (let i = 0; i < 5; i += 1) readings.push((await backend.now()).getTime());
      for (const [i, ms] of readings.entries()) {
        assert.ok(Number.isFinite(ms), 'now() returned an invalid Date');
        if (i > 0) assert.ok(ms >= (readings[i - 1] as number), 'the store clock went backwards');
      }
      assert.ok(Math.abs((readings[0] as number) - Date.now()) < 60_000);
    });

    itIf(
      storeClock === 'server',
      'its clock is the host clock by design',
      'reads the server clock, not the host clock',
      async () => {
        const backend = await open();
        const realNow = Date.now;
        const before = realNow();
        Date.now = () => before - 3_600_000;
        try {
          const store = (await backend.now()).getTime();
          assert.ok(Math.abs(store - before) < 10_000, 'now() followed a skewed Date.now()');
        } finally {
          Date.now = realNow;
        }
      },
    );

    it('fails with BACKEND_CLOSED after close(), and close() is idempotent', async () => {
      const backend = await open();
      await backend.close();
      await backend.close();
      await assertRejectsWithCode(
        (async () => backend.schemaVersion('conformance'))(),
        'BACKEND_CLOSED',
      );
    });
  });
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The function the cross-process test runs in each child: opens the target's backend on the
 * shared namespace and migrates it. Exported for the child processes, not for direct use.
 *
 * @internal
 */
export async function backendConformanceWorker(args: {
  module: string;
  exportName: string;
  namespace: string;
}): Promise<number[]> {
  const target = await importTarget<BackendTarget>(args.module, args.exportName, 'a BackendTarget');
  const backend = await target.factory(args.namespace);
  try {
    return [...(await backend.migrate(probeMigrations(target.probe))).applied];
  } finally {
    await backend.close();
  }
}

/** Asserts that `promise` rejects with a flowproof error of `code`. */
export async function assertRejectsWithCode(
  promise: Promise<unknown>,
  code: string,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isFlowproofError(error), `expected a FlowproofError ${code}, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}
