/**
 * What entities say about the caller's mistakes: an `expectedVersion` that is behind or ahead of
 * the stored one, misspelled options, and arguments that cannot be read (revoked proxies, getters
 * that throw, symbols, BigInt, cyclic values). Each is a `TypeError` naming the argument or a
 * `FlowproofError`, never an engine error from deep inside.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { rejection } from '../../../test/support/failures.js';
import { expectNoEngineError, oddValue } from '../../../test/support/odd-values.js';
import { createMemoryBackend } from '../../adapters/memory/memory-backend.js';
import { createMemoryEntityStore } from '../../adapters/memory/memory-entity-store.js';
import { createManualClock } from '../../core/clock.js';
import { type FlowproofError, isFlowproofError } from '../../core/errors.js';
import { defineMachine } from '../define-machine.js';
import { createEntities } from './create-entities.js';
import { startTimerSweeper, sweepTimers } from './timers.js';

const ticket = defineMachine({
  id: 'ticket',
  initial: 'open',
  data: z.object({ title: z.string() }),
  events: { assign: z.object({ to: z.string() }), close: null, reopen: null },
  states: {
    open: {
      on: { assign: 'open', close: 'closed' },
      after: { delayMs: 60_000, event: 'close' },
    },
    closed: { on: { reopen: 'open' } },
  },
});

async function tickets() {
  const store = createMemoryEntityStore({
    backend: createMemoryBackend({ clock: createManualClock('2026-01-01T00:00:00Z') }),
  });
  await store.migrate();
  return createEntities({ machine: ticket, store });
}

describe('VERSION_CONFLICT', () => {
  it('blames another writer when expectedVersion is behind the stored one', async () => {
    const entities = await tickets();
    await entities.create('t1', { title: 'a' });
    await entities.apply('t1', { type: 'close' });
    const error = await rejection(entities.apply('t1', { type: 'reopen' }, { expectedVersion: 1 }));
    expect(isFlowproofError(error, 'VERSION_CONFLICT')).toBe(true);
    expect((error as FlowproofError).message).toMatch(/another writer/);
    expect((error as FlowproofError).details).toEqual({
      machineId: 'ticket',
      entityId: 't1',
      expectedVersion: 1,
      actualVersion: 2,
    });
  });

  it('says the version was never written when expectedVersion is ahead of the stored one', async () => {
    const entities = await tickets();
    await entities.create('t1', { title: 'a' });
    const error = await rejection(entities.apply('t1', { type: 'close' }, { expectedVersion: 7 }));
    expect(isFlowproofError(error, 'VERSION_CONFLICT')).toBe(true);
    const { message, details } = error as FlowproofError;
    expect(message).not.toMatch(/another writer/);
    expect(message).toMatch(/ahead of/);
    expect(details).toEqual({
      machineId: 'ticket',
      entityId: 't1',
      expectedVersion: 7,
      actualVersion: 1,
    });
    expect((await entities.load('t1')).stateVersion).toBe(1);
  });

  it('names the versions for every expectedVersion (property), reading the entity once', async () => {
    const entities = await tickets();
    await entities.create('t1', { title: 'a' });
    await entities.apply('t1', { type: 'close' });
    await entities.apply('t1', { type: 'reopen' });
    let loads = 0;
    const counting = entities.withStore({
      ...entities.store,
      load: (...args) => {
        loads += 1;
        return entities.store.load(...args);
      },
      insert: (insert) => entities.store.insert(insert),
      compareAndSet: (update) => entities.store.compareAndSet(update),
      listHistory: (query) => entities.store.listHistory(query),
      dueTimers: (...args) => entities.store.dueTimers(...args),
      now: () => entities.store.now(),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 ** 40 }).filter((v) => v !== 3),
        async (expected) => {
          loads = 0;
          const error = await rejection(
            counting.apply(
              't1',
              { type: 'assign', payload: { to: 'x' } },
              { expectedVersion: expected },
            ),
          );
          expect(loads).toBe(1);
          expect((error as FlowproofError).details).toMatchObject({
            expectedVersion: expected,
            actualVersion: 3,
          });
          expect((error as FlowproofError).message).toMatch(
            expected < 3 ? /another writer/ : /ahead of/,
          );
        },
      ),
      { numRuns: 50 },
    );
  });

  it('after a lost compare-and-set, names the version read and blames another writer', async () => {
    const entities = await tickets();
    await entities.create('t1', { title: 'a' });
    const racing = entities.withStore({
      ...entities.store,
      load: (...args) => entities.store.load(...args),
      insert: (insert) => entities.store.insert(insert),
      compareAndSet: async () => false,
      listHistory: (query) => entities.store.listHistory(query),
      dueTimers: (...args) => entities.store.dueTimers(...args),
      now: () => entities.store.now(),
    });
    const error = await rejection(racing.apply('t1', { type: 'close' }));
    expect(isFlowproofError(error, 'VERSION_CONFLICT')).toBe(true);
    expect((error as FlowproofError).message).toMatch(/another writer since version 1/);
    expect((error as FlowproofError).details).toEqual({
      machineId: 'ticket',
      entityId: 't1',
      expectedVersion: 1,
    });
  });
});

describe('misspelled options', () => {
  it('are refused with a TypeError naming them, before anything is read or written', async () => {
    const entities = await tickets();
    const { store } = entities;
    expect(() => createEntities({ machine: ticket, store, loger: undefined } as never)).toThrow(
      /unknown option options\.loger/,
    );
    await entities.create('t1', { title: 'a' });
    await expect(
      entities.apply('t1', { type: 'close' }, { expectedVerison: 1 } as never),
    ).rejects.toThrow(/unknown option options\.expectedVerison/);
    await expect(
      entities.applyWithRetry('t1', { type: 'close' }, { attemps: 3 } as never),
    ).rejects.toThrow(/unknown option options\.attemps/);
    await expect(entities.history('t1', { limt: 2 } as never)).rejects.toThrow(
      /unknown option options\.limt/,
    );
    await expect(sweepTimers(entities, { limits: 2 } as never)).rejects.toThrow(
      /unknown option options\.limits/,
    );
    expect(() => startTimerSweeper(entities, { interval: 5 } as never)).toThrow(
      /unknown option options\.interval/,
    );
    expect((await entities.load('t1')).stateVersion).toBe(1);
  });

  it('accepts every documented option', async () => {
    const entities = await tickets();
    await entities.create('t1', { title: 'a' });
    await entities.apply('t1', { type: 'close' }, { expectedVersion: 1 });
    await entities.applyWithRetry(
      't1',
      { type: 'reopen' },
      { attempts: 2, backoffMs: 1, maxBackoffMs: 2, signal: new AbortController().signal },
    );
    expect((await entities.history('t1', { limit: 1, cursor: '1' })).entries).toHaveLength(1);
    expect(await sweepTimers(entities, { limit: 1 })).toMatchObject({
      failed: [],
    });
    const sweeper = startTimerSweeper(entities, {
      intervalMs: 1000,
      limit: 1,
      signal: new AbortController().signal,
    });
    await sweeper.stop();
  });
});

describe('odd arguments to every public entry of the entities', () => {
  it('are TypeErrors naming the argument or FlowproofErrors (property)', async () => {
    const entities = await tickets();
    await entities.create('t1', { title: 'a' });
    await fc.assert(
      fc.asyncProperty(oddValue, async (make) => {
        await expectNoEngineError('options', () => createEntities(make() as never));
        await expectNoEngineError('options', () =>
          createEntities({ machine: ticket, store: make() } as never),
        );
        await expectNoEngineError('id', () => entities.create(make() as never, { title: 'a' }));
        await expectNoEngineError('data', () => entities.create('t2', make() as never));
        await expectNoEngineError('data', () =>
          entities.create('t3', { title: 'a', extra: make() } as never),
        );
        await expectNoEngineError('id', () => entities.get(make() as never));
        await expectNoEngineError('id', () => entities.load(make() as never));
        await expectNoEngineError('event', () => entities.apply('t1', make() as never));
        await expectNoEngineError('payload', () =>
          entities.apply('t1', { type: 'assign', payload: make() } as never),
        );
        await expectNoEngineError('options', () =>
          entities.apply('t1', { type: 'reopen' }, make() as never),
        );
        await expectNoEngineError('options', () =>
          entities.applyWithRetry('t1', { type: 'reopen' }, make() as never),
        );
        await expectNoEngineError('options', () =>
          entities.applyWithRetry('t1', { type: 'reopen' }, { signal: make() } as never),
        );
        await expectNoEngineError('event', () =>
          entities.applyWithRetry('t1', () => make() as never),
        );
        await expectNoEngineError('options', () => entities.history('t1', make() as never));
        await expectNoEngineError('id', () => entities.rebuild(make() as never));
        await expectNoEngineError('id', () => entities.upgrade(make() as never));
        await expectNoEngineError('store', () => entities.withStore(make() as never));
        await expectNoEngineError('entities', () => sweepTimers(make() as never));
        await expectNoEngineError('options', () => sweepTimers(entities, make() as never));
        await expectNoEngineError('options', async () => {
          await startTimerSweeper(entities, make() as never).stop();
        });
      }),
      { numRuns: 200 },
    );
  });
});
