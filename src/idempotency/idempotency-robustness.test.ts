/**
 * Robustness of the idempotency module: faults of the store, of the serializer and of the caller
 * (bad scopes, stale claims, re-entrant transactions), over the memory and SQLite stores.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { recordingLogger } from '../../test/support/logger.js';
import { useTestTracing } from '../../test/support/opentelemetry.js';
import { overrideStore } from '../../test/support/stores.js';
import { createMemoryBackend } from '../adapters/memory/memory-backend.js';
import { createMemoryIdempotencyStore } from '../adapters/memory/memory-idempotency-store.js';
import { createSqliteBackend } from '../adapters/sqlite/sqlite-backend.js';
import { createSqliteIdempotencyStore } from '../adapters/sqlite/sqlite-idempotency-store.js';
import { createManualClock } from '../core/clock.js';
import { FlowproofError, isFlowproofError } from '../core/errors.js';
import { ERROR_CODE_ATTRIBUTE } from '../core/tracing.js';
import { createDedupe } from './dedupe.js';
import { createIdempotency, type IdempotencyOptions } from './idempotency.js';
import { assertScope } from './scope.js';
import { createLock } from './with-lock.js';

async function memoryStore(clock = createManualClock('2026-01-01T00:00:00Z')) {
  const backend = createMemoryBackend({ clock });
  const store = createMemoryIdempotencyStore({ backend });
  await store.migrate();
  return { backend, store, clock };
}

async function sqliteStore() {
  const database = new Database(':memory:');
  const backend = createSqliteBackend({ database });
  const store = createSqliteIdempotencyStore({ backend });
  await store.migrate();
  return { database, backend, store };
}

const down = async (): Promise<never> => {
  throw new FlowproofError('BACKEND_UNAVAILABLE', 'connection refused');
};

/** Settles `promise`, or reports `'hung'` after `ms` (a hang must fail the test, not stall it). */
function within<T>(promise: Promise<T>, ms = 2_000): Promise<T | 'hung' | { error: unknown }> {
  return Promise.race([
    promise.catch((error: unknown) => ({ error })),
    new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), ms).unref()),
  ]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('results seen inside an uncommitted transaction', () => {
  it('does not cache a replay read inside a joined SQLite transaction that rolls back', async () => {
    const { database, backend, store } = await sqliteStore();
    const idempotency = createIdempotency({ store, operation: 'op', cache: { maxEntries: 10 } });
    database.exec('BEGIN');
    const join = store.withBackend(backend.joinOpenTransaction());
    expect(await idempotency.runInTransaction('j', 1, async () => 'first', { join })).toBe('first');
    // A replay inside the same, still open, transaction.
    expect(await idempotency.runInTransaction('j', 1, async () => 'again', { join })).toBe('first');
    database.exec('ROLLBACK');
    expect(await idempotency.run('j', 1, async () => 'fresh')).toBe('fresh');
  });

  it('does not cache a replay read inside a memory transaction that rolls back', async () => {
    const { backend, store } = await memoryStore();
    const idempotency = createIdempotency({ store, operation: 'op', cache: { maxEntries: 10 } });
    await expect(
      backend.transaction(async (tx) => {
        const join = store.withBackend(tx);
        await idempotency.runInTransaction('j', 1, async () => 'first', { join });
        await idempotency.runInTransaction('j', 1, async () => 'again', { join });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await idempotency.run('j', 1, async () => 'fresh')).toBe('fresh');
  });
});

describe('store failure on completion', () => {
  it('run() returns the result and logs at error level, with the key but not the payload', async () => {
    const { store } = await memoryStore();
    const logger = recordingLogger();
    const idempotency = createIdempotency({
      store: overrideStore(store, { complete: down }),
      operation: 'op',
      logger,
      heartbeat: false,
    });
    expect(await idempotency.run('k', 1, async () => ({ secret: 'card-4242' }))).toEqual({
      secret: 'card-4242',
    });
    const failed = logger.lines.find((l) => l.fields.event === 'idempotency.complete_failed');
    expect(failed).toMatchObject({
      level: 'error',
      fields: { operation: 'op', idempotencyKey: 'k', afterLease: 'rerun' },
    });
    expect(failed?.message).toMatch(/lease/);
    expect(JSON.stringify(failed?.fields)).not.toContain('card-4242');
    expect((await store.get('v1|op|||k'))?.status).toBe('in_progress');
  });

  it('says so when the side effect was marked: duplicates will get IDEMPOTENCY_OUTCOME_UNKNOWN', async () => {
    const { store } = await memoryStore();
    const logger = recordingLogger();
    const idempotency = createIdempotency({
      store: overrideStore(store, { complete: down }),
      operation: 'op',
      logger,
      heartbeat: false,
    });
    const value = await idempotency.run('k', 1, async ({ markSideEffectStarted }) => {
      await markSideEffectStarted();
      return 'charged';
    });
    expect(value).toBe('charged');
    const failed = logger.lines.find((l) => l.fields.event === 'idempotency.complete_failed');
    expect(failed?.fields.afterLease).toBe('outcome_unknown');
    expect(failed?.message).toMatch(/IDEMPOTENCY_OUTCOME_UNKNOWN/);
  });

  it('dedupe() returns the handler result too', async () => {
    const { store } = await memoryStore();
    const logger = recordingLogger();
    const inbox = createDedupe({
      store: overrideStore(store, { complete: down }),
      consumer: 'billing',
      logger,
    });
    expect(await inbox.dedupe('m1', async () => 'handled')).toEqual({
      duplicate: false,
      value: 'handled',
    });
    expect(logger.lines.some((l) => l.fields.event === 'idempotency.complete_failed')).toBe(true);
  });

  it('runInTransaction() still fails, so the transaction rolls back with the business writes', async () => {
    const { backend, store } = await memoryStore();
    const failing = overrideStore(store, {
      transaction: (fn) =>
        backend.transaction((tx) => {
          const bound = overrideStore(store.withBackend(tx), {
            complete: down,
            // fn's savepoint.
            transaction: (inner) => tx.transaction((sp) => inner(store.withBackend(sp), sp)),
          });
          return fn(bound, tx);
        }),
    });
    const idempotency = createIdempotency({ store: failing, operation: 'op' });
    await expect(idempotency.runInTransaction('k', 1, async () => 'written')).rejects.toMatchObject(
      { code: 'BACKEND_UNAVAILABLE' },
    );
    expect(await store.get('v1|op|||k')).toBeUndefined();
  });
});

describe('results the serializer cannot encode', () => {
  it('rejects with IDEMPOTENCY_RESULT_UNENCODABLE and releases the key', async () => {
    const { store } = await memoryStore();
    const idempotency = createIdempotency({ store, operation: 'op' });
    let runs = 0;
    const error = await idempotency
      .run('k', 1, async () => {
        runs += 1;
        return { id: 1n };
      })
      .catch((e: unknown) => e);
    expect(isFlowproofError(error, 'IDEMPOTENCY_RESULT_UNENCODABLE')).toBe(true);
    expect((error as FlowproofError).details).toEqual({ operation: 'op', path: '$.id' });
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect((await store.get('v1|op|||k'))?.status).toBe('released');
    expect(await idempotency.run('k', 1, async () => 'retried')).toBe('retried');
    expect(runs).toBe(1);
  });

  it('leaves a key whose side effect started to its lease, then IDEMPOTENCY_OUTCOME_UNKNOWN', async () => {
    const { store, clock } = await memoryStore();
    const idempotency = createIdempotency({ store, operation: 'op', heartbeat: false });
    await expect(
      idempotency.run('k', 1, async ({ markSideEffectStarted }) => {
        await markSideEffectStarted();
        return { id: 1n };
      }),
    ).rejects.toMatchObject({
      code: 'IDEMPOTENCY_RESULT_UNENCODABLE',
      message: expect.stringMatching(/left to its lease.*IDEMPOTENCY_OUTCOME_UNKNOWN/),
    });
    expect((await store.get('v1|op|||k'))?.status).toBe('in_progress');
    clock.advance(30_001);
    await expect(idempotency.run('k', 1, async () => 'again')).rejects.toMatchObject({
      code: 'IDEMPOTENCY_OUTCOME_UNKNOWN',
    });
  });

  it('dedupe() releases the message id so a redelivery runs the handler again', async () => {
    const { store } = await memoryStore();
    const inbox = createDedupe({ store, consumer: 'billing' });
    await expect(inbox.dedupe('m3', async () => ({ id: 10n }))).rejects.toMatchObject({
      code: 'IDEMPOTENCY_RESULT_UNENCODABLE',
    });
    expect(await inbox.dedupe('m3', async () => 'redelivered')).toEqual({
      duplicate: false,
      value: 'redelivered',
    });
  });

  it('refuses a serializer whose output is not a string', async () => {
    const { store } = await memoryStore();
    const idempotency = createIdempotency({
      store,
      operation: 'op',
      serializer: { serialize: (v) => v as string, deserialize: (t) => t },
    });
    await expect(idempotency.run('k', 1, async () => ({ a: 1 }))).rejects.toThrow(
      /options\.serializer\.serialize\(\) must return a string, got an object/,
    );
    expect(await idempotency.run('k', 1, async () => 'second')).toBe('second');
  });
});

describe('scope validation', () => {
  it('rejects a malformed per-call scope with a TypeError naming it', async () => {
    const { store } = await memoryStore();
    const idempotency = createIdempotency({ store, operation: 'op' });
    const fn = async () => 1;
    await expect(
      idempotency.run('k', 1, fn, { scope: { tenant: 5 as unknown as string } }),
    ).rejects.toThrow(new TypeError('options.scope.tenant must be a string, got number'));
    await expect(
      idempotency.run('k', 1, fn, { scope: { principal: {} as unknown as string } }),
    ).rejects.toThrow(/options\.scope\.principal must be a string/);
    await expect(
      idempotency.run('k', 1, fn, { scope: null as unknown as { tenant: string } }),
    ).rejects.toThrow(/options\.scope must be an object/);
    await expect(
      idempotency.begin('k', 1, { scope: { tenant: 5 as unknown as string } }),
    ).rejects.toThrow(/options\.scope\.tenant/);
    await expect(
      idempotency.runInTransaction('k', 1, fn, { scope: { tenant: 5 as unknown as string } }),
    ).rejects.toThrow(/options\.scope\.tenant/);
    expect(
      await idempotency.run('k', 1, fn, { scope: { tenant: 't', principal: undefined } }),
    ).toBe(1);
  });

  it('checks what the scope option returns', async () => {
    const { store } = await memoryStore();
    const make = (scope: IdempotencyOptions['scope']) =>
      createIdempotency({ store, operation: 'op', ...(scope ? { scope } : {}) });
    const fn = async () => 1;
    await expect(
      make(() => undefined as unknown as { tenant: string }).run('k', 1, fn),
    ).rejects.toThrow(/options\.scope\(\) must be an object/);
    await expect(make(() => ({ tenant: 42 as unknown as string })).run('k', 1, fn)).rejects.toThrow(
      /options\.scope\(\)\.tenant must be a string, got number/,
    );
    expect(await make(() => ({ tenant: 'acme' })).run('k', 1, fn)).toBe(1);
  });

  it('exports assertScope for other entry points', () => {
    expect(() => assertScope({ tenant: 'a', principal: 'b' }, 'options.scope')).not.toThrow();
    expect(() => assertScope({}, 'options.scope')).not.toThrow();
    expect(() => assertScope([], 'options.scope')).toThrow(/options\.scope must be an object/);
    expect(() => assertScope({ tenant: null }, 'x')).toThrow('x.tenant must be a string, got null');
  });
});

describe('stale owners', () => {
  async function staleClaim() {
    const { store, clock } = await memoryStore();
    const idempotency = createIdempotency({ store, operation: 'op', heartbeat: false });
    const first = await idempotency.begin('c', 1);
    clock.advance(30_001);
    const second = await idempotency.begin('c', 1);
    if (first.type !== 'claimed' || second.type !== 'claimed') throw new Error('not claimed');
    return { idempotency, stale: first.claim, owner: second.claim };
  }

  it('a stale release() rejects with IDEMPOTENCY_STALE_OWNER', async () => {
    const { stale, owner, idempotency } = await staleClaim();
    await expect(stale.release()).rejects.toMatchObject({ code: 'IDEMPOTENCY_STALE_OWNER' });
    await owner.complete('winner');
    expect(await idempotency.run('c', 1, async () => 'x')).toBe('winner');
  });

  it('a stale fail() rejects with IDEMPOTENCY_STALE_OWNER, whether it stores or releases', async () => {
    const { stale } = await staleClaim();
    await expect(stale.fail(new Error('x'), 'store')).rejects.toMatchObject({
      code: 'IDEMPOTENCY_STALE_OWNER',
    });
    const again = await staleClaim();
    await expect(again.stale.fail(new Error('x'), 'release')).rejects.toMatchObject({
      code: 'IDEMPOTENCY_STALE_OWNER',
    });
  });

  it('run() keeps the error of fn when releasing a lost claim is rejected (and logs it)', async () => {
    const { store, clock } = await memoryStore();
    const logger = recordingLogger();
    const idempotency = createIdempotency({
      store,
      operation: 'op',
      heartbeat: false,
      logger,
    });
    const error = await idempotency
      .run('k', 1, async () => {
        clock.advance(30_001);
        const taken = await idempotency.begin('k', 1);
        expect(taken.type).toBe('claimed');
        throw new Error('gateway timeout');
      })
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe('gateway timeout');
    expect(logger.lines.some((l) => l.fields.event === 'idempotency.stale_owner')).toBe(true);
  });
});

describe('re-entrant use of a store inside its own transaction', () => {
  for (const kind of ['memory', 'sqlite'] as const) {
    const open = async () =>
      kind === 'memory' ? (await memoryStore()).store : (await sqliteStore()).store;

    it(`${kind}: run() nested in runInTransaction() fails fast with TRANSACTION_UNSUPPORTED`, async () => {
      const store = await open();
      const idempotency = createIdempotency({ store, operation: 'op' });
      const outcome = await within(
        idempotency.runInTransaction('outer', 1, async () =>
          idempotency.run('inner', 1, async () => 'inner'),
        ),
      );
      expect(outcome).not.toBe('hung');
      const { error } = outcome as { error: unknown };
      expect(isFlowproofError(error, 'TRANSACTION_UNSUPPORTED')).toBe(true);
      expect((error as Error).message).toMatch(/transaction/);
      // The outer transaction rolled back and the store still works.
      expect(await within(idempotency.run('outer', 1, async () => 'later'))).toBe('later');
    });

    it(`${kind}: runInTransaction() nested in runInTransaction() fails fast too`, async () => {
      const store = await open();
      const idempotency = createIdempotency({ store, operation: 'op' });
      const outcome = await within(
        idempotency.runInTransaction('outer', 1, async () =>
          idempotency.runInTransaction('inner', 1, async () => 'inner'),
        ),
      );
      expect(
        isFlowproofError((outcome as { error: unknown }).error, 'TRANSACTION_UNSUPPORTED'),
      ).toBe(true);
    });

    it(`${kind}: work started outside a transaction still waits for it`, async () => {
      const store = await open();
      const idempotency = createIdempotency({ store, operation: 'op' });
      let commit: () => void = () => {};
      const gate = new Promise<void>((resolve) => (commit = resolve));
      const outer = idempotency.runInTransaction('outer', 1, async () => {
        await gate;
        return 'outer';
      });
      await sleep(5);
      const other = idempotency.run('other', 1, async () => 'other');
      await sleep(5);
      commit();
      expect(await within(outer)).toBe('outer');
      expect(await within(other)).toBe('other');
    });

    it(`${kind}: work left behind by an ended transaction waits for a later one`, async () => {
      const store = await open();
      const idempotency = createIdempotency({ store, operation: 'op' });
      let late: Promise<string> | undefined;
      await idempotency.runInTransaction('first', 1, async () => {
        late = sleep(20).then(() => idempotency.run('late', 1, async () => 'late'));
        return 'first';
      });
      const second = idempotency.runInTransaction('second', 1, async () => {
        await sleep(60);
        return 'second';
      });
      expect(await within(late as Promise<string>)).toBe('late');
      expect(await within(second)).toBe('second');
    });
  }
});

describe('withLock and createDedupe options and outages', () => {
  it('withLock rejects non-object options with a TypeError naming them', async () => {
    const { store } = await memoryStore();
    const locks = createLock({ store });
    await expect(
      locks.withLock('z', () => 1, null as unknown as { waitMs: number }),
    ).rejects.toThrow(/options must be an object, got null/);
  });

  it('withLock maps a store outage to IDEMPOTENCY_UNAVAILABLE', async () => {
    const { store } = await memoryStore();
    const locks = createLock({
      store: overrideStore(store, {
        claim: async () => {
          throw new FlowproofError('BACKEND_TIMEOUT', 'no answer within 500 ms');
        },
      }),
    });
    let ran = false;
    const error = await locks
      .withLock('z', () => {
        ran = true;
      })
      .catch((e: unknown) => e);
    expect(isFlowproofError(error, 'IDEMPOTENCY_UNAVAILABLE')).toBe(true);
    expect((error as Error).cause).toMatchObject({ code: 'BACKEND_TIMEOUT' });
    expect(ran).toBe(false);
  });

  it('withLock returns the result when only the release fails (the lease then ends)', async () => {
    const { store } = await memoryStore();
    const logger = recordingLogger();
    const locks = createLock({
      store: overrideStore(store, { release: down }),
      logger,
    });
    expect(await locks.withLock('z', () => 'done')).toBe('done');
    expect(logger.lines.find((l) => l.fields.event === 'lock.release_failed')?.level).toBe('error');
  });

  it('createDedupe names options.consumer in its error', async () => {
    const { store } = await memoryStore();
    expect(() => createDedupe({ store, consumer: 'has space' })).toThrow(/options\.consumer/);
  });
});

describe('spans of runInTransaction and dedupe (OpenTelemetry SDK)', () => {
  const { exporter } = useTestTracing();
  const spans = (name: string) =>
    exporter
      .getFinishedSpans()
      .filter((span) => span.name === name)
      .map((span) => ({
        operation: span.attributes['flowproof.idempotency.operation'],
        outcome: span.attributes['flowproof.idempotency.outcome'],
        events: span.events.map((e) => e.name).filter((n) => n.startsWith('idempotency.')),
        status: span.status.code,
        errorCode: span.attributes[ERROR_CODE_ATTRIBUTE],
      }));

  it('runInTransaction records a span with the same events as run', async () => {
    const { store } = await memoryStore();
    const idempotency = createIdempotency({ store, operation: 'orders.create' });
    await idempotency.runInTransaction('k', 1, async () => 'done');
    await idempotency.runInTransaction('k', 1, async () => 'not run');
    expect(spans('flowproof.idempotency.run_in_transaction')).toEqual([
      {
        operation: 'orders.create',
        outcome: 'claim',
        events: ['idempotency.claim', 'idempotency.complete'],
        status: 0,
        errorCode: undefined,
      },
      {
        operation: 'orders.create',
        outcome: 'replay',
        events: ['idempotency.replay'],
        status: 0,
        errorCode: undefined,
      },
    ]);
  });

  it('dedupe records a span per message', async () => {
    const { store } = await memoryStore();
    const inbox = createDedupe({ store, consumer: 'billing' });
    await inbox.dedupe('m1', async () => 1);
    await inbox.dedupe('m1', async () => 2);
    expect(spans('flowproof.idempotency.dedupe')).toMatchObject([
      {
        operation: 'billing',
        outcome: 'claim',
        events: ['idempotency.claim', 'idempotency.complete'],
      },
      { operation: 'billing', outcome: 'replay', events: ['idempotency.replay'] },
    ]);
  });

  it('a failed completion is an event on the span', async () => {
    const { store } = await memoryStore();
    const idempotency = createIdempotency({
      store: overrideStore(store, { complete: down }),
      operation: 'op',
    });
    expect(await idempotency.run('k', 1, async () => 'done')).toBe('done');
    const [span] = exporter
      .getFinishedSpans()
      .filter((s) => s.name === 'flowproof.idempotency.run');
    const event = span?.events.find((e) => e.name === 'idempotency.complete_failed');
    expect(event?.attributes?.[ERROR_CODE_ATTRIBUTE]).toBe('BACKEND_UNAVAILABLE');
  });
});
