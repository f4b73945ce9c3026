/**
 * flowproof/state-machine side by side with XState v5 on the same order machine (the reference's
 * §9 order states: a guarded payment with a data update, an entry action, cancellation from any
 * state):
 *
 * - pure transitions: flowproof `machine.transition()` against XState's pure `transition()`;
 * - restore → apply → persist: flowproof `entities.apply()` on a memory (and an in-memory SQLite)
 *   entity store, which also appends a history row and compares-and-sets the version, against
 *   `createActor(machine, { snapshot }).start()`, `send()`, `getPersistedSnapshot()` with the
 *   persisted snapshot kept as JSON in a map.
 */
import Database from 'better-sqlite3';
import {
  assign,
  createActor,
  initialTransition,
  setup,
  transition as xstateTransition,
} from 'xstate';
import { z } from 'zod';
import { createMemoryBackend, createMemoryEntityStore } from '../src/adapters/memory/index.js';
import { createSqliteBackend, createSqliteEntityStore } from '../src/adapters/sqlite/index.js';
import { createEntities } from '../src/state-machine/entities/index.js';
import { defineMachine } from '../src/state-machine/index.js';
import { defineSuite } from './harness.js';

interface OrderContext {
  total: number;
  payments: number;
}

const LIFECYCLE = [
  { type: 'pay' },
  { type: 'pick' },
  { type: 'label' },
  { type: 'deliver' },
] as const;

function flowproofOrder() {
  return defineMachine({
    id: 'order',
    initial: 'created',
    data: z.object({ total: z.number(), payments: z.number() }),
    effects: ['sendConfirmationEmail'],
    events: { pay: null, fail: null, pick: null, label: null, deliver: null, cancel: null },
    states: {
      created: {
        on: {
          pay: {
            target: 'paid',
            guard: (data) => data.total > 0,
            assign: (data) => ({ ...data, payments: data.payments + 1 }),
          },
          fail: 'cancelled',
        },
      },
      paid: { on: { pick: 'preparing' }, entry: ['sendConfirmationEmail'] },
      preparing: { on: { label: 'shipped' } },
      shipped: { on: { deliver: 'completed' } },
      completed: { terminal: true },
      cancelled: { terminal: true },
    },
    anyState: { cancel: 'cancelled' },
  });
}

function xstateOrder() {
  return setup({
    types: {
      context: {} as OrderContext,
      events: {} as
        | { type: 'pay' }
        | { type: 'fail' }
        | { type: 'pick' }
        | { type: 'label' }
        | { type: 'deliver' }
        | { type: 'cancel' },
    },
    actions: {
      sendConfirmationEmail: () => {},
      recordPayment: assign({ payments: ({ context }) => context.payments + 1 }),
    },
    guards: { totalIsPositive: ({ context }) => context.total > 0 },
  }).createMachine({
    id: 'order',
    initial: 'created',
    context: { total: 1999, payments: 0 },
    on: { cancel: '.cancelled' },
    states: {
      created: {
        on: {
          pay: { target: 'paid', guard: 'totalIsPositive', actions: 'recordPayment' },
          fail: 'cancelled',
        },
      },
      paid: { entry: 'sendConfirmationEmail', on: { pick: 'preparing' } },
      preparing: { on: { label: 'shipped' } },
      shipped: { on: { deliver: 'completed' } },
      completed: { type: 'final' },
      cancelled: { type: 'final' },
    },
  });
}

export default async function suites() {
  const order = flowproofOrder();
  const xOrder = xstateOrder();
  const start = order.initialSnapshot({ total: 1999, payments: 0 });
  const [xStart] = initialTransition(xOrder);

  // Both libraries must agree on the outcome before they are timed.
  let check = start;
  let xCheck = xStart;
  for (const event of LIFECYCLE) {
    check = order.transition(check, event).snapshot;
    [xCheck] = xstateTransition(xOrder, xCheck, event);
  }
  if (check.state !== 'completed' || xCheck.value !== 'completed' || check.data.payments !== 1) {
    throw new Error('the two order machines disagree');
  }

  const memoryOrders = createEntities({
    machine: order,
    store: createMemoryEntityStore({ backend: createMemoryBackend() }),
  });
  await memoryOrders.store.migrate();
  const sqlite = new Database(':memory:');
  const sqliteOrders = createEntities({
    machine: order,
    store: createSqliteEntityStore({ backend: createSqliteBackend({ database: sqlite }) }),
  });
  await sqliteOrders.store.migrate();
  const xStore = new Map<string, string>();
  let n = 0;

  return [
    defineSuite({
      name: 'state machine: pure transitions, order lifecycle (4 events per call)',
      unit: 'transitions',
      opsPerCall: 4,
      baseline: 'XState v5 transition()',
      tasks: [
        {
          name: 'XState v5 transition()',
          fn: () => {
            let snapshot = xStart;
            for (const event of LIFECYCLE) [snapshot] = xstateTransition(xOrder, snapshot, event);
            return snapshot;
          },
        },
        {
          name: 'flowproof machine.transition()',
          fn: () => {
            let snapshot = start;
            for (const event of LIFECYCLE) snapshot = order.transition(snapshot, event).snapshot;
            return snapshot;
          },
        },
      ],
    }),
    defineSuite({
      name: 'state machine: restore → apply → persist, order lifecycle (create + 4 events per call)',
      unit: 'lifecycles',
      baseline: 'XState v5 createActor({ snapshot }) + send + getPersistedSnapshot',
      time: 1500,
      tasks: [
        {
          name: 'XState v5 createActor({ snapshot }) + send + getPersistedSnapshot',
          fn: () => {
            const id = `x${n++}`;
            const created = createActor(xOrder).start();
            xStore.set(id, JSON.stringify(created.getPersistedSnapshot()));
            created.stop();
            for (const event of LIFECYCLE) {
              const actor = createActor(xOrder, {
                snapshot: JSON.parse(xStore.get(id) as string),
              }).start();
              actor.send(event);
              xStore.set(id, JSON.stringify(actor.getPersistedSnapshot()));
              actor.stop();
            }
            xStore.delete(id);
          },
        },
        {
          name: 'flowproof entities.apply() on the memory store',
          fn: async () => {
            const id = `m${n++}`;
            await memoryOrders.create(id, { total: 1999, payments: 0 });
            for (const event of LIFECYCLE) await memoryOrders.apply(id, event);
          },
        },
        {
          name: 'flowproof entities.apply() on SQLite (:memory:)',
          fn: async () => {
            const id = `s${n++}`;
            await sqliteOrders.create(id, { total: 1999, payments: 0 });
            for (const event of LIFECYCLE) await sqliteOrders.apply(id, event);
          },
        },
      ],
      teardown: () => {
        sqlite.close();
      },
    }),
  ];
}
