import { afterEach, expect, it } from 'vitest';
import {
  describeEachSagaStore,
  type RecordingSagaStore,
  sagaTestBed,
} from '../../test/support/saga-engines.js';
import { defineSaga, NonRetryableError, type SagaStore, type SagaTransaction } from './index.js';

const bed = sagaTestBed();
afterEach(() => bed.cleanup());
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeEachSagaStore(
  'transactional steps: the write and the step log commit together',
  (kind) => {
    let opened: RecordingSagaStore;
    let table: string;
    const setup = async () => {
      opened = await bed.store(kind);
      table = opened.sql!.table('saga_test_orders');
      await opened.sql!.execute(`CREATE TABLE ${table} (saga TEXT NOT NULL, note TEXT)`);
    };
    const rows = async (saga: string) =>
      (
        await opened.sql!.query<{ note: string }>(
          `SELECT note FROM ${table} WHERE saga = '${saga}'`,
        )
      ).map((r) => r.note);
    const insert = (transaction: SagaTransaction, saga: string, note: string) =>
      transaction.execute(`INSERT INTO ${table} (saga, note) VALUES ('${saga}', '${note}')`);

    it('commits the row with the step; a failing step leaves no row and is not compensated', async () => {
      await setup();
      const undone: string[] = [];
      const saga = defineSaga({ name: 'tx' })
        .step('write', {
          transactional: true,
          run: async ({ transaction, sagaId }) => {
            await insert(transaction, sagaId, 'written');
            return 'ok';
          },
          compensate: () => {
            undone.push('write');
          },
        })
        .step('bad', {
          transactional: true,
          retry: { retries: 1, minTimeout: 1, maxTimeout: 1 },
          run: async ({ transaction, sagaId, attempt }) => {
            await insert(transaction, sagaId, `bad#${attempt}`);
            throw new Error('constraint');
          },
          compensate: () => {
            undone.push('bad');
          },
        });
      const sagas = bed.engine({ store: opened.store, sagas: [saga] });
      const state = await sagas.run(saga, {}, { id: 't1' });
      expect(state.status).toBe('compensated');
      expect(await rows('t1')).toEqual(['written']);
      expect(undone).toEqual(['write']);
      expect(state.steps[1]!.attempts.map((a) => a.outcome)).toEqual(['failed', 'failed']);
    });

    it('a lost lease rolls the step write back', async () => {
      await setup();
      const real = opened.store;
      let stolen = false;
      // The lease is never renewed, and is taken over just before the step's transaction.
      const store: SagaStore = {
        ...real,
        heartbeat: async () => true,
        saveInTransaction: async (work, update, lease) => {
          await sleep(250);
          const taken = await real.claim({
            owner: 'thief',
            leaseMs: 60_000,
            limit: 1,
            statuses: ['running'],
            ids: ['t2'],
          });
          stolen = taken.length === 1;
          return real.saveInTransaction!(work, update, lease);
        },
      };
      let ran = 0;
      const saga = defineSaga({ name: 'tx' }).step('write', {
        transactional: true,
        run: async ({ transaction, sagaId }) => {
          ran += 1;
          await insert(transaction, sagaId, 'written');
          return 'ok';
        },
      });
      const sagas = bed.engine({ store, sagas: [saga], leaseMs: 100 });
      await sagas.start(saga, {}, { id: 't2' });
      await sagas.close({ timeoutMs: 5_000 });
      expect(stolen).toBe(true);
      expect(ran).toBe(1);
      expect(await rows('t2')).toEqual([]);
      const stored = await real.get('t2');
      expect(stored?.status).toBe('running');
      expect((await sagas.get('t2'))!.steps[0]!.status).not.toBe('completed');
    });

    it('after a crash mid-transaction the step runs again and its row exists once', async () => {
      await setup();
      let calls = 0;
      let crash: (() => Promise<void>) | undefined;
      const saga = defineSaga({ name: 'tx' }).step('write', {
        transactional: true,
        retry: { retries: 1, minTimeout: 1, maxTimeout: 1 },
        run: async ({ transaction, sagaId }) => {
          calls += 1;
          await insert(transaction, sagaId, `call${calls}`);
          if (calls === 1) {
            // The runner dies here: it stops, and its transaction never commits.
            await crash!();
            throw new Error('process died');
          }
          return 'ok';
        },
      });
      const first = bed.engine({ store: opened.store, sagas: [saga], leaseMs: 100 });
      crash = () => first.close({ timeoutMs: 0 });
      await first.start(saga, {}, { id: 't3' });
      await first.close({ timeoutMs: 1_000 });
      const second = bed.engine({ store: opened.store, sagas: [saga], pollIntervalMs: 20 });
      second.startRunner();
      const state = await second.wait('t3', { timeoutMs: 10_000 });
      expect(state.status).toBe('completed');
      expect(calls).toBe(2);
      expect(await rows('t3')).toEqual(['call2']);
      expect(state.steps[0]!.attempts[0]).toMatchObject({ error: { code: 'SAGA_RUNNER_LOST' } });
    });

    it('a transactional attempt that outlives its timeoutMs is rolled back, not committed behind the retry', async () => {
      await setup();
      let calls = 0;
      const saga = defineSaga({ name: 'tx' }).step('write', {
        transactional: true,
        timeoutMs: 50,
        retry: { retries: 1, minTimeout: 1, maxTimeout: 1 },
        run: async ({ transaction, sagaId }) => {
          calls += 1;
          const note = `call${calls}`;
          await insert(transaction, sagaId, note);
          // The first attempt ignores its signal (a slow statement) and returns late.
          if (calls === 1) await sleep(200);
          return note;
        },
      });
      const sagas = bed.engine({ store: opened.store, sagas: [saga] });
      const state = await sagas.run(saga, {}, { id: 't4' });
      expect(state.status).toBe('completed');
      expect(await rows('t4')).toEqual(['call2']);
      expect(state.output).toEqual({ write: 'call2' });
      const [first, second] = state.steps[0]!.attempts;
      expect(first).toMatchObject({ error: { code: 'SAGA_STEP_TIMEOUT' } });
      expect(first!.outcome).not.toBe('completed');
      expect(second!.outcome).toBe('completed');
    });

    it('refuses a NonRetryableError without a second transaction', async () => {
      await setup();
      let calls = 0;
      const saga = defineSaga({ name: 'tx' }).step('write', {
        transactional: true,
        run: async ({ transaction, sagaId }) => {
          calls += 1;
          await insert(transaction, sagaId, 'x');
          throw new NonRetryableError('invalid');
        },
      });
      const state = await bed
        .engine({ store: opened.store, sagas: [saga] })
        .run(saga, {}, { id: 't5' });
      expect(state.status).toBe('compensated');
      expect(calls).toBe(1);
      expect(await rows('t5')).toEqual([]);
    });
  },
  ['sqlite', 'postgres'],
);
