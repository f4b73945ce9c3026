/**
 * Entities at their edges, on the memory store: machine-version changes meeting denials and
 * timers, ids and values the stores cannot all keep, payloads of events declared without one, the
 * retry backoff and a broken store clock. Behaviour every store must share is in the entity-store
 * conformance suite (src/testing/entity-store-conformance.ts).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { failure } from '../../../test/support/failures.js';
import { createMemoryBackend } from '../../adapters/memory/memory-backend.js';
import { createMemoryEntityStore } from '../../adapters/memory/memory-entity-store.js';
import { type Clock, createManualClock } from '../../core/clock.js';
import { runWithContext } from '../../core/context.js';
import { defineMachine } from '../define-machine.js';
import { createEntities } from './create-entities.js';
import { sweepTimers } from './timers.js';

async function memoryStore(clock: Clock = createManualClock('2026-01-01T00:00:00Z')) {
  const store = createMemoryEntityStore({ backend: createMemoryBackend({ clock }) });
  await store.migrate();
  return store;
}

/** Order v1: `created` times out with `timeout`; `parked` waits a day for `timeout`. */
const orderV1 = defineMachine({
  id: 'order',
  initial: 'created',
  events: { timeout: null, pay: null, park: null },
  states: {
    created: {
      on: { pay: 'paid', timeout: 'cancelled', park: 'parked' },
      after: { delayMs: 60_000, event: 'timeout' },
    },
    parked: { on: { timeout: 'cancelled' }, after: { delayMs: 86_400_000, event: 'timeout' } },
    paid: { on: { pay: 'paid' } },
    cancelled: { terminal: true },
  },
});

/** Order v2: `created` is renamed `awaiting` and expires with `expire`; `parked` has no deadline. */
const orderV2 = defineMachine({
  id: 'order',
  version: 2,
  initial: 'awaiting',
  events: { expire: null, pay: null, unpark: null },
  states: {
    awaiting: {
      on: { pay: 'paid', expire: 'cancelled' },
      after: { delayMs: 60_000, event: 'expire' },
    },
    parked: { on: { unpark: 'awaiting' } },
    paid: {},
    cancelled: { terminal: true },
  },
  migrations: [{ from: 1, states: { created: 'awaiting' } }],
});

describe('entities across a machine-version change', () => {
  it('fires the migrated state’s deadline event in the first sweep, in one write with its @migrate row', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const store = await memoryStore(clock);
    await createEntities({ machine: orderV1, store }).create('o1');
    clock.advance(120_000);
    const orders = createEntities({ machine: orderV2, store });
    const result = await sweepTimers(orders);
    expect(result).toEqual({ fired: ['o1'], skipped: [], failed: [] });
    const entity = await orders.load('o1');
    expect([entity.state, entity.stateVersion, entity.timer]).toEqual(['cancelled', 3, null]);
    const { entries } = await orders.history('o1');
    expect(entries.map((e) => [e.event, e.from, e.to, e.machineVersion, e.actor])).toEqual([
      ['@create', null, 'created', 1, null],
      ['@migrate', 'created', 'awaiting', 2, { id: 'flowproof-timer', type: 'system' }],
      ['expire', 'awaiting', 'cancelled', 2, { id: 'flowproof-timer', type: 'system' }],
    ]);
    const { id, timer, createdAt, updatedAt, ...snapshot } = entity;
    expect(await orders.rebuild('o1')).toEqual(snapshot);
  });

  it('clears a deadline the migrated state no longer has, firing nothing', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const store = await memoryStore(clock);
    const v1 = createEntities({ machine: orderV1, store });
    await v1.create('o2');
    await v1.apply('o2', { type: 'park' });
    clock.advance(2 * 86_400_000);
    const orders = createEntities({ machine: orderV2, store });
    expect(await sweepTimers(orders)).toEqual({ fired: [], skipped: ['o2'], failed: [] });
    const entity = await orders.load('o2');
    expect([entity.state, entity.stateVersion, entity.timer]).toEqual(['parked', 3, null]);
    expect((await orders.history('o2')).entries.map((e) => e.event)).toEqual([
      '@create',
      'park',
      '@migrate',
    ]);
    expect(await store.dueTimers('order', clock.now(), 10)).toEqual([]);
  });

  it('keeps the running due time when the migrated state has a deadline that is not due yet', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const store = await memoryStore(clock);
    await createEntities({ machine: orderV1, store }).create('o3');
    clock.advance(30_000);
    const orders = createEntities({ machine: orderV2, store });
    expect(await sweepTimers(orders)).toEqual({ fired: [], skipped: [], failed: [] });
    const upgraded = await orders.upgrade('o3');
    expect(upgraded.timer).toEqual({ at: '2026-01-01T00:01:00.000Z', event: 'expire' });
    clock.advance(30_000);
    expect((await sweepTimers(orders)).fired).toEqual(['o3']);
  });

  it('writes nothing when the migrated entity refuses the event', async () => {
    const store = await memoryStore();
    const v1 = createEntities({ machine: orderV1, store });
    await v1.create('o4');
    await v1.apply('o4', { type: 'pay' });
    const orders = createEntities({ machine: orderV2, store });
    for (const attempt of [
      () => orders.apply('o4', { type: 'pay' }),
      () => orders.applyWithRetry('o4', { type: 'pay' }),
      () => orders.applyWithRetry('o4', () => ({ type: 'pay' as const })),
    ]) {
      expect((await failure(attempt())).code).toBe('STATE_TRANSITION_DENIED');
    }
    const raw = await store.load('order', 'o4');
    expect([raw?.machineVersion, raw?.stateVersion, raw?.state]).toEqual([1, 2, 'paid']);
    expect((await orders.history('o4')).entries.map((e) => e.event)).toEqual(['@create', 'pay']);
  });

  it('migrates and applies in one write, both rows with the caller’s actor', async () => {
    const store = await memoryStore();
    await createEntities({ machine: orderV1, store }).create('o5');
    const orders = createEntities({ machine: orderV2, store });
    const { entity, from } = await runWithContext({ actor: { id: 'u1' } }, () =>
      orders.apply('o5', { type: 'pay' }),
    );
    expect([from, entity.state, entity.stateVersion, entity.version]).toEqual([
      'awaiting',
      'paid',
      3,
      2,
    ]);
    expect(
      (await orders.history('o5')).entries.map((e) => [e.stateVersion, e.event, e.actor]),
    ).toEqual([
      [1, '@create', null],
      [2, '@migrate', { id: 'u1' }],
      [3, 'pay', { id: 'u1' }],
    ]);
  });
});

describe('entity ids', () => {
  const machine = defineMachine({
    id: 'ids',
    initial: 'a',
    events: { go: null },
    states: { a: { on: { go: 'a' } } },
  });

  it('refuses ids every store cannot keep as they are: lone surrogates and NUL', async () => {
    const entities = createEntities({ machine, store: await memoryStore() });
    for (const id of ['a\uD800', '\uDC00b', 'a\u0000b']) {
      await expect(entities.create(id)).rejects.toThrow(TypeError);
      await expect(entities.get(id)).rejects.toThrow(/^id must /);
      await expect(entities.apply(id, { type: 'go' })).rejects.toThrow(TypeError);
      await expect(entities.history(id)).rejects.toThrow(TypeError);
    }
    await expect(entities.create('a\uD800')).rejects.toThrow(
      'id must be well-formed Unicode (no lone surrogates), got "a\\ud800"',
    );
    await expect(entities.create('a\u0000b')).rejects.toThrow(
      'id must not contain NUL (U+0000), got "a\\u0000b"',
    );
    // A surrogate pair is well-formed.
    expect((await entities.create('a😀')).id).toBe('a😀');
  });

  it('says what is wrong with an empty or non-string id', async () => {
    const entities = createEntities({ machine, store: await memoryStore() });
    await expect(entities.create('')).rejects.toThrow(
      'id must be a non-empty string, got an empty string',
    );
    await expect(entities.load(5 as never)).rejects.toThrow(
      'id must be a non-empty string, got number',
    );
  });
});

describe('entity data and event payloads are JSON data', () => {
  const machine = defineMachine({
    id: 'json',
    initial: 'a',
    data: z.object({
      n: z.number(),
      at: z
        .string()
        .transform((s) => new Date(s))
        .optional(),
    }),
    events: {
      set: z.object({ value: z.unknown() }),
      stamp: z.object({ at: z.string().transform((s) => new Date(s)) }),
      go: null,
    },
    states: {
      a: {
        on: {
          set: { target: 'a', assign: (data, event) => ({ ...data, value: event.payload.value }) },
          stamp: 'a',
          go: { target: 'a', assign: (data) => ({ ...data, later: new Map() }) },
        },
      },
    },
  });

  async function setup() {
    const store = await memoryStore();
    const entities = createEntities({ machine, store });
    await entities.create('e', { n: 1 });
    const unchanged = async () => {
      const raw = await store.load('json', 'e');
      expect([raw?.stateVersion, raw?.data]).toEqual([1, { n: 1 }]);
      expect((await entities.history('e')).entries).toHaveLength(1);
    };
    return { store, entities, unchanged };
  }

  it('refuses a Date from a schema transform in data, with the path and nothing written', async () => {
    const { entities } = await setup();
    const error = await failure(
      entities.create('d', { n: 1, at: '2026-01-01T00:00:00Z' } as never),
    );
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.message).toMatch(
      /^The data of entity "d" of machine "json" is invalid: at: a Date/,
    );
    expect(error.details).toMatchObject({
      machineId: 'json',
      entityId: 'd',
      issues: [{ path: ['at'], code: 'not_json' }],
    });
    expect(await entities.get('d')).toBeUndefined();
  });

  it.each([
    ['a Date', new Date(0), /a Date is not JSON data/],
    ['a Map', new Map(), /an object of class Map is not JSON data/],
    ['NaN', Number.NaN, /NaN is not JSON data/],
    ['Infinity', Number.POSITIVE_INFINITY, /Infinity is not JSON data/],
    ['a bigint', 1n, /a bigint is not JSON data/],
    ['a function', () => 1, /a function is not JSON data/],
    ['a symbol', Symbol('s'), /a symbol is not JSON data/],
    ['undefined in an array', [1, undefined], /value\.1: undefined is not JSON data/],
    ['a hole in an array', new Array(2).fill(1, 0, 1), /value\.1: undefined is not JSON data/],
    ['a NUL character', { s: 'a\u0000b' }, /value\.s: the string contains NUL \(U\+0000\)/],
    ['a lone surrogate', ['\uD800'], /value\.0: the string is not well-formed Unicode/],
    ['a NUL in a key', { 'k\u0000': 1 }, /value: the key "k\\u0000" contains NUL/],
    ['a lone surrogate in a key', { '\uDC00': 1 }, /value: the key "\\udc00" is not well-formed/],
  ])(
    'refuses %s in a payload with VALIDATION_FAILED, writing nothing',
    async (_, value, message) => {
      const { entities, unchanged } = await setup();
      const error = await failure(entities.apply('e', { type: 'set', payload: { value } }));
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.message).toMatch(/^The payload of event "set" is invalid: /);
      expect(error.message).toMatch(message);
      expect(error.details).toMatchObject({ machineId: 'json', event: 'set' });
      await unchanged();
    },
  );

  it('refuses a Date in a payload and non-JSON data made by assign, writing nothing', async () => {
    const { entities, unchanged } = await setup();
    const stamped = await failure(
      entities.apply('e', { type: 'stamp', payload: { at: '2026-01-01T00:00:00Z' } }),
    );
    expect(stamped.code).toBe('VALIDATION_FAILED');
    expect(stamped.details.issues).toEqual([
      { path: ['at'], code: 'not_json', message: expect.stringMatching(/^a Date is not JSON/) },
    ]);
    const assigned = await failure(entities.applyWithRetry('e', { type: 'go' }));
    expect(assigned.code).toBe('VALIDATION_FAILED');
    expect(assigned.message).toMatch(
      /^The data of entity "e" of machine "json" is invalid: later:/,
    );
    await unchanged();
  });

  it('refuses values nested too deeply or circular', async () => {
    const { entities, unchanged } = await setup();
    const deep: Record<string, unknown> = {};
    let cursor = deep;
    for (let i = 0; i < 5000; i += 1) {
      const next = {};
      cursor.c = next;
      cursor = next;
    }
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const value of [deep, circular]) {
      const error = await failure(entities.apply('e', { type: 'set', payload: { value } }));
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.message).toMatch(/nested deeper than 1000 levels \(or circular\)/);
    }
    await unchanged();
  });

  it('returns what load() returns: undefined properties left out, -0 as 0, the rest as given', async () => {
    const { entities } = await setup();
    const value = {
      kept: [1, -0, 'ü', null, { deep: -0, gone: undefined }],
      gone: undefined,
      proto: JSON.parse('{"__proto__": {"x": 1}}'),
      bare: Object.assign(Object.create(null), { a: 1 }),
    };
    const { entity } = await entities.apply('e', { type: 'set', payload: { value } });
    const returned = entity.data as unknown as {
      value: { kept: unknown[]; proto: object; gone?: unknown };
    };
    const loaded = await entities.load('e');
    expect(loaded.data).toStrictEqual(JSON.parse(JSON.stringify(loaded.data)));
    expect(Object.is(returned.value.kept[1], 0)).toBe(true);
    expect(entity.data).toEqual(loaded.data);
    expect(JSON.stringify(entity.data)).toBe(JSON.stringify(loaded.data));
    expect('gone' in returned.value).toBe(false);
    expect(Object.keys(returned.value.proto)).toEqual(['__proto__']);
    expect(value.kept[1]).toBe(-0); // the caller's value is not changed
    const { entries } = await entities.history('e');
    expect(entries.at(-1)?.payload).toEqual({ value: JSON.parse(JSON.stringify(value)) });
  });

  it('returns the very objects given when nothing needs normalising', async () => {
    const store = await memoryStore();
    const plain = defineMachine({
      id: 'plain',
      initial: 'a',
      events: { go: null },
      states: { a: { on: { go: 'a' } } },
    });
    const data = { list: [1, 'two', { three: true }] };
    const created = await createEntities({ machine: plain, store }).create('p', data as never);
    expect(created.data).toBe(data);
  });
});

describe('events declared without a payload', () => {
  it('refuse a payload with VALIDATION_FAILED, writing nothing', async () => {
    const machine = defineMachine({
      id: 'bare',
      initial: 'a',
      events: { go: null },
      states: {
        a: {
          on: { go: { target: 'a', assign: (_, event) => ({ seen: event.payload }) as never } },
        },
      },
    });
    const store = await memoryStore();
    const entities = createEntities({ machine, store });
    await entities.create('b');
    for (const attempt of [
      () => entities.apply('b', { type: 'go', payload: { sneaky: 1 } } as never),
      () => entities.applyWithRetry('b', { type: 'go', payload: null } as never),
      () => entities.applyWithRetry('b', () => ({ type: 'go', payload: 0 }) as never),
    ]) {
      const error = await failure(attempt());
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.message).toBe(
        'The payload of event "go" is invalid: (root): the event takes no payload',
      );
      expect(error.details).toMatchObject({ machineId: 'bare', event: 'go' });
    }
    expect((await entities.load('b')).stateVersion).toBe(1);
    expect((await entities.history('b')).entries).toHaveLength(1);
    await entities.apply('b', { type: 'go', payload: undefined } as never);
    expect((await entities.load('b')).stateVersion).toBe(2);
  });
});

describe('applyWithRetry backoff', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const counter = defineMachine({
    id: 'counter',
    initial: 'a',
    events: { inc: null },
    states: { a: { on: { inc: 'a' } } },
  });

  const realSetTimeout = globalThis.setTimeout;

  /** Runs `applyWithRetry` against a decider that always loses; returns the waits it slept. */
  async function waitsOf(options: Record<string, unknown>): Promise<number[]> {
    const entities = createEntities({ machine: counter, store: await memoryStore() });
    await entities.create('x');
    const waits: number[] = [];
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      waits.push(ms ?? 0);
      return realSetTimeout(fn, 0);
    }) as typeof setTimeout);
    const error = await failure(
      entities.applyWithRetry(
        'x',
        async () => {
          await entities.apply('x', { type: 'inc' });
          return { type: 'inc' as const };
        },
        options,
      ),
    );
    expect(error.code).toBe('VERSION_CONFLICT');
    vi.restoreAllMocks();
    return waits;
  }

  it('caps each wait at maxBackoffMs, 1 s by default', async () => {
    const waits = await waitsOf({ attempts: 40 });
    expect(waits).toHaveLength(39);
    expect(Math.max(...waits)).toBeLessThanOrEqual(1000);
    expect(Math.max(...waits.slice(-5))).toBeGreaterThanOrEqual(500);
    const capped = await waitsOf({ attempts: 12, backoffMs: 5, maxBackoffMs: 40 });
    expect(Math.max(...capped)).toBeLessThanOrEqual(40);
    expect(Math.min(...capped.slice(-3))).toBeGreaterThanOrEqual(20);
  });

  it('defaults the cap to backoffMs when that is larger, and checks the option', async () => {
    const waits = await waitsOf({ attempts: 3, backoffMs: 2000 });
    expect(Math.max(...waits)).toBeLessThanOrEqual(2000);
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(1000);
    const entities = createEntities({ machine: counter, store: await memoryStore() });
    await expect(
      entities.applyWithRetry('x', { type: 'inc' }, { maxBackoffMs: -1 }),
    ).rejects.toThrow(/^options.maxBackoffMs must be an integer between 0 and/);
    await expect(
      entities.applyWithRetry('x', { type: 'inc' }, { backoffMs: 50, maxBackoffMs: 10 }),
    ).rejects.toThrow('options.maxBackoffMs must be at least options.backoffMs (50), got 10');
  });
});

describe('a store clock that returns no valid Date', () => {
  const machine = defineMachine({
    id: 'clocked',
    initial: 'a',
    events: { go: null },
    states: { a: { on: { go: 'a' }, after: { delayMs: 10, event: 'go' } } },
  });

  it.each([
    ['an invalid Date', () => new Date(Number.NaN), 'an invalid Date'],
    ['a number', () => Date.now(), 'number'],
  ])('is a TypeError naming the clock when it returns %s', async (_, now, got) => {
    const store = await memoryStore({ now } as Clock);
    const entities = createEntities({ machine, store });
    const message = `store.now() must resolve to a valid Date (check the clock of the store's backend), got ${got}`;
    await expect(entities.create('c')).rejects.toThrow(message);
    await expect(entities.create('c')).rejects.toThrow(TypeError);
    await expect(sweepTimers(entities)).rejects.toThrow(message);
  });
});
