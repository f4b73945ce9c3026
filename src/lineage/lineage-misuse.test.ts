/**
 * Every public entry of the lineage module answers odd arguments (wrong types, revoked proxies,
 * getters that throw, cycles, BigInts) with a `TypeError` naming the argument or a
 * `FlowproofError` — never an error the engine raised from deep inside.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectNoEngineError, oddValue } from '../../test/support/odd-values.js';
import { createMemoryBackend, createMemoryLineageStore } from '../adapters/memory/index.js';
import { createLineage, derive, sourced, sourcedFrom } from './index.js';

describe('lineage entries given odd arguments', () => {
  it('provenance: sourced, sourcedFrom and derive', async () => {
    await fc.assert(
      fc.asyncProperty(oddValue, async (make) => {
        await expectNoEngineError('options', () => sourced(1, make() as never));
        await expectNoEngineError('options', () => sourced(1, { source: make() } as never));
        await expectNoEngineError('options', () =>
          sourced(1, { source: 's', fetchedAt: make() } as never),
        );
        await expectNoEngineError('options', () =>
          sourced(1, { source: 's', attributes: make() } as never),
        );
        await expectNoEngineError('source', () => sourcedFrom(make() as never, () => 1));
        await expectNoEngineError('options', () => sourcedFrom('s', () => 1, make() as never));
        await expectNoEngineError('name', () => derive(make() as never, 'v1', {}, () => 1));
        await expectNoEngineError('version', () => derive('n', make() as never, {}, () => 1));
        await expectNoEngineError('inputs', () => derive('n', 'v1', make() as never, () => 1));
        await expectNoEngineError('fn', () => derive('n', 'v1', {}, make() as never));
      }),
      { numRuns: 200 },
    );
  });

  it('the recorder: createLineage, record, explain, history, runs, purge', async () => {
    const store = createMemoryLineageStore({ backend: createMemoryBackend() });
    await store.migrate();
    const lineage = createLineage({ store });
    const traced = sourced(1, { source: 's' });
    await fc.assert(
      fc.asyncProperty(oddValue, async (make) => {
        await expectNoEngineError('options', () => createLineage(make() as never));
        await expectNoEngineError('options', () => createLineage({ store: make() } as never));
        await expectNoEngineError('options', () =>
          createLineage({ store, openLineage: make() } as never),
        );
        await expectNoEngineError('options', () =>
          createLineage({ store, logger: make() } as never),
        );
        await expectNoEngineError('entity', () => lineage.record(make() as never, { v: traced }));
        await expectNoEngineError('fields', () => lineage.record('e', make() as never));
        await expectNoEngineError('fields', () => lineage.record('e', { v: make() } as never));
        await expectNoEngineError('options', () =>
          lineage.record('e', { v: traced }, make() as never),
        );
        await expectNoEngineError('entity', () => lineage.explain(make() as never, 'f'));
        await expectNoEngineError('field', () => lineage.explain('e', make() as never));
        await expectNoEngineError('options', () => lineage.explain('e', 'f', make() as never));
        await expectNoEngineError('options', () => lineage.history('e', 'f', make() as never));
        await expectNoEngineError('options', () =>
          lineage.history('e', 'f', { cursor: make() } as never),
        );
        await expectNoEngineError('correlationId', () => lineage.runs(make() as never));
        await expectNoEngineError('options', () => lineage.purge(make() as never));
        await expectNoEngineError('options', () =>
          lineage.purge({ olderThanMs: 1, signal: make() } as never),
        );
      }),
      { numRuns: 200 },
    );
    await lineage.close();
    await store.close();
  });

  it('onStage: a value that is not a stage event is a TypeError naming it, and nothing is queued', async () => {
    const store = createMemoryLineageStore({ backend: createMemoryBackend() });
    await store.migrate();
    const lineage = createLineage({ store, flushIntervalMs: 0 });
    const event = {
      pipeline: 'p',
      stage: 's',
      index: 0,
      boundary: 'internal',
      kind: 'transform',
      outcome: 'passed',
      durationMs: 1,
      fieldsIn: ['a'],
      fieldsOut: ['a'],
      fieldsChanged: [],
      fieldsAdded: [],
      fieldsDropped: [],
      fieldsMasked: [],
      runId: '00000000-0000-4000-8000-000000000000',
      stageCount: 1,
      correlationId: 'c',
      error: undefined,
    };
    await fc.assert(
      fc.asyncProperty(
        oddValue,
        fc.constantFrom(undefined, ...Object.keys(event)),
        async (make, key) => {
          const odd = key === undefined ? make() : { ...event, [key]: make() };
          await expectNoEngineError('event', () => lineage.onStage(odd as never));
          await lineage.flush();
        },
      ),
      { numRuns: 300 },
    );
    lineage.onStage(event as never);
    await lineage.flush();
    expect((await lineage.runs('c')).length).toBeGreaterThan(0);
    // An event whose getter answers onStage's check, then throws when the run is written: the
    // write fails like a failing store (logged), never as an exception thrown from a timer.
    let reads = 0;
    const fickle = {
      ...event,
      runId: '00000000-0000-4000-8000-000000000001',
      get fieldsAdded() {
        reads++;
        if (reads > 1) throw new Error('changed its mind');
        return [];
      },
    };
    lineage.onStage(fickle as never);
    await lineage.flush();
    expect(reads).toBeGreaterThan(1);
    await lineage.close();
    await store.close();
  });
});
