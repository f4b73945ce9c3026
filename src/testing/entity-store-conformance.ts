/**
 * The conformance suite of the state-machine {@link EntityStore} port: isolation, create/apply with
 * history, optimistic locking under 100 concurrent writers (across processes where the store
 * allows), history in the same transaction, cursor pagination (bounded by PostgreSQL's `integer`),
 * JSON data kept exactly (and what no store can keep refused before writing), rebuilding from
 * history, snapshot migrations (written with the event they precede in one compare-and-set),
 * durable timers fired exactly once by racing sweepers (also across a machine-version change), and
 * the reference's payment state machine. Every entity store flowproof ships runs it; run it on
 * your own to certify it.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { sleep } from '../core/async.js';
import { runWithContext } from '../core/context.js';
import { isFlowproofError } from '../core/errors.js';
import type { StandardSchemaV1 } from '../core/standard-schema.js';
import { defineMachine } from '../state-machine/define-machine.js';
import { createEntities } from '../state-machine/entities/create-entities.js';
import type { EntityStore, StoredEntity } from '../state-machine/entities/entity-store.js';
import { sweepTimers } from '../state-machine/entities/timers.js';
import {
  assertRejectsWithCode,
  type CrossProcessTarget,
  uniqueNamespace,
} from './backend-conformance.js';
import { runInProcesses } from './multi-process.js';
import { type ConformanceTestApi, caseRunner, importTarget } from './test-api.js';

/** Optional behaviour the suite tests only where the store has it. */
export interface EntityStoreCapabilities {
  /**
   * The data outlives the store object: a store opened later on the same namespace (after a
   * restart) sees it.
   * @default true
   */
  readonly persistent?: boolean;
}

/** An entity store under test. */
export interface EntityStoreTarget<S extends EntityStore = EntityStore> {
  /** Shown in test titles. */
  readonly name: string;
  /**
   * Opens a store on `namespace`. Different namespaces must give isolated stores, the same
   * namespace the same data. The suite calls `migrate()` and `close()` itself.
   */
  readonly factory: (namespace: string) => S | Promise<S>;
  /**
   * Runs `fn` with a store bound to a transaction on the same backend, committing when `fn`
   * resolves and rolling back when it throws. Omit when the store cannot join a transaction.
   */
  transaction?<T>(store: S, fn: (bound: S) => Promise<T>): Promise<T>;
  /** Optional behaviour present. */
  readonly capabilities?: EntityStoreCapabilities;
}

/** Options of {@link describeEntityStoreConformance}. */
export interface EntityStoreConformanceOptions<S extends EntityStore> extends EntityStoreTarget<S> {
  /** `describe` and `it` of your test framework (vitest, jest, node:test, mocha). */
  readonly test: ConformanceTestApi;
  /**
   * Enables the cross-process tests (concurrent writers, racing sweepers); omit for stores that
   * live inside one process, which then race inside this process instead.
   */
  readonly crossProcess?: CrossProcessTarget;
}

const WRITERS = 100;
const TIMERS = 20;
const PROCESS_TIMEOUT_MS = 90_000;

/**
 * Registers the entity-store conformance tests for one store.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { describeEntityStoreConformance } from 'flowproof/testing';
 *
 * describeEntityStoreConformance({
 *   name: 'sqlite',
 *   test: { describe, it },
 *   factory: (namespace) =>
 *     createSqliteEntityStore({
 *       backend: createSqliteBackend({ database: new Database(`${namespace}.db`), ownsDatabase: true }),
 *       ownsBackend: true,
 *     }),
 *   transaction: (store, fn) => store.backend.transaction((tx) => fn(store.withBackend(tx))),
 * });
 * ```
 */
export function describeEntityStoreConformance<S extends EntityStore>(
  options: EntityStoreConformanceOptions<S>,
): void {
  const { test, name, factory, crossProcess } = options;
  const persistent = options.capabilities?.persistent ?? true;
  const transaction = options.transaction?.bind(options);
  const { opened, it, itIf } = caseRunner<S>(test, name);
  const open = async (namespace = uniqueNamespace('sm')) => {
    const store = await factory(namespace);
    opened.push(store);
    await store.migrate();
    return store;
  };
  const processes = crossProcess?.processes ?? 4;

  test.describe(`EntityStore conformance: ${name}`, () => {
    it('factory() gives isolated instances', async () => {
      const a = await open();
      const b = await open();
      await counters(a).create('isolation', { count: 0 });
      assert.equal((await counters(a).get('isolation'))?.state, 'open');
      assert.equal(
        await counters(b).get('isolation'),
        undefined,
        'an entity created in one instance leaked into another',
      );
    });

    it('migrate() is idempotent and records component state-machine', async () => {
      const store = await open();
      const again = await store.migrate();
      assert.equal(again.component, 'state-machine');
      assert.deepEqual(again.applied, []);
    });

    it('a store used before migrate() fails with SCHEMA_OUTDATED, saying migrate() was not run', async () => {
      const store = await factory(uniqueNamespace('sm'));
      opened.push(store);
      const calls: Record<string, () => Promise<unknown>> = {
        load: () => store.load('counter', 'c-1'),
        listHistory: () =>
          store.listHistory({
            machineId: 'counter',
            entityId: 'c-1',
            afterStateVersion: 0,
            limit: 1,
          }),
        dueTimers: () => store.dueTimers('counter', new Date(), 1),
        create: () => counters(store).create('c-1', { count: 0 }),
      };
      for (const [call, run] of Object.entries(calls)) {
        await assert.rejects(run(), (error: unknown) => {
          assert.ok(isFlowproofError(error, 'SCHEMA_OUTDATED'), `${call}: ${String(error)}`);
          assert.match(error.message, /migrate\(\)/, call);
          return true;
        });
      }
    });

    it('creates an entity with a @create history row carrying actor and correlation id', async () => {
      const entities = counters(await open());
      const entity = await runWithContext(
        { actor: { id: 'user_42', type: 'user' }, correlationId: 'corr-create' },
        () => entities.create('c1', { count: 0, note: 'žluťoučký kůň 🐎', tags: ['a', null] }),
      );
      assert.equal(entity.state, 'open');
      assert.equal(entity.stateVersion, 1);
      assert.equal(entity.version, 1);
      assert.equal(entity.machineId, 'conformance.counter');
      assert.match(entity.createdAt, /Z$/);
      const loaded = await entities.load('c1');
      assert.deepEqual(loaded.data, { count: 0, note: 'žluťoučký kůň 🐎', tags: ['a', null] });
      const { entries } = await entities.history('c1');
      assert.equal(entries.length, 1);
      assert.deepEqual(
        { ...entries[0], at: undefined },
        {
          machineId: 'conformance.counter',
          entityId: 'c1',
          stateVersion: 1,
          machineVersion: 1,
          from: null,
          to: 'open',
          event: '@create',
          payload: { count: 0, note: 'žluťoučký kůň 🐎', tags: ['a', null] },
          actor: { id: 'user_42', type: 'user' },
          correlationId: 'corr-create',
          at: undefined,
        },
      );
      assert.match(entries[0]?.at ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      await assertRejectsWithCode(entities.create('c1', { count: 5 }), 'ENTITY_EXISTS');
      assert.equal((await entities.load('c1')).data.count, 0);
    });

    it('applies an event: new state and data, version + 1, one history row', async () => {
      const entities = counters(await open());
      await entities.create('a1', { count: 0 });
      const result = await runWithContext({ actor: { id: 'svc' }, correlationId: 'corr-1' }, () =>
        entities.apply('a1', { type: 'increment', payload: { tag: 'first' } }),
      );
      assert.equal(result.from, 'open');
      assert.equal(result.entity.stateVersion, 2);
      assert.deepEqual(result.entity.data, { count: 1, last: 'first' });
      assert.deepEqual(result.effects, ['counted']);
      const stored = await entities.load('a1');
      assert.equal(stored.stateVersion, 2);
      assert.deepEqual(stored.data, { count: 1, last: 'first' });
      const { entries } = await entities.history('a1');
      assert.deepEqual(
        entries.map((e) => [
          e.stateVersion,
          e.from,
          e.to,
          e.event,
          e.payload,
          e.actor,
          e.correlationId,
        ]),
        [
          [1, null, 'open', '@create', { count: 0 }, null, null],
          [2, 'open', 'open', 'increment', { tag: 'first' }, { id: 'svc' }, 'corr-1'],
        ],
      );
    });

    it('refuses what it must, writing nothing: unknown entity, denied event, invalid payload', async () => {
      const entities = counters(await open());
      await assertRejectsWithCode(entities.apply('missing', { type: 'close' }), 'ENTITY_NOT_FOUND');
      await assertRejectsWithCode(entities.load('missing'), 'ENTITY_NOT_FOUND');
      await entities.create('d1', { count: 0 });
      await entities.apply('d1', { type: 'close' });
      await assert.rejects(
        entities.apply('d1', { type: 'increment', payload: { tag: 'late' } }),
        (error: unknown) => {
          assert.ok(isFlowproofError(error, 'STATE_TRANSITION_DENIED'));
          assert.deepEqual(error.details.allowed, []);
          assert.equal(error.details.state, 'closed');
          assert.equal(error.details.reason, 'terminal');
          return true;
        },
      );
      await entities.create('d2', { count: 0 });
      await assertRejectsWithCode(
        entities.apply('d2', { type: 'increment', payload: { tag: 42 } } as never),
        'VALIDATION_FAILED',
      );
      assert.equal((await entities.load('d1')).stateVersion, 2);
      assert.equal((await entities.load('d2')).stateVersion, 1);
      assert.equal((await entities.history('d2')).entries.length, 1);
    });

    it('refuses a stale writer with VERSION_CONFLICT; the store CAS returns false', async () => {
      const store = await open();
      const entities = counters(store);
      await entities.create('v1', { count: 0 });
      const stale = await store.load('conformance.counter', 'v1');
      await entities.apply('v1', { type: 'increment', payload: { tag: 'winner' } });
      await assertRejectsWithCode(
        entities.apply(
          'v1',
          { type: 'increment', payload: { tag: 'loser' } },
          { expectedVersion: 1 },
        ),
        'VERSION_CONFLICT',
      );
      const written = await store.compareAndSet({
        entity: { ...(stale as StoredEntity), stateVersion: 2, data: { count: 100 } },
        expectedVersion: 1,
        history: historyRow(stale as StoredEntity, 2, { tag: 'stale' }),
      });
      assert.equal(written, false);
      const after = await entities.load('v1');
      assert.equal(after.stateVersion, 2);
      assert.deepEqual(after.data, { count: 1, last: 'winner' });
      assert.equal((await entities.history('v1')).entries.length, 2);
    });

    itIf(
      crossProcess !== undefined,
      'the store lives inside one process (the in-process race below runs instead)',
      `${WRITERS} concurrent writers from ${processes} processes: no lost update, every loser gets VERSION_CONFLICT`,
      async () => {
        const namespace = uniqueNamespace('sm');
        const entities = counters(await open(namespace));
        await entities.create('hot', { count: 0 });
        const target = crossProcess as CrossProcessTarget;
        const perProcess = Math.ceil(WRITERS / processes);
        const results = await runInProcesses<WriterOutcome>({
          module: fileURLToPath(import.meta.url),
          exportName: 'entityStoreConformanceWorker',
          count: processes,
          execArgv: target.execArgv ?? [],
          timeoutMs: PROCESS_TIMEOUT_MS,
          args: {
            module: target.module,
            exportName: target.exportName,
            namespace,
            task: 'write',
            entityId: 'hot',
            writers: perProcess,
          } satisfies WorkerArgs,
        });
        const outcomes = results.map((r) => {
          assert.equal(r.status, 'fulfilled', `a process failed: ${JSON.stringify(r)}`);
          return (r as { value: WriterOutcome }).value;
        });
        await assertNoLostUpdate(entities, 'hot', mergeOutcomes(outcomes), perProcess * processes);
      },
      PROCESS_TIMEOUT_MS,
    );

    itIf(
      crossProcess === undefined,
      'the cross-process race above covers it',
      `${WRITERS} concurrent writers in one process: no lost update, every loser gets VERSION_CONFLICT`,
      async () => {
        const namespace = uniqueNamespace('sm');
        const entities = counters(await open(namespace));
        await entities.create('hot', { count: 0 });
        // Writers on separate store instances, as separate requests of a server would use.
        const stores = await Promise.all([open(namespace), open(namespace), open(namespace)]);
        const outcome = await writeConcurrently(
          (i) => counters(stores[i % stores.length] as S),
          'hot',
          'w',
          WRITERS,
        );
        await assertNoLostUpdate(entities, 'hot', outcome, WRITERS);
      },
    );

    it('applyWithRetry re-reads and decides again: 8 racing increments all land', async () => {
      const entities = counters(await open());
      await entities.create('r1', { count: 0 });
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          entities.applyWithRetry(
            'r1',
            { type: 'increment', payload: { tag: `r${i}` } },
            { attempts: 50, backoffMs: 1 },
          ),
        ),
      );
      assert.equal(results.length, 8);
      const stored = await entities.load('r1');
      assert.equal(stored.data.count, 8);
      assert.equal(stored.stateVersion, 9);
      const decided = await entities.applyWithRetry('r1', (entity) =>
        entity.data.count >= 8 ? { type: 'close' } : undefined,
      );
      assert.equal(decided?.entity.state, 'closed');
      assert.equal(await entities.applyWithRetry('r1', () => undefined), undefined);
    });

    it('writes the history row in the same transaction: a failing history write leaves neither', async () => {
      const store = await open();
      const entities = counters(store);
      await entities.create('t1', { count: 0 });
      const stored = (await store.load('conformance.counter', 't1')) as StoredEntity;
      await assert.rejects(
        store.compareAndSet({
          entity: { ...stored, stateVersion: 2, data: { count: 1 } },
          expectedVersion: 1,
          // JSON cannot hold a BigInt: the history write fails after the entity's UPDATE.
          history: historyRow(stored, 2, { tag: 10n }),
        }),
      );
      const after = await entities.load('t1');
      assert.equal(after.stateVersion, 1);
      assert.deepEqual(after.data, { count: 0 });
      assert.equal((await entities.history('t1')).entries.length, 1);
    });

    for (const outcome of ['commit', 'rollback'] as const) {
      itIf(
        transaction !== undefined,
        'the target has no transaction() to bind the store to',
        `joins the caller's transaction: state change and history row both ${outcome === 'commit' ? 'kept' : 'gone'} after ${outcome}`,
        async () => {
          const store = await open();
          const entities = counters(store);
          await entities.create('x1', { count: 0 });
          const failure = new Error('forced rollback');
          const run = transaction?.(store, async (bound) => {
            await entities
              .withStore(bound)
              .apply('x1', { type: 'increment', payload: { tag: 'tx' } });
            if (outcome === 'rollback') throw failure;
          });
          if (outcome === 'rollback')
            await assert.rejects(run as Promise<void>, (e) => e === failure);
          else await run;
          const kept = outcome === 'commit';
          const after = await entities.load('x1');
          assert.equal(after.stateVersion, kept ? 2 : 1);
          assert.equal(after.data.count, kept ? 1 : 0);
          assert.equal((await entities.history('x1')).entries.length, kept ? 2 : 1);
        },
      );
    }

    it('pages history by cursor, in order, without gaps or repeats', async () => {
      const entities = counters(await open());
      await entities.create('p1', { count: 0 });
      for (let i = 0; i < 25; i += 1) {
        await entities.apply('p1', { type: 'increment', payload: { tag: `i${i}` } });
      }
      const sizes: number[] = [];
      const versions: number[] = [];
      let cursor: string | undefined;
      do {
        const page = await entities.history(
          'p1',
          cursor === undefined ? { limit: 10 } : { limit: 10, cursor },
        );
        sizes.push(page.entries.length);
        versions.push(...page.entries.map((e) => e.stateVersion));
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      assert.deepEqual(sizes, [10, 10, 6]);
      assert.deepEqual(
        versions,
        Array.from({ length: 26 }, (_, i) => i + 1),
      );
      const exact = await entities.history('p1', { limit: 13 });
      assert.ok(exact.nextCursor !== undefined);
      const last = await entities.history('p1', { limit: 13, cursor: exact.nextCursor });
      assert.equal(last.entries.length, 13);
      assert.equal(
        last.nextCursor,
        undefined,
        'a last page that is exactly full must not promise more',
      );
      assert.deepEqual((await entities.history('unknown')).entries, []);
      await assert.rejects(entities.history('p1', { cursor: 'not-a-cursor' }), TypeError);
    });

    it('bounds the history cursor by what every store compares: 2147483647 reads nothing, more is a TypeError', async () => {
      const entities = counters(await open());
      await entities.create('c1', { count: 0 });
      await entities.apply('c1', { type: 'increment', payload: { tag: 'one' } });
      assert.deepEqual((await entities.history('c1', { cursor: '2147483647' })).entries, []);
      assert.deepEqual(
        (await entities.history('c1', { cursor: '1' })).entries.map((e) => e.stateVersion),
        [2],
      );
      for (const cursor of ['2147483648', '999999999999999', '0', '01', '1e3']) {
        await assert.rejects(
          entities.history('c1', { cursor }),
          (error: unknown) => error instanceof TypeError && /options\.cursor/.test(error.message),
          `cursor ${cursor}`,
        );
      }
    });

    it('keeps data and payloads as JSON data: what create() and apply() return, load() and history() return', async () => {
      const entities = counters(await open());
      const data = {
        count: 0,
        zeta: 'last key first',
        note: 'žluťoučký kůň 🐎 \u2028 "quoted" \\ tab\t',
        numbers: [0, -0, 1.5, -3e-7, 2 ** 53, 1e21, Number.MAX_VALUE, 0.1 + 0.2],
        nested: {
          empty: {},
          none: [],
          flags: [true, false, null],
          deeper: { a: { b: { c: 'd' } } },
        },
        absent: undefined,
      };
      const created = await entities.create('j1', data);
      const expected = JSON.parse(JSON.stringify(data));
      // Object key order is not part of the contract (PostgreSQL's jsonb reorders keys).
      assert.deepStrictEqual(created.data, expected);
      assert.deepStrictEqual((await entities.load('j1')).data, created.data);
      const { entity } = await entities.apply('j1', {
        type: 'increment',
        payload: { tag: 'ü\u{1F600}', extra: { list: [-0, 'x'], gone: undefined } } as never,
      });
      const loaded = await entities.load('j1');
      assert.deepStrictEqual(entity.data, loaded.data);
      assert.deepStrictEqual(loaded.data, { ...expected, count: 1, last: 'ü\u{1F600}' });
      const { entries } = await entities.history('j1');
      assert.deepStrictEqual(entries[0]?.payload, expected);
      assert.deepStrictEqual(entries[1]?.payload, {
        tag: 'ü\u{1F600}',
        extra: { list: [0, 'x'] },
      });
    });

    it('refuses a Date, a NUL character or a lone surrogate in data or payloads with VALIDATION_FAILED, writing nothing', async () => {
      const entities = counters(await open());
      const refused = async (promise: Promise<unknown>, path: readonly (string | number)[]) => {
        await assert.rejects(promise, (error: unknown) => {
          assert.ok(isFlowproofError(error, 'VALIDATION_FAILED'), String(error));
          assert.deepEqual(
            (error.details.issues as readonly { path: unknown }[]).map((i) => i.path),
            [path],
          );
          return true;
        });
      };
      await refused(entities.create('j2', { count: 0, when: new Date(0) } as never), ['when']);
      await refused(entities.create('j2', { count: 0, note: 'a\u0000b' }), ['note']);
      await refused(entities.create('j2', { count: 0, tags: ['\uD800'] }), ['tags', 0]);
      assert.equal(await entities.get('j2'), undefined);
      await entities.create('j3', { count: 0 });
      await refused(
        entities.apply('j3', {
          type: 'increment',
          payload: { tag: 'x', at: new Date(0) } as never,
        }),
        ['at'],
      );
      await refused(entities.apply('j3', { type: 'increment', payload: { tag: 'a\u0000' } }), [
        'tag',
      ]);
      await refused(entities.apply('j3', { type: 'increment', payload: { tag: 'b\uDFFF' } }), [
        'tag',
      ]);
      const after = await entities.load('j3');
      assert.equal(after.stateVersion, 1);
      assert.deepEqual(after.data, { count: 0 });
      assert.equal((await entities.history('j3')).entries.length, 1);
    });

    it('rebuilds the stored snapshot from history', async () => {
      const entities = counters(await open());
      await entities.create('b1', { count: 0 });
      for (let i = 0; i < 7; i += 1) {
        await entities.apply('b1', { type: 'increment', payload: { tag: `b${i}` } });
      }
      await entities.apply('b1', { type: 'close' });
      const { id, timer, createdAt, updatedAt, ...stored } = await entities.load('b1');
      assert.deepEqual(await entities.rebuild('b1'), stored);
      await assertRejectsWithCode(entities.rebuild('missing'), 'ENTITY_NOT_FOUND');
    });

    it('migrates snapshots of older machine versions: renamed and removed states, or MACHINE_VERSION_MISMATCH', async () => {
      const namespace = uniqueNamespace('sm');
      const store = await open(namespace);
      const { v1, v2, v3 } = shipmentMachines();
      const old = createEntities({ machine: v1, store });
      await old.create('renamed', { weight: 3 });
      await old.create('removed', { weight: 5 });
      await old.apply('removed', { type: 'hold' });

      const current = createEntities({ machine: v2, store });
      const viewed = await current.load('renamed');
      assert.deepEqual(
        [viewed.version, viewed.state, viewed.stateVersion, viewed.data],
        [2, 'pending_payment', 1, { weight: 3, migratedFrom: 1 }],
      );
      // Reading migrates in memory only.
      assert.equal((await old.load('renamed')).state, 'awaiting_payment');
      assert.equal((await current.load('removed')).state, 'pending_payment');
      await assertRejectsWithCode(current.rebuild('renamed'), 'MACHINE_VERSION_MISMATCH');

      const { entity } = await current.apply('renamed', { type: 'pay' });
      assert.deepEqual([entity.version, entity.state, entity.stateVersion], [2, 'paid', 3]);
      const { entries } = await current.history('renamed');
      assert.deepEqual(
        entries.map((e) => [e.machineVersion, e.from, e.to, e.event]),
        [
          [1, null, 'awaiting_payment', '@create'],
          [2, 'awaiting_payment', 'pending_payment', '@migrate'],
          [2, 'pending_payment', 'paid', 'pay'],
        ],
      );
      const { id, timer, createdAt, updatedAt, ...stored } = await current.load('renamed');
      assert.deepEqual(await current.rebuild('renamed'), stored);

      const upgraded = await current.upgrade('removed');
      assert.deepEqual(
        [upgraded.version, upgraded.state, upgraded.stateVersion],
        [2, 'pending_payment', 3],
      );

      await assertRejectsWithCode(old.load('renamed'), 'MACHINE_VERSION_MISMATCH');
      await assertRejectsWithCode(
        old.apply('renamed', { type: 'ship' }),
        'MACHINE_VERSION_MISMATCH',
      );
      await old.create('ancient', { weight: 1 });
      const skipping = createEntities({ machine: v3, store });
      await assertRejectsWithCode(skipping.load('ancient'), 'MACHINE_VERSION_MISMATCH');
      assert.equal((await skipping.load('renamed')).version, 3);
    });

    it('applies an event to an entity of an older machine version in one write with its @migrate row; a refused one writes nothing', async () => {
      const store = await open();
      const { v1, v2 } = shipmentMachines();
      await createEntities({ machine: v1, store }).create('older', { weight: 2 });
      const current = createEntities({ machine: v2, store });
      await assert.rejects(current.apply('older', { type: 'ship' }), (error: unknown) => {
        assert.ok(isFlowproofError(error, 'STATE_TRANSITION_DENIED'));
        assert.equal(error.details.state, 'pending_payment');
        return true;
      });
      await assertRejectsWithCode(
        current.applyWithRetry('older', { type: 'ship' }),
        'STATE_TRANSITION_DENIED',
      );
      const untouched = (await store.load('conformance.shipment', 'older')) as StoredEntity;
      assert.deepEqual(
        [untouched.machineVersion, untouched.state, untouched.stateVersion],
        [1, 'awaiting_payment', 1],
      );
      assert.equal((await current.history('older')).entries.length, 1);

      const { entity, from } = await runWithContext(
        { actor: { id: 'ops', type: 'user' }, correlationId: 'corr-migrate' },
        () => current.apply('older', { type: 'pay' }),
      );
      assert.deepEqual(
        [from, entity.version, entity.state, entity.stateVersion, entity.data],
        ['pending_payment', 2, 'paid', 3, { weight: 2, migratedFrom: 1 }],
      );
      const { entries } = await current.history('older');
      assert.deepEqual(
        entries.map((e) => [
          e.stateVersion,
          e.machineVersion,
          e.from,
          e.to,
          e.event,
          e.payload,
          e.actor,
          e.correlationId,
        ]),
        [
          [1, 1, null, 'awaiting_payment', '@create', { weight: 2 }, null, null],
          [
            2,
            2,
            'awaiting_payment',
            'pending_payment',
            '@migrate',
            { weight: 2, migratedFrom: 1 },
            { id: 'ops', type: 'user' },
            'corr-migrate',
          ],
          [
            3,
            2,
            'pending_payment',
            'paid',
            'pay',
            undefined,
            { id: 'ops', type: 'user' },
            'corr-migrate',
          ],
        ],
      );
      assert.equal(entries[1]?.at, entries[2]?.at);
      const { id, timer, createdAt, updatedAt, ...stored } = await current.load('older');
      assert.deepEqual(await current.rebuild('older'), stored);
    });

    it('compareAndSet with a migration row writes the entity at expectedVersion + 2 and both rows, or nothing', async () => {
      const store = await open();
      const { v1 } = shipmentMachines();
      await createEntities({ machine: v1, store }).create('cas', { weight: 1 });
      const stored = (await store.load('conformance.shipment', 'cas')) as StoredEntity;
      const at = (await store.now()).toISOString();
      const migrated = {
        ...stored,
        machineVersion: 2,
        state: 'pending_payment',
        stateVersion: 2,
        data: { weight: 1, migratedFrom: 1 },
        updatedAt: at,
      };
      const entity = { ...migrated, state: 'paid', stateVersion: 3 };
      const row = (of: StoredEntity, from: string, event: string, payload: unknown) => ({
        machineId: of.machineId,
        entityId: of.id,
        stateVersion: of.stateVersion,
        machineVersion: of.machineVersion,
        from,
        to: of.state,
        event,
        payload,
        actor: null,
        correlationId: null,
        at,
      });
      const migration = row(migrated, 'awaiting_payment', '@migrate', migrated.data);
      // The event's history row cannot be written (JSON has no BigInt): neither row nor the entity.
      await assert.rejects(
        store.compareAndSet({
          entity,
          expectedVersion: 1,
          migration,
          history: row(entity, 'pending_payment', 'pay', { n: 10n }),
        }),
      );
      assert.deepEqual(await store.load('conformance.shipment', 'cas'), stored);
      const history = { machineId: 'conformance.shipment', entityId: 'cas', afterStateVersion: 0 };
      assert.equal((await store.listHistory({ ...history, limit: 10 })).length, 1);
      const update = {
        entity,
        expectedVersion: 1,
        migration,
        history: row(entity, 'pending_payment', 'pay', undefined),
      };
      assert.equal(await store.compareAndSet({ ...update, expectedVersion: 2 }), false);
      assert.equal(await store.compareAndSet(update), true);
      const after = await store.load('conformance.shipment', 'cas');
      assert.deepEqual([after?.stateVersion, after?.machineVersion, after?.state], [3, 2, 'paid']);
      assert.deepEqual(
        (await store.listHistory({ ...history, limit: 10 })).map((e) => [e.stateVersion, e.event]),
        [
          [1, '@create'],
          [2, '@migrate'],
          [3, 'pay'],
        ],
      );
      assert.equal(await store.compareAndSet(update), false);
    });

    it('fires a due timer once, and never one that is not due', async () => {
      const store = await open();
      const due = reminders(store, 1);
      const later = reminders(store, 60_000);
      const created = await due.create('soon');
      assert.equal(created.timer?.event, 'expire');
      assert.ok(Date.parse(created.timer?.at ?? '') >= Date.parse(created.createdAt));
      await later.create('late');
      await waitForStoreTime(store, created.timer?.at ?? '');
      const first = await sweepTimers(due);
      assert.deepEqual(first.fired, ['soon']);
      assert.deepEqual((await sweepTimers(due)).fired, []);
      const fired = await due.load('soon');
      assert.equal(fired.state, 'expired');
      assert.equal(fired.timer, null);
      const rows = (await due.history('soon')).entries;
      assert.deepEqual(
        rows.map((e) => [e.event, e.actor?.id]),
        [
          ['@create', undefined],
          ['expire', 'flowproof-timer'],
        ],
      );
      const pending = await later.load('late');
      assert.equal(pending.state, 'waiting');
      assert.ok(pending.timer !== null);
    });

    it("fires an older machine version's due deadline with the migrated state's event in one sweep, or clears one the migrated state has not", async () => {
      const store = await open();
      const { v1, v2 } = reminderVersions();
      const old = createEntities({ machine: v1, store });
      const firing = await old.create('migrating');
      await old.create('dropped');
      const dropped = await old.apply('dropped', { type: 'park' });
      await waitForStoreTime(
        store,
        [firing.timer?.at ?? '', dropped.entity.timer?.at ?? ''].sort()[1] ?? '',
      );
      const current = createEntities({ machine: v2, store });
      const result = await sweepTimers(current);
      assert.deepEqual(result.failed, []);
      assert.deepEqual(result.fired, ['migrating']);
      assert.deepEqual(result.skipped, ['dropped']);
      const fired = await current.load('migrating');
      assert.deepEqual([fired.state, fired.stateVersion, fired.timer], ['lapsed', 3, null]);
      assert.deepEqual(
        (await current.history('migrating')).entries.map((e) => [e.event, e.to, e.actor?.id]),
        [
          ['@create', 'waiting', undefined],
          ['@migrate', 'pending', 'flowproof-timer'],
          ['lapse', 'lapsed', 'flowproof-timer'],
        ],
      );
      const cleared = await current.load('dropped');
      assert.deepEqual([cleared.state, cleared.stateVersion, cleared.timer], ['parked', 3, null]);
      assert.deepEqual((await sweepTimers(current)).skipped, []);
    });

    it('re-arms a deadline on re-entry and cancels it on leaving', async () => {
      const store = await open();
      const entities = reminders(store, 60_000);
      const created = await entities.create('r1');
      const { entity } = await entities.apply('r1', { type: 'snooze' });
      assert.ok(Date.parse(entity.timer?.at ?? '') >= Date.parse(created.timer?.at ?? ''));
      const { entity: done } = await entities.apply('r1', { type: 'expire' });
      assert.equal(done.timer, null);
      assert.deepEqual(
        await store.dueTimers('conformance.reminder', new Date(Date.now() + 3_600_000), 10),
        [],
      );
    });

    itIf(
      crossProcess !== undefined,
      'the store lives inside one process (the in-process race below runs instead)',
      `fires each of ${TIMERS} timers exactly once with 2 sweepers in 2 processes racing`,
      async () => {
        const namespace = uniqueNamespace('sm');
        const store = await open(namespace);
        const entities = reminders(store, 1);
        const ids = await createDue(store, entities);
        const target = crossProcess as CrossProcessTarget;
        const results = await runInProcesses<SweepOutcome>({
          module: fileURLToPath(import.meta.url),
          exportName: 'entityStoreConformanceWorker',
          count: 2,
          execArgv: target.execArgv ?? [],
          timeoutMs: PROCESS_TIMEOUT_MS,
          args: {
            module: target.module,
            exportName: target.exportName,
            namespace,
            task: 'sweep',
            entityId: '',
            writers: 0,
          } satisfies WorkerArgs,
        });
        const outcomes = results.map((r) => {
          assert.equal(r.status, 'fulfilled', `a process failed: ${JSON.stringify(r)}`);
          return (r as { value: SweepOutcome }).value;
        });
        await assertFiredOnce(entities, ids, outcomes);
      },
      PROCESS_TIMEOUT_MS,
    );

    it(`fires each of ${TIMERS} timers exactly once with 2 sweepers in one process racing`, async () => {
      const namespace = uniqueNamespace('sm');
      const store = await open(namespace);
      const entities = reminders(store, 1);
      const ids = await createDue(store, entities);
      const other = reminders(await open(namespace), 1);
      const outcomes = await Promise.all([sweepOnce(entities), sweepOnce(other)]);
      await assertFiredOnce(entities, ids, outcomes);
    });

    itIf(
      persistent,
      'its data lives and dies with the store object',
      'fires a timer after a restart: a store opened later finds it',
      async () => {
        const namespace = uniqueNamespace('sm');
        const first = await open(namespace);
        const created = await reminders(first, 1).create('survivor');
        await first.close();
        const second = await open(namespace);
        await waitForStoreTime(second, created.timer?.at ?? '');
        const entities = reminders(second, 1);
        assert.deepEqual((await sweepTimers(entities)).fired, ['survivor']);
        assert.equal((await entities.load('survivor')).state, 'expired');
      },
    );

    it('runs the reference payment machine: a second worker finding processing is refused', async () => {
      const payments = paymentEntities(await open());
      await payments.create('pay-1', { amount: 1999 });
      let release: () => void = () => {};
      let entered: () => void = () => {};
      const inGateway = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const gateway = countingGateway(async () => {
        entered();
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return 'tx_1';
      });
      const first = chargePayment(payments, 'pay-1', gateway.charge);
      await inGateway;
      await assert.rejects(chargePayment(payments, 'pay-1', gateway.charge), (error: unknown) => {
        assert.ok(isFlowproofError(error, 'STATE_TRANSITION_DENIED'));
        assert.equal(error.details.state, 'processing');
        return true;
      });
      release();
      assert.deepEqual(await first, { transactionId: 'tx_1', charged: true });
      // Charged: the existing transaction is returned, the card is not charged again.
      assert.deepEqual(await chargePayment(payments, 'pay-1', gateway.charge), {
        transactionId: 'tx_1',
        charged: false,
      });
      assert.equal(gateway.calls(), 1);
      assert.deepEqual(
        (await payments.history('pay-1')).entries.map((e) => e.to),
        ['pending', 'processing', 'charged'],
      );
    });

    it('runs the reference payment machine: of two racing workers exactly one charges', async () => {
      const payments = paymentEntities(await open());
      await payments.create('pay-2', { amount: 500 });
      const gateway = countingGateway(async () => 'tx_2');
      const results = await Promise.allSettled([
        chargePayment(payments, 'pay-2', gateway.charge),
        chargePayment(payments, 'pay-2', gateway.charge),
      ]);
      assert.equal(gateway.calls(), 1);
      const charged = results.filter((r) => r.status === 'fulfilled');
      assert.equal(charged.length, 1);
      for (const result of results) {
        if (result.status === 'rejected') {
          assert.ok(
            isFlowproofError(result.reason, 'VERSION_CONFLICT') ||
              isFlowproofError(result.reason, 'STATE_TRANSITION_DENIED'),
            `the loser must get a conflict or a denial, got ${String(result.reason)}`,
          );
        }
      }
      assert.equal((await payments.load('pay-2')).data.transactionId, 'tx_2');
    });

    it('runs the reference payment machine: a failed charge is recorded and can be retried', async () => {
      const payments = paymentEntities(await open());
      await payments.create('pay-3', { amount: 700 });
      const failing = countingGateway(async () => {
        throw new Error('card declined');
      });
      await assert.rejects(chargePayment(payments, 'pay-3', failing.charge), /card declined/);
      const failed = await payments.load('pay-3');
      assert.equal(failed.state, 'failed');
      assert.equal(failed.data.error, 'card declined');
      const working = countingGateway(async () => 'tx_3');
      assert.deepEqual(await chargePayment(payments, 'pay-3', working.charge), {
        transactionId: 'tx_3',
        charged: true,
      });
      assert.deepEqual(
        (await payments.history('pay-3')).entries.map((e) => e.event),
        ['@create', 'start', 'failed', 'start', 'succeeded'],
      );
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Machines and helpers the suite (and its child processes) use

interface CounterData {
  readonly count: number;
  readonly last?: string;
  readonly note?: string;
  readonly tags?: readonly (string | null)[];
}

interface PaymentData {
  readonly amount: number;
  readonly transactionId?: string;
  readonly error?: string;
}

/** A Standard Schema from a type guard, so the shipped suite needs no validation library. */
function schema<T>(check: (value: unknown) => boolean, message: string): StandardSchemaV1<T, T> {
  return {
    '~standard': {
      version: 1,
      vendor: 'flowproof-conformance',
      validate: (value) => (check(value) ? { value: value as T } : { issues: [{ message }] }),
    },
  };
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

let counterMachine: ReturnType<typeof defineCounter> | undefined;
function defineCounter() {
  return defineMachine({
    id: 'conformance.counter',
    initial: 'open',
    data: schema<CounterData>(
      (v) => isObject(v) && typeof v.count === 'number',
      'count must be a number',
    ),
    events: {
      increment: schema<{ tag: string }>(
        (v) => isObject(v) && typeof v.tag === 'string',
        'tag must be a string',
      ),
      close: null,
    },
    effects: ['counted'],
    states: {
      open: {
        on: {
          increment: {
            target: 'open',
            assign: (data, event) => ({ ...data, count: data.count + 1, last: event.payload.tag }),
            effects: ['counted'],
          },
          close: 'closed',
        },
      },
      closed: { terminal: true },
    },
  });
}

function counters(store: EntityStore) {
  counterMachine ??= defineCounter();
  return createEntities({ machine: counterMachine, store });
}

function defineReminder(delayMs: number) {
  return defineMachine({
    id: 'conformance.reminder',
    initial: 'waiting',
    events: { expire: null, snooze: null },
    states: {
      waiting: {
        after: { delayMs, event: 'expire' },
        on: { expire: 'expired', snooze: 'waiting' },
      },
      expired: { terminal: true },
    },
  });
}

function reminders(store: EntityStore, delayMs: number) {
  return createEntities({ machine: defineReminder(delayMs), store });
}

/**
 * A reminder whose version 2 renamed `waiting` to `pending`, fired by `lapse` instead of `expire`,
 * and dropped the deadline of `parked`.
 */
function reminderVersions() {
  const v1 = defineMachine({
    id: 'conformance.versioned-reminder',
    initial: 'waiting',
    events: { expire: null, park: null },
    states: {
      waiting: {
        after: { delayMs: 1, event: 'expire' },
        on: { expire: 'expired', park: 'parked' },
      },
      parked: { after: { delayMs: 1, event: 'expire' }, on: { expire: 'expired' } },
      expired: { terminal: true },
    },
  });
  const v2 = defineMachine({
    id: 'conformance.versioned-reminder',
    version: 2,
    initial: 'pending',
    events: { lapse: null, resume: null },
    states: {
      pending: { after: { delayMs: 1, event: 'lapse' }, on: { lapse: 'lapsed' } },
      parked: { on: { resume: 'pending' } },
      lapsed: { terminal: true },
    },
    migrations: [{ from: 1, states: { waiting: 'pending', expired: 'lapsed' } }],
  });
  return { v1, v2 };
}

let paymentMachine: ReturnType<typeof definePayment> | undefined;
/** The reference's pattern 3: `pending → processing → charged | failed`, retry from `failed`. */
function definePayment() {
  return defineMachine({
    id: 'conformance.payment',
    initial: 'pending',
    data: schema<PaymentData>(
      (v) => isObject(v) && typeof v.amount === 'number',
      'amount must be a number',
    ),
    events: {
      start: null,
      succeeded: schema<{ transactionId: string }>(
        (v) => isObject(v) && typeof v.transactionId === 'string',
        'transactionId must be a string',
      ),
      failed: schema<{ error: string }>(
        (v) => isObject(v) && typeof v.error === 'string',
        'error must be a string',
      ),
    },
    states: {
      pending: { on: { start: 'processing' } },
      processing: {
        on: {
          succeeded: {
            target: 'charged',
            assign: (data, event) => ({ ...data, transactionId: event.payload.transactionId }),
          },
          failed: {
            target: 'failed',
            assign: (data, event) => ({ ...data, error: event.payload.error }),
          },
        },
      },
      failed: { on: { start: 'processing' } },
      charged: { terminal: true },
    },
  });
}

function paymentEntities(store: EntityStore) {
  paymentMachine ??= definePayment();
  return createEntities({ machine: paymentMachine, store });
}

type PaymentEntities = ReturnType<typeof paymentEntities>;

/**
 * The reference's `charge_payment`, on the entity store: a charged payment returns its existing
 * transaction; one in `processing` is refused (another worker has it); otherwise the move to
 * `processing` is a compare-and-set, so of two racing workers only one reaches the gateway.
 */
async function chargePayment(
  payments: PaymentEntities,
  id: string,
  charge: (amount: number) => Promise<string>,
): Promise<{ transactionId: string; charged: boolean }> {
  const payment = await payments.load(id);
  if (payment.state === 'charged') {
    return { transactionId: payment.data.transactionId as string, charged: false };
  }
  await payments.apply(id, { type: 'start' }, { expectedVersion: payment.stateVersion });
  let transactionId: string;
  try {
    transactionId = await charge(payment.data.amount);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await payments.apply(id, { type: 'failed', payload: { error: message } });
    throw error;
  }
  await payments.apply(id, { type: 'succeeded', payload: { transactionId } });
  return { transactionId, charged: true };
}

function countingGateway(fn: () => Promise<string>) {
  let calls = 0;
  return {
    charge: async () => {
      calls += 1;
      return fn();
    },
    calls: () => calls,
  };
}

function shipmentMachines() {
  const data = schema<{ weight: number; migratedFrom?: number }>(
    (v) => isObject(v) && typeof v.weight === 'number',
    'weight must be a number',
  );
  const v1 = defineMachine({
    id: 'conformance.shipment',
    version: 1,
    initial: 'awaiting_payment',
    data,
    events: { pay: null, hold: null, release: null, ship: null },
    states: {
      awaiting_payment: { on: { pay: 'paid', hold: 'on_hold' } },
      on_hold: { on: { release: 'awaiting_payment' } },
      paid: { on: { ship: 'shipped' } },
      shipped: { terminal: true },
    },
  });
  const v2States = {
    pending_payment: { on: { pay: 'paid' } },
    paid: { on: { ship: 'shipped' } },
    shipped: { terminal: true },
  } as const;
  const v2 = defineMachine({
    id: 'conformance.shipment',
    version: 2,
    initial: 'pending_payment',
    data,
    events: { pay: null, ship: null },
    states: v2States,
    migrations: [
      {
        from: 1,
        // awaiting_payment was renamed; on_hold was removed.
        states: { awaiting_payment: 'pending_payment', on_hold: 'pending_payment' },
        data: (data) => ({ ...(data as object), migratedFrom: 1 }),
      },
    ],
  });
  const v3 = defineMachine({
    id: 'conformance.shipment',
    version: 3,
    initial: 'pending_payment',
    data,
    events: { pay: null, ship: null },
    states: v2States,
    migrations: [{ from: 2 }],
  });
  return { v1, v2, v3 };
}

function historyRow(entity: StoredEntity, stateVersion: number, payload: unknown) {
  return {
    machineId: entity.machineId,
    entityId: entity.id,
    stateVersion,
    machineVersion: entity.machineVersion,
    from: entity.state,
    to: entity.state,
    event: 'increment',
    payload,
    actor: null,
    correlationId: null,
    at: entity.updatedAt,
  };
}

interface WriterOutcome {
  readonly won: string[];
  readonly conflicts: number;
  readonly other: string[];
}

interface SweepOutcome {
  readonly fired: string[];
  readonly failed: string[];
}

async function writeConcurrently(
  entitiesFor: (index: number) => ReturnType<typeof counters>,
  id: string,
  prefix: string,
  writers: number,
): Promise<WriterOutcome> {
  const results = await Promise.allSettled(
    Array.from({ length: writers }, async (_, i) => {
      const tag = `${prefix}${i}`;
      await entitiesFor(i).apply(id, { type: 'increment', payload: { tag } });
      return tag;
    }),
  );
  const outcome: WriterOutcome = { won: [], conflicts: 0, other: [] };
  let conflicts = 0;
  for (const result of results) {
    if (result.status === 'fulfilled') outcome.won.push(result.value);
    else if (isFlowproofError(result.reason, 'VERSION_CONFLICT')) conflicts += 1;
    else outcome.other.push(String(result.reason));
  }
  return { ...outcome, conflicts };
}

function mergeOutcomes(outcomes: readonly WriterOutcome[]): WriterOutcome {
  return {
    won: outcomes.flatMap((o) => o.won),
    conflicts: outcomes.reduce((sum, o) => sum + o.conflicts, 0),
    other: outcomes.flatMap((o) => o.other),
  };
}

async function assertNoLostUpdate(
  entities: ReturnType<typeof counters>,
  id: string,
  outcome: WriterOutcome,
  writers: number,
): Promise<void> {
  assert.deepEqual(outcome.other, [], 'writers failed with something other than VERSION_CONFLICT');
  assert.equal(outcome.won.length + outcome.conflicts, writers);
  assert.ok(outcome.won.length >= 1, 'no writer succeeded');
  const stored = await entities.load(id);
  assert.equal(stored.data.count, outcome.won.length, 'an acknowledged update was lost');
  assert.equal(stored.stateVersion, 1 + outcome.won.length);
  const rows: string[] = [];
  for (let cursor: string | undefined, first = true; first || cursor !== undefined; first = false) {
    const page = await entities.history(
      id,
      cursor === undefined ? { limit: 1000 } : { limit: 1000, cursor },
    );
    rows.push(
      ...page.entries
        .filter((e) => e.event === 'increment')
        .map((e) => (e.payload as { tag: string }).tag),
    );
    cursor = page.nextCursor;
  }
  assert.deepEqual(
    [...rows].sort(),
    [...outcome.won].sort(),
    'history and acknowledged writes differ',
  );
}

async function createDue(
  store: EntityStore,
  entities: ReturnType<typeof reminders>,
): Promise<string[]> {
  const ids = Array.from({ length: TIMERS }, (_, i) => `timer-${String(i).padStart(2, '0')}`);
  let latest = '';
  for (const id of ids) {
    const created = await entities.create(id);
    if ((created.timer?.at ?? '') > latest) latest = created.timer?.at ?? '';
  }
  await waitForStoreTime(store, latest);
  return ids;
}

async function sweepOnce(entities: ReturnType<typeof reminders>): Promise<SweepOutcome> {
  const result = await sweepTimers(entities, { limit: 1000 });
  return { fired: [...result.fired], failed: result.failed.map((f) => String(f.error)) };
}

async function assertFiredOnce(
  entities: ReturnType<typeof reminders>,
  ids: readonly string[],
  outcomes: readonly SweepOutcome[],
): Promise<void> {
  assert.deepEqual(
    outcomes.flatMap((o) => o.failed),
    [],
    'a sweeper failed to fire a timer',
  );
  const fired = outcomes.flatMap((o) => o.fired);
  assert.deepEqual(
    [...fired].sort(),
    [...ids].sort(),
    'each timer must be fired by exactly one sweeper',
  );
  for (const id of ids) {
    const entity = await entities.load(id);
    assert.equal(entity.state, 'expired');
    const expiries = (await entities.history(id)).entries.filter((e) => e.event === 'expire');
    assert.equal(expiries.length, 1, `timer of ${id} fired ${expiries.length} times`);
  }
}

/** Waits until the store clock has passed `iso` (timers are due by the store's clock). */
async function waitForStoreTime(store: EntityStore, iso: string): Promise<void> {
  const due = Date.parse(iso);
  for (let i = 0; i < 200; i += 1) {
    if ((await store.now()).getTime() > due) return;
    await sleep(5);
  }
  throw new Error(`the store clock did not reach ${iso}`);
}

interface WorkerArgs {
  readonly module: string;
  readonly exportName: string;
  readonly namespace: string;
  readonly task: 'write' | 'sweep';
  readonly entityId: string;
  readonly writers: number;
}

/**
 * The function the cross-process tests run in each child: opens the target's store on the shared
 * namespace, then races as writers on one entity or as a timer sweeper. Exported for the child
 * processes, not for direct use.
 *
 * @internal
 */
export async function entityStoreConformanceWorker(
  args: WorkerArgs,
  worker: { readonly index: number },
): Promise<WriterOutcome | SweepOutcome> {
  const target = await importTarget<EntityStoreTarget>(
    args.module,
    args.exportName,
    'an EntityStoreTarget',
  );
  const store = await target.factory(args.namespace);
  try {
    await store.migrate();
    if (args.task === 'sweep') return await sweepOnce(reminders(store, 1));
    const entities = counters(store);
    return await writeConcurrently(
      () => entities,
      args.entityId,
      `p${worker.index}-w`,
      args.writers,
    );
  } finally {
    await store.close();
  }
}
