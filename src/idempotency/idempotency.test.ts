import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { recordingLogger } from '../../test/support/logger.js';
import { overrideStore } from '../../test/support/stores.js';
import { createMemoryBackend } from '../adapters/memory/memory-backend.js';
import { createMemoryIdempotencyStore } from '../adapters/memory/memory-idempotency-store.js';
import { runWithContext } from '../core/context.js';
import { FlowproofError, isFlowproofError } from '../core/errors.js';
import { createDedupe } from './dedupe.js';
import { LockNotAcquiredError } from './errors.js';
import { canonicalJson, fingerprint } from './fingerprint.js';
import { createIdempotency, type IdempotencyOptions } from './idempotency.js';
import type { IdempotencyStore } from './idempotency-store.js';
import { scopedKey } from './scope.js';
import { createLock } from './with-lock.js';

async function memoryStore() {
  const store = createMemoryIdempotencyStore({ backend: createMemoryBackend() });
  await store.migrate();
  return store;
}

const code = (error: unknown) => (isFlowproofError(error) ? error.code : String(error));

describe('fingerprint', () => {
  it('is stable under key order and distinguishes values', () => {
    expect(canonicalJson({ b: 1, a: [true, null, { d: 'x', c: 2 }] })).toBe(
      '{"a":[true,null,{"c":2,"d":"x"}],"b":1}',
    );
    expect(fingerprint({ a: 1, b: 2 })).toBe(fingerprint({ b: 2, a: 1 }));
    expect(fingerprint({ a: 1 })).not.toBe(fingerprint({ a: '1' }));
    expect(fingerprint(undefined)).toBe(fingerprint(null));
    expect(fingerprint({ a: undefined, b: 1 })).toBe(fingerprint({ b: 1 }));
    expect(fingerprint({ at: new Date(0) })).toBe(fingerprint({ at: '1970-01-01T00:00:00.000Z' }));
    expect(fingerprint('x')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses what JSON cannot carry', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(TypeError);
    expect(() => canonicalJson({ m: new Map() })).toThrow(/instance of Map/);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => canonicalJson(cycle)).toThrow(/cycle/);
  });
});

describe('scopedKey', () => {
  it('is unambiguous', () => {
    expect(scopedKey('op', 'k', { tenant: 'a|b' })).not.toBe(
      scopedKey('op', 'k', { tenant: 'a', principal: 'b' }),
    );
    expect(scopedKey('op', 'k|x')).not.toBe(scopedKey('op|k', 'x'));
  });
});

describe('createIdempotency', () => {
  it('rejects bad options with a TypeError naming the option', async () => {
    const store = await memoryStore();
    const bad: [Partial<IdempotencyOptions>, RegExp][] = [
      [{ store: {} as IdempotencyStore }, /options\.store/],
      [{ leaseMs: 0 }, /options\.leaseMs/],
      [{ retentionMs: -1 }, /options\.retentionMs/],
      [{ heartbeat: { intervalMs: 40_000 } }, /options\.heartbeat\.intervalMs/],
      [{ onUnavailable: 'maybe' as never }, /options\.onUnavailable/],
      [{ cache: { maxEntries: 0 } }, /options\.cache\.maxEntries/],
      [{ operation: 'has space' }, /options\.operation/],
      [{ serializer: {} as never }, /options\.serializer/],
    ];
    for (const [options, message] of bad) {
      expect(() => createIdempotency({ store, ...options })).toThrow(message);
    }
    const idempotency = createIdempotency({ store });
    await expect(idempotency.run('k', {}, async () => 1)).rejects.toThrow(/operation/);
  });

  it('rejects invalid keys with IDEMPOTENCY_KEY_INVALID', async () => {
    const idempotency = createIdempotency({ store: await memoryStore(), operation: 'op' });
    for (const key of ['', 'x'.repeat(256), 'tab\tkey', 'é']) {
      await expect(idempotency.run(key, {}, async () => 1)).rejects.toMatchObject({
        code: 'IDEMPOTENCY_KEY_INVALID',
      });
    }
  });

  it('runs once, replays the result, and refuses a reused key with another request', async () => {
    const idempotency = createIdempotency({
      store: await memoryStore(),
      operation: 'orders.create',
    });
    let runs = 0;
    const create = async () => {
      runs += 1;
      return { id: `order-${runs}` };
    };
    expect(await idempotency.run('k1', { total: 10 }, create)).toEqual({ id: 'order-1' });
    expect(await idempotency.run('k1', { total: 10 }, create)).toEqual({ id: 'order-1' });
    await expect(idempotency.run('k1', { total: 11 }, create)).rejects.toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    expect(runs).toBe(1);
    expect(await idempotency.run('k1', { total: 10 }, create, { operation: 'other' })).toEqual({
      id: 'order-2',
    });
  });

  it('scopes keys by tenant and principal from the flow context', async () => {
    const idempotency = createIdempotency({ store: await memoryStore(), operation: 'op' });
    let runs = 0;
    const fn = async () => (runs += 1);
    await runWithContext({ tenant: 'acme' }, () => idempotency.run('k', {}, fn));
    await runWithContext({ tenant: 'globex' }, () => idempotency.run('k', {}, fn));
    await runWithContext({ tenant: 'acme', actor: { id: 'u1' } }, () =>
      idempotency.run('k', {}, fn),
    );
    await runWithContext({ tenant: 'acme' }, () => idempotency.run('k', {}, fn));
    expect(runs).toBe(3);
  });

  it('stores validation errors and replays them; releases other errors', async () => {
    const idempotency = createIdempotency({ store: await memoryStore(), operation: 'op' });
    let runs = 0;
    const invalid = async () => {
      runs += 1;
      throw new FlowproofError('VALIDATION_FAILED', 'total must be positive', {
        details: { f: 1 },
      });
    };
    for (let i = 0; i < 2; i += 1) {
      await expect(idempotency.run('v', {}, invalid)).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        details: { f: 1 },
      });
    }
    expect(runs).toBe(1);
    const transient = async () => {
      runs += 1;
      throw new Error('timeout');
    };
    await expect(idempotency.run('t', {}, transient)).rejects.toThrow('timeout');
    await expect(idempotency.run('t', {}, transient)).rejects.toThrow('timeout');
    expect(runs).toBe(3);
    expect(await idempotency.run('t', {}, async () => 'ok')).toBe('ok');
  });

  it('replays undefined, validates stored results on read, and uses a custom serializer', async () => {
    const store = await memoryStore();
    const idempotency = createIdempotency({ store, operation: 'op' });
    expect(await idempotency.run('u', {}, async () => undefined)).toBeUndefined();
    expect(await idempotency.run('u', {}, async () => 'not again')).toBeUndefined();
    await idempotency.run('n', {}, async () => ({ n: 'one' }));
    await expect(
      idempotency.run('n', {}, async () => ({ n: 1 }), {
        resultSchema: z.object({ n: z.number() }),
      }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    const dates = createIdempotency({
      store,
      operation: 'dates',
      serializer: {
        serialize: (value) => String((value as Date).getTime()),
        deserialize: (text) => new Date(Number(text)),
      },
    });
    await dates.run('d', {}, async () => new Date(5));
    expect(await dates.run('d', {}, async () => new Date(6))).toEqual(new Date(5));
  });

  it('answers duplicates from the in-process cache, short and long requests alike', async () => {
    const store = await memoryStore();
    let claims = 0;
    const counting = overrideStore(store, {
      claim: (r) => {
        claims += 1;
        return store.claim(r);
      },
    });
    const idempotency = createIdempotency({
      store: counting,
      operation: 'op',
      cache: { maxEntries: 2 },
    });
    await idempotency.run('a', {}, async () => 'A');
    expect(await idempotency.run('a', {}, async () => 'no')).toBe('A');
    await expect(idempotency.run('a', { other: 1 }, async () => 'no')).rejects.toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    // A long request is kept as its fingerprint, not as text: still checked.
    const long = { note: 'x'.repeat(2_000) };
    await idempotency.run('long', long, async () => 'L');
    expect(await idempotency.run('long', { ...long }, async () => 'no')).toBe('L');
    await expect(
      idempotency.run('long', { note: `${'x'.repeat(1_999)}y` }, async () => 'no'),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(claims).toBe(2);
  });

  it('fails closed or open when the store is unavailable', async () => {
    const down = overrideStore(await memoryStore(), {
      claim: async () => {
        throw new FlowproofError('BACKEND_UNAVAILABLE', 'connection refused');
      },
    });
    const logger = recordingLogger();
    const closed = createIdempotency({ store: down, operation: 'op' });
    const error = await closed.run('k', {}, async () => 1).catch((e: unknown) => e);
    expect(code(error)).toBe('IDEMPOTENCY_UNAVAILABLE');
    expect((error as Error).cause).toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    const open = createIdempotency({
      store: down,
      operation: 'op',
      onUnavailable: 'fail-open',
      logger,
    });
    expect(await open.run('k', {}, async () => 'ran unprotected')).toBe('ran unprotected');
    expect(logger.lines.some((l) => l.fields.event === 'idempotency.unavailable')).toBe(true);
  });

  it('logs claim, replay, conflict and mismatch events', async () => {
    const logger = recordingLogger();
    const idempotency = createIdempotency({
      store: await memoryStore(),
      operation: 'op',
      logger,
    });
    const slow = idempotency.run(
      'k',
      {},
      async () => new Promise((r) => setTimeout(() => r(1), 50)),
    );
    await idempotency.run('k', {}, async () => 2).catch(() => {});
    await slow;
    await idempotency.run('k', {}, async () => 3);
    await idempotency.run('k', { x: 1 }, async () => 3).catch(() => {});
    const events = logger.lines.map((l) => l.fields.event);
    for (const event of ['claim', 'conflict', 'complete', 'replay', 'mismatch']) {
      expect(events).toContain(`idempotency.${event}`);
    }
    expect(logger.lines.every((l) => l.fields.operation === 'op')).toBe(true);
  });
});

describe('createDedupe', () => {
  it('handles each message id once and releases it when the handler fails', async () => {
    const inbox = createDedupe({ store: await memoryStore(), consumer: 'billing' });
    let handled = 0;
    expect(await inbox.dedupe('m1', async () => (handled += 1))).toEqual({
      duplicate: false,
      value: 1,
    });
    expect(await inbox.dedupe('m1', async () => (handled += 1))).toEqual({
      duplicate: true,
      value: 1,
    });
    await expect(inbox.dedupe('m2', async () => Promise.reject(new Error('down')))).rejects.toThrow(
      'down',
    );
    expect(await inbox.dedupe('m2', async () => 'retried')).toEqual({
      duplicate: false,
      value: 'retried',
    });
  });
});

describe('createLock', () => {
  it('excludes other holders, passes increasing fencing tokens, and rejects a stale holder', async () => {
    const store = await memoryStore();
    const locks = createLock({ store, leaseMs: 200 });
    const tokens: number[] = [];
    const held = locks.withLock('seat-1', async ({ token }) => {
      tokens.push(token);
      await new Promise((r) => setTimeout(r, 100));
    });
    await expect(locks.withLock('seat-1', async () => {})).rejects.toBeInstanceOf(
      LockNotAcquiredError,
    );
    await held;
    await locks.withLock('seat-1', async ({ token }) => void tokens.push(token));
    expect(tokens[1]).toBeGreaterThan(tokens[0] as number);
    const waited = createLock({ store, leaseMs: 200, waitMs: 1_000, pollMs: 10 });
    const first = waited.withLock('seat-2', async () => new Promise((r) => setTimeout(r, 80)));
    await waited.withLock('seat-2', async () => {});
    await first;
    expect(() => createLock({ store, leaseMs: 0 })).toThrow(/options\.leaseMs/);
  });
});
