import fc from 'fast-check';
import { describe as describeBlock, expect, it } from 'vitest';
import { z } from 'zod';
import { createMemoryBackend } from '../adapters/memory/memory-backend.js';
import { createMemoryEntityStore } from '../adapters/memory/memory-entity-store.js';
import { createManualClock } from '../core/clock.js';
import { FlowproofError, isFlowproofError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { createEntities, startTimerSweeper, sweepTimers } from './entities/index.js';
import { defineMachine, describe, transition } from './index.js';
import { toMermaid } from './mermaid/index.js';

const OrderData = z.object({
  total: z.number().int().nonnegative(),
  transactionId: z.string().optional(),
  notes: z.number().int().default(0),
});

/** The reference's §9 order states, with a payment deadline and a guard. */
function orderMachine(delayMs = 30 * 60_000) {
  return defineMachine({
    id: 'order',
    initial: 'created',
    data: OrderData,
    effects: ['sendConfirmationEmail', 'refund', 'notifyWarehouse'],
    events: {
      payment_succeeded: z.object({ transactionId: z.string().min(1) }),
      payment_failed: null,
      payment_timeout: null,
      items_picked: null,
      label_created: null,
      delivered: null,
      user_cancelled: null,
      note_added: null,
    },
    states: {
      created: {
        on: {
          payment_succeeded: [
            {
              target: 'paid',
              guard: function totalIsPositive(data) {
                return data.total > 0;
              },
              assign: (data, event) => ({ ...data, transactionId: event.payload.transactionId }),
            },
            { target: 'cancelled', description: 'nothing to pay' },
          ],
          payment_failed: 'cancelled',
          payment_timeout: 'cancelled',
        },
        after: { delayMs, event: 'payment_timeout' },
      },
      paid: {
        on: { items_picked: { target: 'preparing', effects: ['notifyWarehouse'] } },
        entry: ['sendConfirmationEmail'],
      },
      preparing: { on: { label_created: 'shipped' } },
      shipped: { on: { delivered: 'completed' } },
      completed: { terminal: true },
      cancelled: { terminal: true },
    },
    anyState: {
      user_cancelled: { target: 'cancelled', effects: ['refund'] },
      note_added: {
        target: 'created',
        guard: () => false,
      },
    },
  });
}

const order = orderMachine();

async function codeOf(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
  } catch (error) {
    if (isFlowproofError(error)) return error.code;
    throw error;
  }
  return undefined;
}

describeBlock('defineMachine', () => {
  it('compiles states, terminal states and events in definition order', () => {
    expect(order.states).toEqual([
      'created',
      'paid',
      'preparing',
      'shipped',
      'completed',
      'cancelled',
    ]);
    expect(order.terminalStates).toEqual(['completed', 'cancelled']);
    expect(order.allowedEvents('created')).toEqual([
      'payment_succeeded',
      'payment_failed',
      'payment_timeout',
      'user_cancelled',
      'note_added',
    ]);
    expect(order.allowedEvents('completed')).toEqual([]);
    expect(order.isTerminal('cancelled')).toBe(true);
    expect(Object.isFrozen(order)).toBe(true);
  });

  it.each([
    [{ id: '' }, /config.id/],
    [{ id: 'has space' }, /config.id/],
    [{ version: 0 }, /config.version/],
    [{ initial: 'nowhere' }, /config.initial/],
    [{ states: { a: { on: { go: 'nowhere' } }, b: {} } }, /config.states.a.on.go.target/],
    [{ states: { a: { on: { undeclared: 'b' } }, b: {} } }, /undeclared.*not declared/],
    [{ states: { a: {}, b: { terminal: true, on: { go: 'a' } } } }, /config.states.b is terminal/],
    [
      { states: { a: { after: { delayMs: 5, event: 'go' } }, b: {} } },
      /after.event must be an event the state handles/,
    ],
    [
      {
        states: {
          a: { on: { go: { target: 'b', guard: () => true } }, after: { delayMs: 5, event: 'go' } },
          b: {},
        },
      },
      /unguarded/,
    ],
    [{ states: { a: { on: { go: 'b' }, after: { delayMs: -1, event: 'go' } }, b: {} } }, /delayMs/],
    [
      { states: { a: { on: { pay: 'b' }, after: { delayMs: 5, event: 'pay' } }, b: {} } },
      /without payload schema/,
    ],
    [
      {
        effects: ['known'],
        states: { a: { on: { go: { target: 'b', effects: ['unknown'] } } }, b: {} },
      },
      /effect "unknown"/,
    ],
    [{ events: { go: 'not a schema' } }, /config.events.go/],
    [{ migrations: [{ from: 1 }] }, /config.migrations\[0\].from/],
    [
      { version: 3, migrations: [{ from: 2, states: { x: 'nowhere' } }] },
      /config.migrations\[0\].states.x/,
    ],
  ])(
    'refuses an invalid definition with a TypeError naming the option (%#)',
    (override, message) => {
      const base = {
        id: 'm',
        initial: 'a',
        events: { go: null, pay: z.object({ amount: z.number() }) },
        states: { a: { on: { go: 'b' } }, b: { terminal: true } },
      };
      expect(() => defineMachine({ ...base, ...(override as object) } as never)).toThrow(TypeError);
      expect(() => defineMachine({ ...base, ...(override as object) } as never)).toThrow(message);
    },
  );
});

describeBlock('transition', () => {
  const start = order.initialSnapshot({ total: 1999, notes: 0 });

  it('returns the next snapshot and declared effects without touching the input', () => {
    const frozen = Object.freeze({ ...start, data: Object.freeze({ ...start.data }) });
    const { snapshot, effects } = order.transition(frozen, {
      type: 'payment_succeeded',
      payload: { transactionId: 'tx_1' },
    });
    expect(snapshot).toEqual({
      machineId: 'order',
      version: 1,
      state: 'paid',
      stateVersion: 2,
      data: { total: 1999, notes: 0, transactionId: 'tx_1' },
    });
    expect(effects).toEqual(['sendConfirmationEmail']);
    expect(frozen).toEqual(start);
    const next = transition(order, snapshot, { type: 'items_picked' });
    expect(next.effects).toEqual(['notifyWarehouse']);
    expect(next.snapshot.data).toBe(snapshot.data);
  });

  it('takes the first guarded alternative that passes', () => {
    const free = order.initialSnapshot({ total: 0, notes: 0 });
    const { snapshot } = order.transition(free, {
      type: 'payment_succeeded',
      payload: { transactionId: 'tx_0' },
    });
    expect(snapshot.state).toBe('cancelled');
  });

  it('allows anyState transitions from every non-terminal state, never from a terminal one', () => {
    for (const state of ['created', 'paid', 'preparing', 'shipped'] as const) {
      const { snapshot, effects } = order.transition(
        { ...start, state },
        { type: 'user_cancelled' },
      );
      expect(snapshot.state).toBe('cancelled');
      expect(effects).toEqual(['refund']);
    }
    try {
      order.transition({ ...start, state: 'completed' }, { type: 'user_cancelled' });
      expect.unreachable();
    } catch (error) {
      expect(isFlowproofError(error, 'STATE_TRANSITION_DENIED')).toBe(true);
      expect((error as FlowproofError).details).toMatchObject({
        state: 'completed',
        event: 'user_cancelled',
        allowed: [],
        reason: 'terminal',
      });
    }
  });

  it('denies with STATE_TRANSITION_DENIED listing what the state allows', async () => {
    expect.assertions(3);
    try {
      order.transition(start, { type: 'delivered' });
    } catch (error) {
      expect(error).toBeInstanceOf(FlowproofError);
      expect((error as FlowproofError).code).toBe('STATE_TRANSITION_DENIED');
      expect((error as FlowproofError).details).toMatchObject({
        allowed: [
          'payment_succeeded',
          'payment_failed',
          'payment_timeout',
          'user_cancelled',
          'note_added',
        ],
        reason: 'not-handled',
      });
    }
  });

  it('reports guard refusals, unknown events, invalid payloads and foreign snapshots', async () => {
    const denied = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return [(error as FlowproofError).code, (error as FlowproofError).details.reason];
      }
      return undefined;
    };
    expect(denied(() => order.transition(start, { type: 'note_added' }))).toEqual([
      'STATE_TRANSITION_DENIED',
      'guard',
    ]);
    expect(denied(() => order.transition(start, { type: 'bogus' } as never))).toEqual([
      'STATE_TRANSITION_DENIED',
      'unknown-event',
    ]);
    expect(
      await codeOf(() =>
        order.transition(start, { type: 'payment_succeeded', payload: { transactionId: '' } }),
      ),
    ).toBe('VALIDATION_FAILED');
    expect(
      await codeOf(() => order.transition({ ...start, version: 2 }, { type: 'payment_failed' })),
    ).toBe('MACHINE_VERSION_MISMATCH');
    expect(
      await codeOf(() =>
        order.transition({ ...start, machineId: 'other' }, { type: 'payment_failed' }),
      ),
    ).toBe('MACHINE_VERSION_MISMATCH');
    expect(
      await codeOf(() =>
        order.transition({ ...start, state: 'gone' as never }, { type: 'payment_failed' }),
      ),
    ).toBe('MACHINE_VERSION_MISMATCH');
    expect(() => order.transition(start, null as never)).toThrow(TypeError);
  });

  it('refuses asynchronous payload schemas in the synchronous transition', () => {
    const m = defineMachine({
      id: 'async',
      initial: 'a',
      events: { go: z.object({ x: z.string() }).refine(async () => true) },
      states: { a: { on: { go: 'b' } }, b: {} },
    });
    expect(() => m.transition(m.initialSnapshot(), { type: 'go', payload: { x: 'y' } })).toThrow(
      /asynchronous/,
    );
  });

  it('random event sequences never reach a state or transition the definition does not allow', () => {
    const described = describe(order);
    const allowed = new Set(described.transitions.map((t) => `${t.from}|${t.event}|${t.to}`));
    const eventArb = fc.oneof(
      fc.record({
        type: fc.constant('payment_succeeded' as const),
        payload: fc.record({ transactionId: fc.string() }),
      }),
      ...(
        [
          'payment_failed',
          'payment_timeout',
          'items_picked',
          'label_created',
          'delivered',
          'user_cancelled',
          'note_added',
        ] as const
      ).map((type) => fc.constant({ type })),
      fc.constant({ type: 'not_an_event' }),
    );
    fc.assert(
      fc.property(fc.nat(5000), fc.array(eventArb, { maxLength: 30 }), (total, sequence) => {
        let snapshot = order.initialSnapshot({ total, notes: 0 });
        for (const event of sequence) {
          try {
            const next = order.transition(snapshot, event as never).snapshot;
            expect(allowed.has(`${snapshot.state}|${event.type}|${next.state}`)).toBe(true);
            expect(next.stateVersion).toBe(snapshot.stateVersion + 1);
            snapshot = next;
          } catch (error) {
            expect(
              isFlowproofError(error, 'STATE_TRANSITION_DENIED') ||
                isFlowproofError(error, 'VALIDATION_FAILED'),
            ).toBe(true);
          }
          expect(order.states).toContain(snapshot.state);
          if (order.isTerminal(snapshot.state))
            expect(order.allowedEvents(snapshot.state)).toEqual([]);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describeBlock('migrateSnapshot', () => {
  const v1 = defineMachine({
    id: 'ticket',
    initial: 'new',
    events: { open: null, close: null },
    states: {
      new: { on: { open: 'in_review' } },
      in_review: { on: { close: 'done' } },
      done: { terminal: true },
    },
  });
  const v3 = defineMachine({
    id: 'ticket',
    version: 3,
    initial: 'open',
    events: { close: null },
    states: { open: { on: { close: 'closed' } }, closed: { terminal: true } },
    migrations: [
      { from: 1, states: { in_review: 'reviewing' }, data: () => ({ step: 1 }) },
      {
        from: 2,
        states: { new: 'open', reviewing: 'open', done: 'closed' },
        data: (data, state) => ({ ...(data as object), step: 2, state }),
      },
    ],
  });

  it('chains registered steps: renamed and removed states, converted data', () => {
    const old = { ...v1.initialSnapshot(), state: 'in_review' as const, stateVersion: 4 };
    expect(v3.migrateSnapshot(old)).toEqual({
      machineId: 'ticket',
      version: 3,
      state: 'open',
      stateVersion: 4,
      data: { step: 2, state: 'open' },
    });
    const current = v3.initialSnapshot();
    expect(v3.migrateSnapshot(current)).toBe(current);
  });

  it('fails with MACHINE_VERSION_MISMATCH when it cannot', async () => {
    const newer = { ...v3.initialSnapshot() };
    expect(await codeOf(() => v1.migrateSnapshot(newer))).toBe('MACHINE_VERSION_MISMATCH');
    expect(await codeOf(() => v3.migrateSnapshot({ ...newer, machineId: 'other' }))).toBe(
      'MACHINE_VERSION_MISMATCH',
    );
    const gap = defineMachine({
      id: 'ticket',
      version: 3,
      initial: 'open',
      events: { close: null },
      states: { open: { on: { close: 'closed' } }, closed: { terminal: true } },
      migrations: [{ from: 2 }],
    });
    expect(await codeOf(() => gap.migrateSnapshot(v1.initialSnapshot()))).toBe(
      'MACHINE_VERSION_MISMATCH',
    );
    const unmapped = defineMachine({
      id: 'ticket',
      version: 2,
      initial: 'new',
      events: { open: null },
      states: { new: { on: { open: 'reviewing' } }, reviewing: {} },
      migrations: [{ from: 1 }],
    });
    expect(
      await codeOf(() => unmapped.migrateSnapshot({ ...v1.initialSnapshot(), state: 'done' })),
    ).toBe('MACHINE_VERSION_MISMATCH');
  });
});

describeBlock('describe and toMermaid', () => {
  it('describes the structure as plain data', () => {
    const described = describe(order);
    expect(described.states.find((s) => s.name === 'created')).toEqual({
      name: 'created',
      initial: true,
      terminal: false,
      entry: [],
      timer: { delayMs: 1_800_000, event: 'payment_timeout' },
      description: null,
    });
    expect(described.events[0]).toEqual({ name: 'payment_succeeded', schema: 'zod' });
    expect(
      described.transitions.filter((t) => t.from === 'created' && t.event === 'payment_succeeded'),
    ).toEqual([
      {
        from: 'created',
        event: 'payment_succeeded',
        to: 'paid',
        guard: 'totalIsPositive',
        effects: ['sendConfirmationEmail'],
        anyState: false,
        timer: false,
        description: null,
      },
      {
        from: 'created',
        event: 'payment_succeeded',
        to: 'cancelled',
        guard: null,
        effects: [],
        anyState: false,
        timer: false,
        description: 'nothing to pay',
      },
    ]);
    expect(JSON.parse(JSON.stringify(described))).toEqual(described);
  });

  it('renders a stateDiagram-v2', () => {
    const simple = defineMachine({
      id: 'door',
      initial: 'closed',
      events: { open: null, close: null, lock: null, 'auto-close': null },
      states: {
        closed: { on: { open: 'is-open', lock: 'locked' } },
        'is-open': {
          on: { close: 'closed', 'auto-close': 'closed' },
          after: { delayMs: 30_000, event: 'auto-close' },
        },
        locked: { terminal: true, description: 'for good' },
      },
    });
    expect(toMermaid(simple, { direction: 'LR' })).toBe(
      [
        'stateDiagram-v2',
        '  direction LR',
        '  state "is-open" as s1',
        '  locked : for good',
        '  [*] --> closed',
        '  closed --> s1 : open',
        '  closed --> locked : lock',
        '  s1 --> closed : close',
        '  s1 --> closed : auto-close (after 30 s)',
        '  locked --> [*]',
        '',
      ].join('\n'),
    );
    const diagram = toMermaid(order);
    expect(diagram).toContain(
      '  created --> paid : payment_succeeded [totalIsPositive] / sendConfirmationEmail\n',
    );
    expect(diagram).toContain('  created --> cancelled : payment_timeout (after 30 min)\n');
    expect(diagram).toContain('  shipped --> cancelled : user_cancelled / refund\n');
    expect(() => toMermaid(order, { direction: 'RL' as never })).toThrow(/options.direction/);
  });
});

describeBlock('entities over the memory store', () => {
  async function setup(delayMs?: number) {
    const clock = createManualClock('2026-01-01T12:00:00Z');
    const backend = createMemoryBackend({ clock });
    const store = createMemoryEntityStore({ backend });
    await store.migrate();
    const machine = orderMachine(delayMs);
    return { clock, backend, store, orders: createEntities({ machine, store }) };
  }

  it('checks options early with TypeErrors naming the option', async () => {
    const { store, orders } = await setup();
    expect(() => createEntities({ machine: {} as never, store })).toThrow(/defineMachine/);
    expect(() => createEntities({ machine: order, store: {} as never })).toThrow(
      /options.store.load/,
    );
    expect(() => createEntities({ machine: order, store, logger: {} as never })).toThrow(
      /options.logger/,
    );
    await expect(orders.apply('', { type: 'payment_failed' })).rejects.toThrow(/id must be/);
    await expect(orders.history('x', { limit: 0 })).rejects.toThrow(/options.limit/);
    await expect(
      orders.applyWithRetry('x', { type: 'payment_failed' }, { attempts: 0 }),
    ).rejects.toThrow(/options.attempts/);
    await expect(sweepTimers(orders, { limit: -1 })).rejects.toThrow(/options.limit/);
    expect(() => startTimerSweeper(orders, { intervalMs: 0 })).toThrow(/options.intervalMs/);
    expect(() => createMemoryEntityStore({ backend: {} as never })).toThrow(/options.backend/);
  });

  it('validates data on create (schema output is stored) and fails before migrate()', async () => {
    const { orders } = await setup();
    const created = await orders.create('o1', { total: 10 } as never);
    expect(created.data).toEqual({ total: 10, notes: 0 });
    expect(await codeOf(() => orders.create('o2', { total: -1 } as never))).toBe(
      'VALIDATION_FAILED',
    );
    const fresh = createEntities({
      machine: order,
      store: createMemoryEntityStore({ backend: createMemoryBackend() }),
    });
    expect(await codeOf(() => fresh.get('o1'))).toBe('SCHEMA_OUTDATED');
  });

  it('fires the payment deadline 30 minutes after entering the state, by the store clock', async () => {
    const { clock, orders } = await setup();
    const created = await orders.create('o1', { total: 10, notes: 0 });
    expect(created.timer).toEqual({ at: '2026-01-01T12:30:00.000Z', event: 'payment_timeout' });
    clock.advance(29 * 60_000);
    expect((await sweepTimers(orders)).fired).toEqual([]);
    clock.advance(60_000);
    expect(await sweepTimers(orders)).toEqual({ fired: ['o1'], skipped: [], failed: [] });
    const entity = await orders.load('o1');
    expect([entity.state, entity.timer]).toEqual(['cancelled', null]);
    const [, fired] = (await orders.history('o1')).entries;
    expect(fired).toMatchObject({
      event: 'payment_timeout',
      from: 'created',
      to: 'cancelled',
      actor: { id: 'flowproof-timer', type: 'system' },
      at: '2026-01-01T12:30:00.000Z',
    });
  });

  it('does not fire a deadline of a state the entity has left', async () => {
    const { clock, orders } = await setup();
    await orders.create('o1', { total: 10, notes: 0 });
    await orders.apply('o1', { type: 'payment_succeeded', payload: { transactionId: 'tx' } });
    clock.advance(60 * 60_000);
    expect((await sweepTimers(orders)).fired).toEqual([]);
    expect((await orders.load('o1')).state).toBe('paid');
  });

  it('runs a sweeper loop until stopped', async () => {
    const { clock, orders } = await setup(1000);
    await orders.create('o1', { total: 10, notes: 0 });
    clock.advance(1000);
    const sweeper = startTimerSweeper(orders, { intervalMs: 5 });
    for (let i = 0; i < 100 && (await orders.load('o1')).state !== 'cancelled'; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await sweeper.stop();
    await sweeper[Symbol.asyncDispose]();
    expect((await orders.load('o1')).state).toBe('cancelled');
    const aborted = new AbortController();
    aborted.abort();
    const idle = startTimerSweeper(orders, { signal: aborted.signal });
    await idle.stop();
  });

  it('logs transitions and conflicts through the injected logger', async () => {
    const lines: string[] = [];
    const logger: Logger = {
      debug: (_fields, message) => lines.push(`debug ${message}`),
      info: () => {},
      warn: () => {},
      error: () => {},
      child: () => logger,
    };
    const { store } = await setup();
    const orders = createEntities({ machine: order, store, logger });
    await orders.create('o1', { total: 10, notes: 0 });
    await orders.apply('o1', { type: 'payment_failed' });
    expect(lines).toEqual(['debug entity created', 'debug state transition']);
  });

  it('replaying history always rebuilds the stored state (property)', async () => {
    const eventArb = fc.oneof(
      fc.record({
        type: fc.constant('payment_succeeded' as const),
        payload: fc.record({ transactionId: fc.string({ minLength: 1, maxLength: 8 }) }),
      }),
      ...(
        [
          'payment_failed',
          'items_picked',
          'label_created',
          'delivered',
          'user_cancelled',
          'note_added',
        ] as const
      ).map((type) => fc.constant({ type })),
    );
    const { orders } = await setup();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.nat(100),
        fc.array(eventArb, { maxLength: 12 }),
        async (total, events) => {
          const id = `p${n++}`;
          await orders.create(id, { total, notes: 0 });
          for (const event of events) {
            try {
              await orders.apply(id, event);
            } catch (error) {
              if (!isFlowproofError(error, 'STATE_TRANSITION_DENIED')) throw error;
            }
          }
          const { id: _id, timer, createdAt, updatedAt, ...stored } = await orders.load(id);
          expect(await orders.rebuild(id)).toEqual(stored);
          expect(order.states).toContain(stored.state);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('migrates lazily on apply and persists the migration as a checkpoint', async () => {
    const { store } = await setup();
    const v1 = defineMachine({
      id: 'doc',
      initial: 'draft',
      events: { publish: null },
      states: { draft: { on: { publish: 'live' } }, live: { terminal: true } },
    });
    const v2 = defineMachine({
      id: 'doc',
      version: 2,
      initial: 'editing',
      events: { publish: null },
      states: { editing: { on: { publish: 'published' } }, published: { terminal: true } },
      migrations: [{ from: 1, states: { draft: 'editing', live: 'published' } }],
    });
    await createEntities({ machine: v1, store }).create('d1');
    const docs = createEntities({ machine: v2, store });
    expect((await docs.get('d1'))?.state).toBe('editing');
    const { entity } = await docs.apply('d1', { type: 'publish' });
    expect([entity.state, entity.version, entity.stateVersion]).toEqual(['published', 2, 3]);
    expect((await docs.upgrade('d1')).stateVersion).toBe(3);
  });
});
