import { afterEach, expect, it } from 'vitest';
import { failure } from '../../test/support/failures.js';
import { recordingLogger } from '../../test/support/logger.js';
import { describeEachSagaStore, eventually, sagaTestBed } from '../../test/support/saga-engines.js';
import { defineSaga, NonRetryableError, type SagaStore } from './index.js';

const bed = sagaTestBed();
afterEach(() => bed.cleanup());
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const hang = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));

describeEachSagaStore('crash recovery, shutdown and lost leases', (kind) => {
  const store = async () => (await bed.store(kind)).store;

  it("a dead runner's open attempt is closed as unknown (SAGA_RUNNER_LOST) and retried with the same key", async () => {
    const s = await store();
    const seen: [number, string][] = [];
    const saga = defineSaga({ name: 'pay' }).step('charge', {
      retry: { retries: 2, minTimeout: 1, maxTimeout: 1 },
      run: ({ attempt, idempotencyKey, signal }) => {
        seen.push([attempt, idempotencyKey]);
        return attempt === 1 ? hang(signal) : 'charged';
      },
    });
    const first = bed.engine({ store: s, sagas: [saga], leaseMs: 100 });
    await first.start(saga, {}, { id: 'p1' });
    await eventually(async () => (seen.length === 1 ? true : undefined));
    await first.close({ timeoutMs: 0 });
    const second = bed.engine({ store: s, sagas: [saga], pollIntervalMs: 20 });
    second.startRunner();
    const state = await second.wait('p1', { timeoutMs: 10_000 });
    expect(state.status).toBe('completed');
    expect(seen).toEqual([
      [1, 'pay/p1/charge'],
      [2, 'pay/p1/charge'],
    ]);
    expect(state.steps[0]!.attempts[0]).toMatchObject({
      outcome: 'unknown',
      error: { code: 'SAGA_RUNNER_LOST' },
    });
  });

  it("a dead runner's open compensation is run again, told the step's outcome", async () => {
    const s = await store();
    const undo: [string, number][] = [];
    const saga = defineSaga({ name: 'pay' })
      .step('charge', {
        run: () => 'c',
        compensate: ({ outcome, attempt, signal }) => {
          undo.push([outcome, attempt]);
          return attempt === 1 ? hang(signal) : undefined;
        },
      })
      .step('ship', {
        run: () => {
          throw new NonRetryableError('no stock');
        },
      });
    const first = bed.engine({ store: s, sagas: [saga], leaseMs: 100 });
    await first.start(saga, {}, { id: 'p2' });
    await eventually(async () => (undo.length === 1 ? true : undefined));
    await first.close({ timeoutMs: 0 });
    const second = bed.engine({ store: s, sagas: [saga], pollIntervalMs: 20 });
    second.startRunner();
    const state = await second.wait('p2', { timeoutMs: 10_000 });
    expect(state.status).toBe('compensated');
    expect(undo).toEqual([
      ['completed', 1],
      ['completed', 2],
    ]);
    expect(state.steps[0]!.compensation!.attempts[0]).toMatchObject({
      outcome: 'unknown',
      error: { code: 'SAGA_RUNNER_LOST' },
    });
  });

  it('close() lets the running step finish, releases the saga, and another engine goes on from the next step', async () => {
    const s = await store();
    const runs: string[] = [];
    const saga = defineSaga({ name: 'three' })
      .step('a', { run: () => runs.push('a') })
      .step('b', {
        run: async () => {
          runs.push('b');
          await sleep(150);
        },
      })
      .step('c', { run: () => runs.push('c') });
    const first = bed.engine({ store: s, sagas: [saga] });
    await first.start(saga, {}, { id: 't' });
    await eventually(async () => (runs.includes('b') ? true : undefined));
    await first.close();
    expect(runs).toEqual(['a', 'b']);
    const stored = await s.get('t');
    expect(stored?.status).toBe('running');
    // Released: due now and claimable at once by another runner.
    const second = bed.engine({ store: s, sagas: [saga], pollIntervalMs: 20 });
    second.startRunner();
    expect((await second.wait('t', { timeoutMs: 5_000 })).status).toBe('completed');
    expect(runs).toEqual(['a', 'b', 'c']);
    expect(await failure(first.start(saga, {}))).toMatchObject({ code: 'SAGAS_CLOSED' });
  });

  it('a runner whose write is refused (another took the saga over) stops at once', async () => {
    const real = await store();
    const runs: string[] = [];
    // Leases are never renewed, so a slow step outlives its lease.
    const s: SagaStore = { ...real, heartbeat: async () => true };
    const saga = defineSaga({ name: 'lost' })
      .step('slow', {
        run: async () => {
          runs.push('slow');
          await sleep(300);
        },
      })
      .step('next', { run: () => runs.push('next') });
    const first = bed.engine({ store: s, sagas: [saga], leaseMs: 100 });
    await first.start(saga, {}, { id: 'l' });
    await sleep(150);
    const taken = await real.claim({
      owner: 'thief',
      leaseMs: 60_000,
      limit: 1,
      statuses: ['running'],
      ids: ['l'],
    });
    expect(taken).toHaveLength(1);
    await sleep(300);
    await first.close({ timeoutMs: 1_000 });
    expect(runs).toEqual(['slow']);
    const stored = await real.get('l');
    expect(stored?.status).toBe('running');
    // The refused write changed nothing: the step's result is not recorded.
    expect((await first.get('l'))!.steps[0]!.status).toBe('running');
  });

  it('a step longer than the lease keeps its saga: heartbeats renew the lease, no other runner takes it', async () => {
    const s = await store();
    let runs = 0;
    const saga = defineSaga({ name: 'long' }).step('s', {
      run: async () => {
        runs += 1;
        await sleep(600);
      },
    });
    const first = bed.engine({ store: s, sagas: [saga], leaseMs: 150 });
    const other = bed.engine({ store: s, sagas: [saga], leaseMs: 150, pollIntervalMs: 20 });
    other.startRunner();
    await first.start(saga, {}, { id: 'h' });
    expect((await first.wait('h', { timeoutMs: 5_000 })).status).toBe('completed');
    expect(runs).toBe(1);
  });

  it('a changed definition stops a resumed saga with SAGA_DEFINITION_MISMATCH; a redrive under a compatible one finishes it', async () => {
    const s = await store();
    const runs: string[] = [];
    const define = (version: number, hangB: boolean) =>
      defineSaga({ name: 'deploy' })
        .step('a', { version, run: () => runs.push(`a v${version}`) })
        .step('b', {
          run: ({ signal }) => {
            runs.push('b');
            return hangB ? hang(signal) : 'b';
          },
        });
    const v1 = define(1, true);
    const first = bed.engine({ store: s, sagas: [v1], leaseMs: 100 });
    await first.start(v1, {}, { id: 'd' });
    await eventually(async () => (runs.includes('b') ? true : undefined));
    await first.close({ timeoutMs: 0 });
    // A deploy changed what step 'a' means (its version) while the saga was in flight.
    const changed = bed.engine({ store: s, sagas: [define(2, false)], pollIntervalMs: 20 });
    changed.startRunner();
    const stopped = await changed.wait('d', { timeoutMs: 5_000 });
    expect(stopped.status).toBe('failed');
    expect(stopped.error).toMatchObject({ code: 'SAGA_DEFINITION_MISMATCH', step: 'a' });
    expect(runs).toEqual(['a v1', 'b']);
    await changed.close();
    const fixed = bed.engine({ store: s, sagas: [define(1, false)] });
    await fixed.redrive('d');
    const done = await fixed.wait('d', { timeoutMs: 5_000 });
    expect(done.status).toBe('completed');
    expect(runs).toEqual(['a v1', 'b', 'b']);
    expect(done.redrives).toBe(1);
  });

  it('a failed write stops the run; once the lease runs out a runner resumes the saga from its last write', async () => {
    const real = await store();
    let saves = 0;
    const s: SagaStore = {
      ...real,
      save: (update, lease) => {
        saves += 1;
        return saves === 1
          ? Promise.reject(new Error('connection reset'))
          : real.save(update, lease);
      },
    };
    const logger = recordingLogger();
    const runs: number[] = [];
    const saga = defineSaga({ name: 'outage' })
      .step('a', { run: ({ attempt }) => runs.push(attempt) })
      .step('b', { run: () => 'b' });
    const sagas = bed.engine({ store: s, sagas: [saga], leaseMs: 100, pollIntervalMs: 20, logger });
    sagas.startRunner();
    await sagas.start(saga, {}, { id: 'o' });
    const state = await sagas.wait('o', { timeoutMs: 5_000 });
    expect(state.status).toBe('completed');
    expect(runs).toEqual([1, 2]);
    expect(state.steps[0]!.attempts[0]).toMatchObject({ error: { code: 'SAGA_RUNNER_LOST' } });
    expect(logger.lines.map((l) => l.fields.event)).toContain('saga.run_interrupted');
  });

  it('wait() gives up after timeoutMs with SAGA_WAIT_TIMEOUT, and SAGA_NOT_FOUND for an unknown id', async () => {
    const s = await store();
    const saga = defineSaga({ name: 'slow' }).step('s', { run: ({ signal }) => hang(signal) });
    const sagas = bed.engine({ store: s, sagas: [saga] });
    await sagas.start(saga, {}, { id: 'w' });
    const timedOut = await failure(sagas.wait('w', { timeoutMs: 50 }));
    expect(timedOut.code).toBe('SAGA_WAIT_TIMEOUT');
    expect(timedOut.details).toMatchObject({ sagaId: 'w', status: 'running', timeoutMs: 50 });
    expect((await failure(sagas.wait('nope'))).code).toBe('SAGA_NOT_FOUND');
  });

  it('a long compensation retry wait releases the saga and it is compensated when due', async () => {
    const s = await store();
    let attempts = 0;
    const saga = defineSaga({ name: 'slowundo' })
      .step('a', {
        run: () => 1,
        compensationRetry: { retries: 1, minTimeout: 300, randomize: false },
        compensate: () => {
          attempts += 1;
          if (attempts === 1) throw new Error('refund down');
        },
      })
      .step('b', {
        run: () => {
          throw new NonRetryableError('declined');
        },
      });
    const sagas = bed.engine({ store: s, sagas: [saga], runnerId: 'A', holdLimitMs: 100 });
    await sagas.start(saga, {}, { id: 'u' });
    await eventually(async () => {
      const stored = await s.get('u');
      return stored && stored.wakeAt > stored.updatedAt ? true : undefined;
    });
    expect((await s.get('u'))?.status).toBe('compensating');
    expect(await s.heartbeat('u', { owner: 'A', token: 1 }, 1_000)).toBe(false);
    const state = await sagas.wait('u', { timeoutMs: 5_000 });
    expect(state.status).toBe('compensated');
    expect(attempts).toBe(2);
  });
});
