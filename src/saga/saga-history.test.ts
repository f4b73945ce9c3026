import { afterEach, expect, it } from 'vitest';
import { describeEachSagaStore, eventually, sagaTestBed } from '../../test/support/saga-engines.js';
import { defineSaga, NonRetryableError, type Sagas } from './index.js';

const bed = sagaTestBed();
afterEach(() => bed.cleanup());
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeEachSagaStore('saga status, history and purge', (kind) => {
  const store = async () => (await bed.store(kind)).store;

  const ok = defineSaga({ name: 'ok' }).step('s', { run: ({ input }) => input });
  const fails = defineSaga({ name: 'fails' }).step('s', {
    run: () => {
      throw new NonRetryableError('no');
    },
    compensate: () => {},
  });
  const dead = defineSaga({ name: 'dead' }).step('s', {
    onFailure: 'dead-letter',
    run: () => {
      throw new NonRetryableError('no');
    },
  });

  const collect = async (sagas: Sagas, options: Parameters<Sagas['list']>[0]) => {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await sagas.list({ ...options, ...(cursor ? { cursor } : {}) });
      pages.push(page.sagas.map((s) => s.id));
      cursor = page.nextCursor;
    } while (cursor);
    return pages;
  };

  it('lists by status and name a page at a time with a cursor, every saga once, in id order', async () => {
    const sagas = bed.engine({ store: await store(), sagas: [ok, fails] });
    const completed: string[] = [];
    for (let i = 0; i < 25; i += 1) {
      const id = `c-${String(i).padStart(2, '0')}`;
      completed.push(id);
      await sagas.run(ok, i, { id });
    }
    for (const id of ['f-1', 'f-2', 'f-3']) await sagas.run(fails, {}, { id });
    const pages = await collect(sagas, { status: 'completed', limit: 10 });
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(pages.flat()).toEqual(completed);
    expect((await collect(sagas, { status: 'compensated', limit: 2 })).flat()).toEqual([
      'f-1',
      'f-2',
      'f-3',
    ]);
    expect((await collect(sagas, { limit: 7 })).flat()).toEqual([
      ...completed,
      'f-1',
      'f-2',
      'f-3',
    ]);
    expect(
      (await collect(sagas, { name: 'fails', status: ['completed'], limit: 5 })).flat(),
    ).toEqual([]);
    const exact = await sagas.list({ status: 'compensated', limit: 3 });
    expect(exact.sagas).toHaveLength(3);
    expect(exact.nextCursor).toBeUndefined();
  });

  it('shows the timeline: each attempt with its start, duration, outcome and error', async () => {
    let attempt = 0;
    const saga = defineSaga({ name: 'timeline' }).step('s', {
      retry: { retries: 1, minTimeout: 1, maxTimeout: 1 },
      run: async () => {
        attempt += 1;
        await sleep(30);
        if (attempt === 1) throw Object.assign(new Error('gateway timeout'), { code: 'E504' });
        return 'ok';
      },
    });
    const sagas = bed.engine({ store: await store(), sagas: [saga] });
    const before = Date.now();
    const state = await sagas.run(saga, {}, { id: 't' });
    const [first, second] = state.steps[0]!.attempts;
    expect(first).toMatchObject({
      outcome: 'failed',
      error: { name: 'Error', message: 'gateway timeout', code: 'E504' },
    });
    expect(second).toMatchObject({ outcome: 'completed' });
    expect(second!.error).toBeUndefined();
    for (const a of [first!, second!]) {
      expect(a.durationMs).toBeGreaterThanOrEqual(25);
      expect(Date.parse(a.startedAt)).toBeGreaterThanOrEqual(before - 5);
    }
    expect(Date.parse(second!.startedAt)).toBeGreaterThan(Date.parse(first!.startedAt));
    expect(state.finishedAt).not.toBeNull();
    expect(state.deadLettered).toBe(false);
    expect(await sagas.get('t')).toEqual(state);
    expect(await sagas.get('none')).toBeUndefined();
  });

  it('a runner purges finished sagas past retainFinishedMs, and keeps the rest', async () => {
    const s = await store();
    const first = bed.engine({ store: s, sagas: [ok, dead] });
    await first.run(ok, 1, { id: 'done' });
    await first.run(dead, {}, { id: 'dlq' });
    await sleep(50);
    const runner = bed.engine({
      store: s,
      sagas: [ok, dead],
      retainFinishedMs: 20,
      pollIntervalMs: 20,
    });
    runner.startRunner();
    await eventually(async () => ((await s.get('done')) === undefined ? true : undefined));
    expect((await s.get('dlq'))?.status).toBe('failed');
  });

  it('purges only finished sagas older than the cut-off, in batches', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const waiting = defineSaga({ name: 'waiting' }).step('s', { run: () => held });
    const sagas = bed.engine({ store: await store(), sagas: [ok, fails, dead, waiting] });
    await sagas.run(ok, 1, { id: 'old-1' });
    await sagas.run(ok, 2, { id: 'old-2' });
    await sagas.run(fails, {}, { id: 'old-3' });
    await sagas.run(dead, {}, { id: 'old-dead' });
    await sagas.start(waiting, {}, { id: 'old-active' });
    await sleep(300);
    await sagas.run(ok, 3, { id: 'new-1' });
    expect(await sagas.purge({ olderThanMs: 200, limit: 2 })).toBe(2);
    expect(await sagas.purge({ olderThanMs: 200, limit: 2 })).toBe(1);
    expect(await sagas.purge({ olderThanMs: 200, limit: 2 })).toBe(0);
    const left = (await sagas.list()).sagas.map((s) => s.id);
    expect(left).toEqual(['new-1', 'old-active', 'old-dead']);
    release();
    await eventually(async () =>
      (await sagas.get('old-active'))?.status === 'completed' ? true : undefined,
    );
  });
});
