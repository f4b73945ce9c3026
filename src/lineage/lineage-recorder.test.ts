import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { recordingLogger } from '../../test/support/logger.js';
import { createMemoryBackend, createMemoryLineageStore } from '../adapters/memory/index.js';
import { createManualClock } from '../core/clock.js';
import { runWithContext } from '../core/context.js';
import { FlowproofError } from '../core/errors.js';
import { pipeline } from '../validation/index.js';
import { createLineage, derive, type LineageStore, sourced } from './index.js';
import type { LineageEventSink } from './lineage-recorder.js';
import type { DerivationFailure } from './openlineage/field-events.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const closable of open.splice(0)) await closable.close();
});

async function memoryStore(clock = createManualClock('2026-01-01T00:00:00Z')) {
  const store = createMemoryLineageStore({ backend: createMemoryBackend({ clock }) });
  await store.migrate();
  open.push(store);
  return { store, clock };
}

function recorder(
  store: LineageStore,
  options: Omit<Parameters<typeof createLineage>[0], 'store'> = {},
) {
  const lineage = createLineage({ store, ...options });
  open.unshift(lineage);
  return lineage;
}

const Input = z.object({ name: z.string(), age: z.coerce.number(), email: z.string() });

function people(onStage: ReturnType<typeof createLineage>['onStage']) {
  return pipeline('people', { onStage })
    .validate('parse', Input, { boundary: 'client' })
    .transform('adult', (person) => ({ ...person, adult: person.age >= 18 }), { adds: ['adult'] })
    .transform('mask email', (person) => ({ ...person, email: '***' }), { masks: ['email'] })
    .build();
}

describe('pipeline runs', () => {
  it('records one run per pipeline run, with what each stage did to each field', async () => {
    const { store } = await memoryStore();
    const lineage = recorder(store);
    const people_ = people(lineage.onStage);
    await runWithContext({ correlationId: 'flow-1' }, async () => {
      expect((await people_.run({ name: 'Ada', age: '36', email: 'a@x' })).ok).toBe(true);
      expect((await people_.run({ name: 'Bob', age: 'old', email: 'b@x' })).ok).toBe(false);
    });
    await lineage.flush();
    const runs = await lineage.runs('flow-1');
    expect(runs.map((run) => [run.pipeline, run.state, run.stages.length])).toEqual([
      ['people', 'COMPLETE', 3],
      ['people', 'FAIL', 1],
    ]);
    const [ok, failed] = runs;
    expect(ok?.runId).not.toBe(failed?.runId);
    expect(ok?.stages[0]).toMatchObject({
      stage: 'parse',
      fieldsChanged: ['age'],
      fieldsAdded: [],
    });
    expect(ok?.stages[1]).toMatchObject({
      stage: 'adult',
      fieldsAdded: ['adult'],
      fieldsChanged: [],
    });
    expect(ok?.stages[2]).toMatchObject({
      stage: 'mask email',
      fieldsChanged: ['email'],
      fieldsMasked: ['email'],
    });
    expect(failed?.stages[0]).toMatchObject({
      outcome: 'rejected',
      error: { code: 'PIPELINE_REJECTED' },
    });
    expect(Date.parse(ok?.endedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(ok?.startedAt ?? ''));
  });

  it('keeps interleaved asynchronous runs apart', async () => {
    const { store } = await memoryStore();
    const lineage = recorder(store);
    const slow = pipeline('slow', { onStage: lineage.onStage })
      .transform('wait', async (value) => {
        const n = value as number;
        await new Promise((resolve) => setTimeout(resolve, (n % 3) * 3));
        return n + 1;
      })
      .transform('double', (n) => n * 2)
      .build();
    await runWithContext({ correlationId: 'flow-2' }, () =>
      Promise.all(Array.from({ length: 30 }, (_, n) => slow.run(n))),
    );
    await lineage.flush();
    const runs = await lineage.runs('flow-2');
    expect(runs).toHaveLength(30);
    for (const run of runs)
      expect(run.stages.map((stage) => stage.stage)).toEqual(['wait', 'double']);
    expect(new Set(runs.map((run) => run.runId)).size).toBe(30);
  });

  it('never fails the pipeline when the store does: the failure is logged', async () => {
    const { store } = await memoryStore();
    const logger = recordingLogger();
    const failing = Object.create(store, {
      append: { value: () => Promise.reject(new Error('disk full')) },
    }) as LineageStore;
    const lineage = recorder(failing, { logger });
    const result = await people(lineage.onStage).run({ name: 'Ada', age: 36, email: 'a@x' });
    expect(result.ok).toBe(true);
    await lineage.flush();
    expect(logger.lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'lineage: pipeline runs could not be written',
      }),
    );
  });

  it('drops the oldest waiting runs beyond maxPendingRuns, and says how many', async () => {
    const { store } = await memoryStore();
    const logger = recordingLogger();
    const lineage = recorder(store, { logger, maxPendingRuns: 5, flushIntervalMs: 10_000 });
    const one = pipeline('one', { onStage: lineage.onStage })
      .transform('id', (n) => n)
      .build();
    await runWithContext({ correlationId: 'flow-3' }, async () => {
      for (let n = 0; n < 8; n++) one.runSync(n);
    });
    await lineage.flush();
    expect(await lineage.runs('flow-3')).toHaveLength(5);
    expect(logger.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ dropped: 3 }) }),
    );
  });
});

describe('record and explain', () => {
  const rate = sourced(0.0875, { source: 'tax_service', fetchedAt: '2025-11-15T14:32:16Z' });

  it('records all fields or none, in the caller’s transaction', async () => {
    const { store } = await memoryStore();
    const lineage = recorder(store);
    const backend = store.backend as ReturnType<typeof createMemoryBackend>;
    await expect(
      backend.transaction(async (tx) => {
        await lineage.record('order:1', { rate }, { transaction: tx });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await lineage.explain('order:1', 'rate')).toBeUndefined();
    await backend.transaction((tx) => lineage.record('order:1', { rate }, { transaction: tx }));
    expect((await lineage.explain('order:1', 'rate'))?.value).toBe(0.0875);
  });

  it('refuses a value with no JSON form as LINEAGE_VALUE_UNENCODABLE naming where, writing nothing', async () => {
    const { store } = await memoryStore();
    const lineage = recorder(store);
    const bad = derive('total', 'v1', { count: sourced(10n, { source: 'db' }) }, ({ count }) =>
      Number(count),
    );
    const error = await lineage.record('order:2', { rate, bad }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FlowproofError);
    expect(error).toMatchObject({
      code: 'LINEAGE_VALUE_UNENCODABLE',
      details: { entity: 'order:2', field: 'bad', path: 'inputs.count.value' },
    });
    expect(await lineage.explain('order:2', 'rate')).toBeUndefined();
  });

  it('refuses a tree nested too deep to store as LINEAGE_VALUE_UNENCODABLE, not a stack overflow', async () => {
    const { store } = await memoryStore();
    const lineage = recorder(store);
    let chain = sourced(0, { source: 'src' });
    for (let i = 0; i < 20_000; i++)
      chain = derive('step', 'v1', { prev: chain }, (v) => v.prev + 1);
    const error = await lineage
      .record('deep:1', { rate, chain })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      code: 'LINEAGE_VALUE_UNENCODABLE',
      details: { entity: 'deep:1', field: 'chain' },
    });
    // The whole path is in the details; the message shows its end, not kilobytes of it.
    const { message, details } = error as { message: string; details: { path: string } };
    expect(details.path.length).toBeGreaterThan(5_000);
    expect(message.length).toBeLessThan(400);
    expect(message).toMatch(/^The lineage of deep:1\.chain cannot be recorded: …/);
    expect(await lineage.explain('deep:1', 'rate')).toBeUndefined();
  });

  it('writes a Date in the provenance as its ISO text', async () => {
    const { store } = await memoryStore();
    const lineage = recorder(store);
    const when = sourced(new Date('2025-01-02T03:04:05Z'), { source: 'clock' });
    await lineage.record('job:1', { when });
    expect((await lineage.explain('job:1', 'when'))?.value).toBe('2025-01-02T03:04:05.000Z');
  });

  it('refuses bad arguments with a TypeError naming them', async () => {
    const { store } = await memoryStore();
    const lineage = recorder(store);
    await expect(lineage.record('', { rate })).rejects.toThrow(/entity/);
    await expect(lineage.record('e', {})).rejects.toThrow(/at least one field/);
    await expect(lineage.record('e', { total: 142.5 as never })).rejects.toThrow(
      /fields\.total must be a traced value/,
    );
    await expect(lineage.record('e', { rate }, { tx: 1 } as never)).rejects.toThrow(/tx/);
    await expect(lineage.explain('e', 'f', { at: 'yesterday' })).rejects.toThrow(/options\.at/);
    await expect(lineage.history('e', 'f', { limit: 0 })).rejects.toThrow(/options\.limit/);
    await expect(lineage.history('e', 'f', { cursor: 'nope' })).rejects.toThrow(/options\.cursor/);
    await expect(lineage.purge({})).rejects.toThrow(/olderThanMs/);
    expect(() => createLineage({ store: {} as never })).toThrow(/options\.store/);
    expect(() => createLineage({ store, flushIntervalMs: -1 })).toThrow(/options\.flushIntervalMs/);
    expect(() => createLineage({ store, openLineage: {} as never })).toThrow(
      /options\.openLineage/,
    );
  });

  it('refuses a transaction of another kind of store with a TypeError naming options.transaction', async () => {
    const { store } = await memoryStore();
    const lineage = recorder(store);
    for (const transaction of [
      { query() {} },
      null,
      'tx',
      createManualClock('2026-01-01T00:00:00Z'),
    ]) {
      await expect(lineage.record('e', { rate }, { transaction } as never)).rejects.toThrow(
        /^options\.transaction /,
      );
    }
    // A backend that is not bound to a transaction would write on its own, not with the caller's.
    const backend = createMemoryBackend();
    const unbound = createMemoryLineageStore({ backend });
    await unbound.migrate();
    open.push(unbound);
    await expect(
      recorder(unbound).record('e', { rate }, { transaction: backend } as never),
    ).rejects.toThrow(/^options\.transaction /);
    expect(await lineage.explain('e', 'rate')).toBeUndefined();
  });

  it('takes any limit and any age its checks let through', async () => {
    const { store } = await memoryStore();
    const lineage = recorder(store);
    await lineage.record('e', { rate });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), async (limit) => {
        const page = await lineage.history('e', 'rate', { limit }).catch((error: unknown) => error);
        if (page instanceof Error) expect(page.message).toMatch(/^options\.limit /);
        else expect(page).toMatchObject({ records: [{ field: 'rate' }] });
      }),
      { numRuns: 50, examples: [[Number.MAX_SAFE_INTEGER]] },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        async (olderThanMs) => {
          const report = await lineage.purge({ olderThanMs }).catch((error: unknown) => error);
          if (report instanceof Error) expect(report.message).toMatch(/^options\.olderThanMs /);
          else expect(report).toMatchObject({ aborted: false });
        },
      ),
      { numRuns: 50, examples: [[Number.MAX_SAFE_INTEGER]] },
    );
  });

  it('pages history newest first with cursors', async () => {
    const { store, clock } = await memoryStore();
    const lineage = recorder(store);
    for (let n = 0; n < 7; n++) {
      await lineage.record('order:3', { total: derive('total', `v${n}`, {}, () => n) });
      clock.advance(1000);
    }
    const seen: unknown[] = [];
    let cursor: string | undefined;
    do {
      const page = await lineage.history('order:3', 'total', {
        limit: 3,
        ...(cursor ? { cursor } : {}),
      });
      seen.push(...page.records.map((record) => record.value));
      cursor = page.cursor;
    } while (cursor !== undefined);
    expect(seen).toEqual([6, 5, 4, 3, 2, 1, 0]);
  });

  it('is closed after close()', async () => {
    const { store } = await memoryStore();
    const lineage = createLineage({ store });
    await lineage.close();
    await lineage.close();
    await expect(lineage.record('e', { rate })).rejects.toMatchObject({ code: 'LINEAGE_CLOSED' });
    await expect(lineage.explain('e', 'rate')).rejects.toMatchObject({ code: 'LINEAGE_CLOSED' });
  });
});

describe('purge', () => {
  it('deletes records older than the cutoff in batches, and keeps the rest', async () => {
    const { store, clock } = await memoryStore();
    const lineage = recorder(store);
    for (let n = 0; n < 10; n++)
      await lineage.record(`old:${n}`, { v: sourced(n, { source: 's' }) });
    clock.advance(24 * 3600_000);
    for (let n = 0; n < 4; n++)
      await lineage.record(`new:${n}`, { v: sourced(n, { source: 's' }) });
    const progress: number[] = [];
    const report = await lineage.purge({
      olderThanMs: 3600_000,
      batchSize: 3,
      onProgress: (d) => progress.push(d),
    });
    expect(report).toMatchObject({ deleted: 10, batches: 4, aborted: false });
    expect(progress).toEqual([3, 6, 9, 10]);
    expect(await lineage.explain('old:0', 'v')).toBeUndefined();
    expect((await lineage.explain('new:3', 'v'))?.value).toBe(3);
  });

  it('stops between batches when its signal aborts', async () => {
    const { store, clock } = await memoryStore();
    const lineage = recorder(store);
    for (let n = 0; n < 10; n++)
      await lineage.record(`old:${n}`, { v: sourced(n, { source: 's' }) });
    clock.advance(3600_000);
    const controller = new AbortController();
    const report = await lineage.purge({
      before: new Date(Date.parse('2026-01-01T00:30:00Z')),
      batchSize: 2,
      signal: controller.signal,
      onProgress: (deleted) => deleted >= 4 && controller.abort(),
    });
    expect(report).toMatchObject({ deleted: 4, batches: 2, aborted: true });
  });
});

describe('OpenLineage sink', () => {
  function sink() {
    const calls: { method: string; argument: unknown }[] = [];
    const record =
      (method: string) =>
      (argument: unknown): void => {
        calls.push({ method, argument });
      };
    const value: LineageEventSink = {
      emitPipelineRun: record('run'),
      emitField: record('field'),
      emitDerivationFailure: record('failure'),
    };
    return { calls, value };
  }

  it('hears of every finished run, recorded field and failed derivation', async () => {
    const { store } = await memoryStore();
    const { calls, value } = sink();
    const lineage = recorder(store, { openLineage: value });
    await people(lineage.onStage).run({ name: 'Ada', age: 36, email: 'a@x' });
    await lineage.record('order:1', { rate: sourced(1, { source: 's' }) });
    expect(lineage.derive('ok', 'v1', { a: 1 }, ({ a }) => a + 1).value).toBe(2);
    const boom = new Error('boom');
    expect(() =>
      lineage.derive('tax', 'v9', {}, () => {
        throw boom;
      }),
    ).toThrow(boom);
    await expect(lineage.derive('ship', 'v2', {}, async () => Promise.reject(boom))).rejects.toBe(
      boom,
    );
    expect(calls.map((call) => call.method)).toEqual(['run', 'field', 'failure', 'failure']);
    const failure = calls[2]?.argument as DerivationFailure;
    expect(failure).toMatchObject({ name: 'tax', version: 'v9', error: boom });
  });

  it('is never allowed to break the flow it describes', async () => {
    const { store } = await memoryStore();
    const logger = recordingLogger();
    const throwing: LineageEventSink = {
      emitPipelineRun: () => {
        throw new Error('sink down');
      },
      emitField: () => {
        throw new Error('sink down');
      },
      emitDerivationFailure: () => {
        throw new Error('sink down');
      },
    };
    const lineage = recorder(store, { openLineage: throwing, logger });
    expect((await people(lineage.onStage).run({ name: 'Ada', age: 36, email: 'a@x' })).ok).toBe(
      true,
    );
    await expect(
      lineage.record('order:1', { rate: sourced(1, { source: 's' }) }),
    ).resolves.toHaveLength(1);
    expect(
      logger.lines.filter((line) => line.message === 'lineage: the OpenLineage sink threw'),
    ).toHaveLength(2);
  });
});
