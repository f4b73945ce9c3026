import { afterEach, describe, expect, it } from 'vitest';
import { SAGA_STORE_KINDS, sagaTestBed } from '../../test/support/saga-engines.js';
import { createSagas, defineSaga, type SagaStore, type Sagas } from './index.js';

const bed = sagaTestBed();
afterEach(() => bed.cleanup());

/** The error `fn` throws or its promise rejects with. */
async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error, but the call succeeded');
}

const saga = defineSaga({ name: 'ok' }).step('s', { run: () => 1 });
const other = defineSaga({ name: 'other' }).step('s', { run: () => 1 });
const step = (options: object) => () => saga.step('t', options as never);
const retry = (value: object) => step({ run: () => 1, retry: value });
type Case = readonly [string, (env: { store: SagaStore; sagas: Sagas }) => unknown];

const cases: readonly Case[] = [
  // defineSaga
  ['options', () => defineSaga(null as never)],
  ['options.nmae', () => defineSaga({ name: 'x', nmae: 'x' } as never)],
  ['options.name', () => defineSaga({ name: 'has space' })],
  ['options.name', () => defineSaga({ name: 5 } as never)],
  ['options.version', () => defineSaga({ name: 'x', version: 0 })],
  ['options.version', () => defineSaga({ name: 'x', version: '1' } as never)],
  ['options.input', () => defineSaga({ name: 'x', input: {} as never })],
  ['options.timeoutMs', () => defineSaga({ name: 'x', timeoutMs: -5 })],
  // step
  ['name', () => saga.step('', { run: () => 1 })],
  ['already defined', () => saga.step('s' as never, { run: () => 1 })],
  ['options.runn', step({ run: () => 1, runn: () => 1 })],
  ['options.run', step({})],
  ['options.compensate', step({ run: () => 1, compensate: 'undo' })],
  ['options.retry.retrys', retry({ retrys: 1 })],
  ['options.retry.retries', retry({ retries: -1 })],
  ['options.retry.retries', retry({ retries: '3' })],
  ['options.retry.factor', retry({ factor: 0.5 })],
  ['options.retry.minTimeout', retry({ minTimeout: 10, maxTimeout: 5 })],
  ['options.retry.maxTimeout', retry({ maxTimeout: 1.5 })],
  ['options.retry.randomize', retry({ randomize: 'yes' })],
  ['options.retry.shouldRetry', retry({ shouldRetry: true })],
  ['options.compensationRetry.retry', step({ run: () => 1, compensationRetry: { retry: 1 } })],
  ['options.timeoutMs', step({ run: () => 1, timeoutMs: 0 })],
  ['options.output', step({ run: () => 1, output: { parse: () => 1 } })],
  ['options.onFailure', step({ run: () => 1, onFailure: 'retry' })],
  ['options.version', step({ run: () => 1, version: 1.5 })],
  ['options.transactional', step({ run: () => 1, transactional: 'yes' })],
  // parallel
  ['branches', () => saga.parallel(null as never)],
  ['branches', () => saga.parallel((group) => group as never)],
  ['branches', () => saga.parallel((() => ({})) as never)],
  ['name', () => saga.parallel((group) => group.step('a b', { run: () => 1 }))],
  [
    'options.runn',
    () => saga.parallel((group) => group.step('b', { run: () => 1, runn: 1 } as never)),
  ],
  [
    'options.retry.retries',
    () => saga.parallel((group) => group.step('b', { run: () => 1, retry: { retries: -1 } })),
  ],
  [
    'b',
    () =>
      saga.parallel((group) =>
        group.step('b', { run: () => 1 }).step('b' as never, { run: () => 1 }),
      ),
  ],
  // createSagas
  ['options.stor', ({ store }) => createSagas({ store, stor: store, sagas: [saga] } as never)],
  ['options.store', () => createSagas({ store: {} as never, sagas: [saga] })],
  ['options.sagas', ({ store }) => createSagas({ store, sagas: [] })],
  ['options.sagas[0]', ({ store }) => createSagas({ store, sagas: [{} as never] })],
  ['options.sagas', ({ store }) => createSagas({ store, sagas: [saga, saga] as never })],
  ['options.logger', ({ store }) => createSagas({ store, sagas: [saga], logger: {} as never })],
  ['options.runnerId', ({ store }) => createSagas({ store, sagas: [saga], runnerId: '' })],
  ['options.leaseMs', ({ store }) => createSagas({ store, sagas: [saga], leaseMs: 10 })],
  [
    'options.pollIntervalMs',
    ({ store }) => createSagas({ store, sagas: [saga], pollIntervalMs: 0 }),
  ],
  ['options.concurrency', ({ store }) => createSagas({ store, sagas: [saga], concurrency: 0 })],
  ['options.holdLimitMs', ({ store }) => createSagas({ store, sagas: [saga], holdLimitMs: -1 })],
  [
    'options.retainFinishedMs',
    ({ store }) => createSagas({ store, sagas: [saga], retainFinishedMs: 'week' as never }),
  ],
  // start and run
  ['options.ids', ({ sagas }) => sagas.start(saga, {}, { ids: 'x' } as never)],
  ['options.id', ({ sagas }) => sagas.start(saga, {}, { id: 5 } as never)],
  ['options.id', ({ sagas }) => sagas.start(saga, {}, { id: '' })],
  ['options.id', ({ sagas }) => sagas.start(saga, {}, { id: 'a\nb' })],
  ['options', ({ sagas }) => sagas.start(saga, {}, 'id' as never)],
  ['definition', ({ sagas }) => sagas.start(other, {})],
  ['options.idd', ({ sagas }) => sagas.run(saga, {}, { idd: 'x' } as never)],
  ['options.timeoutMs', ({ sagas }) => sagas.run(saga, {}, { timeoutMs: -1 })],
  // wait, get
  ['id', ({ sagas }) => sagas.wait('')],
  ['options.timeout', ({ sagas }) => sagas.wait('x', { timeout: 1 } as never)],
  ['options.timeoutMs', ({ sagas }) => sagas.wait('x', { timeoutMs: 'soon' } as never)],
  ['id', ({ sagas }) => sagas.get(5 as never)],
  // list, deadLetters
  ['options.stauts', ({ sagas }) => sagas.list({ stauts: 'failed' } as never)],
  ['options.status', ({ sagas }) => sagas.list({ status: 'done' as never })],
  ['options.status', ({ sagas }) => sagas.list({ status: ['failed', 'nope'] as never })],
  ['options.limit', ({ sagas }) => sagas.list({ limit: 0 })],
  ['options.limit', ({ sagas }) => sagas.list({ limit: 1001 })],
  ['options.name', ({ sagas }) => sagas.list({ name: 5 as never })],
  ['options.cursor', ({ sagas }) => sagas.list({ cursor: '!!' })],
  ['options.status', ({ sagas }) => sagas.deadLetters({ status: 'failed' } as never)],
  // redrive
  ['id', ({ sagas }) => sagas.redrive('')],
  ['options.nam', ({ sagas }) => sagas.redrive({ nam: 'ok' } as never)],
  ['options.limit', ({ sagas }) => sagas.redrive({ limit: 0 })],
  ['options.name', ({ sagas }) => sagas.redrive({ name: '' })],
  // purge
  ['options.olderThan', ({ sagas }) => sagas.purge({ olderThan: 1 } as never)],
  ['options.olderThanMs', ({ sagas }) => sagas.purge({} as never)],
  ['options.olderThanMs', ({ sagas }) => sagas.purge({ olderThanMs: -1 })],
  ['options.limit', ({ sagas }) => sagas.purge({ olderThanMs: 1, limit: 0 })],
  // close
  ['options.timeout', ({ sagas }) => sagas.close({ timeout: 1 } as never)],
  ['options.timeoutMs', ({ sagas }) => sagas.close({ timeoutMs: -1 })],
];

describe('bad options everywhere', () => {
  it.each(cases)('a TypeError naming %s', async (name, call) => {
    const { store } = await bed.store(SAGA_STORE_KINDS[0]!);
    const sagas = bed.engine({ store, sagas: [saga] });
    const error = await thrown(() => call({ store, sagas }));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain(name);
    // Nothing was started or written.
    expect((await store.list({ limit: 10 })).length).toBe(0);
  });
});
