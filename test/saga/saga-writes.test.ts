/**
 * What a runner writes while a transactional step's transaction is open beside other steps of its
 * parallel group: every write carries the log as it is when the write runs, so no write takes back
 * what an earlier one recorded; and once a write failed, the run writes nothing more (the next
 * runner starts from the last write that succeeded). Found by the SIGKILL harness
 * (fault-injection.test.ts): a sibling's write queued behind the transaction overwrote the
 * committed step with its older copy, so a resumer ran the step's transaction a second time.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createSqliteBackend, createSqliteSagaStore } from '../../src/adapters/sqlite/index.js';
import { createSagas, defineSaga, NonRetryableError } from '../../src/saga/index.js';
import type { SagaLog } from '../../src/saga/saga-log.js';
import { observedStore } from './fault-injection/observed-store.js';

async function sqliteStore() {
  const backend = createSqliteBackend({ database: new Database(':memory:'), ownsDatabase: true });
  const store = createSqliteSagaStore({ backend, ownsBackend: true });
  await store.migrate();
  await backend.execute('CREATE TABLE rows (key TEXT NOT NULL)');
  return store;
}

const stepStatus = (log: SagaLog, step: string) => log.steps.find((s) => s.step === step)?.status;

/** A gate: `open()` resolves `opened`. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

/**
 * Group 0: `tx` (transactional: its transaction stays open until `b` has finished) beside `b`
 * (done at once, so its result is written while `tx`'s transaction is open); then `c`.
 */
function racingSaga() {
  const txStarted = gate();
  const bDone = gate();
  const saga = defineSaga({ name: 'race' })
    .parallel((group) =>
      group
        .step('tx', {
          transactional: true,
          run: async ({ transaction, idempotencyKey }) => {
            txStarted.open();
            await bDone.opened;
            await new Promise((resolve) => setTimeout(resolve, 20));
            await transaction.execute('INSERT INTO rows (key) VALUES (?)', [idempotencyKey]);
            return 'tx';
          },
        })
        .step('b', {
          run: async () => {
            await txStarted.opened;
            bDone.open();
            return 'b';
          },
        }),
    )
    .step('c', { run: () => 'c' });
  return saga;
}

describe('saga writes beside an open step transaction', () => {
  it('no write records a committed transactional step as not completed again', async () => {
    const inner = await sqliteStore();
    const written: SagaLog[] = [];
    const store = observedStore(inner, (write) => {
      if (write.when === 'after') written.push(write.log);
    });
    const saga = racingSaga();
    const sagas = createSagas({ store, sagas: [saga] });
    const state = await sagas.run(saga, {}, { id: 'r1' });
    expect(state.status).toBe('completed');
    const committed = written.findIndex((log) => stepStatus(log, 'tx') === 'completed');
    expect(committed).toBeGreaterThanOrEqual(0);
    expect(written.slice(committed).map((log) => stepStatus(log, 'tx'))).toEqual(
      written.slice(committed).map(() => 'completed'),
    );
    await sagas.close();
    await inner.close();
  });

  it('after a failed transactional write, the run writes nothing more', async () => {
    const inner = await sqliteStore();
    const observed = observedStore(inner, () => {});
    const written: SagaLog[] = [];
    let failedAt = -1;
    const store = {
      ...observed,
      save: async (...args: Parameters<typeof observed.save>) => {
        const saved = await observed.save(...args);
        if (saved) written.push(structuredClone(args[0].log) as SagaLog);
        return saved;
      },
      // The transaction's work runs and the step is recorded, then the commit fails.
      saveInTransaction: async <T>(
        work: Parameters<NonNullable<typeof observed.saveInTransaction>>[0],
        update: (value: T) => Parameters<typeof observed.save>[0],
        _lease: Parameters<typeof observed.save>[1],
      ): Promise<{ readonly saved: boolean; readonly value?: T }> => {
        update((await work(inner.backend as never)) as T);
        failedAt = written.length;
        throw new Error('connection lost at COMMIT');
      },
    };
    const saga = racingSaga();
    const sagas = createSagas({ store, sagas: [saga], leaseMs: 60_000 });
    await sagas.start(saga, {}, { id: 'r2' });
    await expect(sagas.wait('r2', { timeoutMs: 500 })).rejects.toMatchObject({
      code: 'SAGA_WAIT_TIMEOUT',
    });
    expect(failedAt).toBeGreaterThanOrEqual(0);
    expect(written.slice(failedAt).map((log) => stepStatus(log, 'tx'))).toEqual([]);
    const stored = await inner.get('r2');
    expect(stepStatus(stored!.log as SagaLog, 'tx')).not.toBe('completed');
    await sagas.close({ timeoutMs: 0 });
    await inner.close();
  });
});

describe('transactional steps', () => {
  it("a step's own error inside its transaction fails the attempt, and the retry runs at once", async () => {
    const inner = await sqliteStore();
    let calls = 0;
    const saga = defineSaga({ name: 'flaky' }).step('tx', {
      transactional: true,
      retry: { retries: 1, minTimeout: 1, maxTimeout: 1 },
      run: async ({ transaction, idempotencyKey }) => {
        calls += 1;
        await transaction.execute('INSERT INTO rows (key) VALUES (?)', [idempotencyKey]);
        if (calls === 1) throw new Error('constraint violated');
        return 'ok';
      },
    });
    const sagas = createSagas({ store: inner, sagas: [saga], leaseMs: 60_000 });
    const state = await sagas.run(saga, {}, { id: 't1', timeoutMs: 5_000 });
    expect(state.status).toBe('completed');
    expect(calls).toBe(2);
    expect(await inner.backend.query('SELECT key FROM rows')).toEqual([{ key: 'flaky/t1/tx' }]);
    await sagas.close();
    await inner.close();
  });

  it('a transaction still open when its group gives the attempt up rolls back, so nothing is left to undo', async () => {
    const inner = await sqliteStore();
    const undone: string[] = [];
    const saga = defineSaga({ name: 'abandoned' }).parallel((group) =>
      group
        .step('tx', {
          transactional: true,
          retry: { retries: 0 },
          // Ignores its signal: writes a little after its sibling has failed the group.
          run: async ({ transaction, idempotencyKey, signal }) => {
            await new Promise((resolve) =>
              signal.addEventListener('abort', resolve, { once: true }),
            );
            await new Promise((resolve) => setTimeout(resolve, 30));
            await transaction.execute('INSERT INTO rows (key) VALUES (?)', [idempotencyKey]);
            return 'written';
          },
          compensate: () => {
            undone.push('tx');
          },
        })
        .step('declined', {
          run: async () => {
            await new Promise((resolve) => setTimeout(resolve, 20));
            throw new NonRetryableError('declined');
          },
        }),
    );
    const sagas = createSagas({ store: inner, sagas: [saga], leaseMs: 60_000 });
    const state = await sagas.run(saga, {}, { id: 'a1', timeoutMs: 5_000 });
    expect(state.status).toBe('compensated');
    const rows = await inner.backend.query('SELECT key FROM rows');
    // Either the transaction committed and was undone, or it rolled back and needs no undo.
    expect({ rows: rows.length, undone }).toEqual(
      rows.length === 0 ? { rows: 0, undone: [] } : { rows: 1, undone: ['tx'] },
    );
    expect(state.steps.find((s) => s.step === 'tx')?.status).not.toBe('completed');
    await sagas.close();
    await inner.close();
  });
});
