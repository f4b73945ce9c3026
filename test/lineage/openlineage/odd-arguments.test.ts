/**
 * The OpenLineage event builders and the emitter answer odd arguments (revoked proxies, throwing
 * getters, a member of the wrong type, anything fast-check makes) with a TypeError naming the
 * argument, never an engine error from deep inside.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  createOpenLineageEmitter,
  derivationFailureEvents,
  derive,
  type FieldLineage,
  fieldLineageEvents,
  type PipelineRunLineage,
  pipelineRunEvents,
  sagaEvents,
  sourced,
} from '../../../src/lineage/index.js';
import { expectNoEngineError, oddValue } from '../../support/odd-values.js';

const namespace = 'checkout-service';

const run: PipelineRunLineage = {
  id: '01JDQ3V8Z6X0M9K2T4B7N5C1PA',
  pipeline: 'signup',
  runId: '7d444840-9dc0-11d1-b245-5ffdce74fad2',
  state: 'FAIL',
  startedAt: '2026-12-02T10:00:00.000Z',
  endedAt: '2026-12-02T10:00:00.120Z',
  correlationId: 'req-1',
  causationId: undefined,
  stages: [
    {
      stage: 'parse',
      index: 0,
      kind: 'validate',
      boundary: 'client',
      outcome: 'rejected',
      durationMs: 1,
      fieldsIn: ['email'],
      fieldsOut: [],
      fieldsChanged: [],
      fieldsAdded: [],
      fieldsDropped: [],
      fieldsMasked: [],
      error: { code: 'VALIDATION_FAILED', message: 'bad email' },
    },
  ],
};

const total = derive('order-total', 'v1', { rate: sourced(0.1, { source: 'tax' }) }, (v) => v.rate);
const field: FieldLineage = {
  id: '01JDQ3V8Z6X0M9K2T4B7N5C1PB',
  entity: 'order:1',
  field: 'total',
  value: total.value,
  recordedAt: '2026-12-02T10:00:00.000Z',
  correlationId: 'req-2',
  causationId: undefined,
  provenance: total.provenance,
};

const saga = {
  id: 'order-1',
  name: 'reserve-stock',
  version: 1,
  status: 'failed',
  redrives: 0,
  steps: [{ step: 'reserve', status: 'failed' }],
  error: { code: 'SAGA_STEP_TIMEOUT', message: 'late', step: 'reserve' },
  createdAt: '2026-12-02T10:00:00.000Z',
  updatedAt: '2026-12-02T10:00:01.000Z',
  finishedAt: '2026-12-02T10:00:01.000Z',
};

const failure = {
  name: 'order-total',
  version: 'v1',
  error: new Error('tax rate missing'),
  startedAt: '2026-12-02T10:00:00Z',
  endedAt: '2026-12-02T10:00:01Z',
};

/** The valid argument, or it with one member (or the whole of it) replaced by an odd value. */
function spoil(valid: object, key: string | undefined, make: () => unknown): unknown {
  return key === undefined ? make() : { ...valid, [key]: make() };
}

const members = (valid: object) => fc.constantFrom(undefined, ...Object.keys(valid));

describe('odd arguments to the OpenLineage event builders and emitter', () => {
  const emitter = createOpenLineageEmitter({
    namespace,
    transport: { name: 'discard', send: async () => {} },
  });

  it('pipelineRunEvents and emitPipelineRun', async () => {
    await fc.assert(
      fc.asyncProperty(oddValue, members(run), async (make, key) => {
        await expectNoEngineError('run', () =>
          pipelineRunEvents(spoil(run, key, make) as never, { namespace }),
        );
        await expectNoEngineError('run', () =>
          emitter.emitPipelineRun(spoil(run, key, make) as never),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('fieldLineageEvents and emitField', async () => {
    await fc.assert(
      fc.asyncProperty(oddValue, members(field), async (make, key) => {
        await expectNoEngineError('field', () =>
          fieldLineageEvents(spoil(field, key, make) as never, { namespace }),
        );
        await expectNoEngineError('field', () =>
          emitter.emitField(spoil(field, key, make) as never),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('sagaEvents and emitSaga', async () => {
    await fc.assert(
      fc.asyncProperty(oddValue, members(saga), async (make, key) => {
        await expectNoEngineError('saga', () =>
          sagaEvents(spoil(saga, key, make) as never, { namespace }),
        );
        await expectNoEngineError('saga', () => emitter.emitSaga(spoil(saga, key, make) as never));
      }),
      { numRuns: 300 },
    );
  });

  it('derivationFailureEvents and emitDerivationFailure, whatever the calculation threw', async () => {
    await fc.assert(
      fc.asyncProperty(oddValue, members(failure), async (make, key) => {
        await expectNoEngineError('failure', () =>
          derivationFailureEvents(spoil(failure, key, make) as never, { namespace }),
        );
        await expectNoEngineError('failure', () =>
          emitter.emitDerivationFailure(spoil(failure, key, make) as never),
        );
      }),
      { numRuns: 300 },
    );
    // A calculation may throw anything; the failure is still reported.
    await fc.assert(
      fc.asyncProperty(oddValue, async (make) => {
        derivationFailureEvents({ ...failure, error: make() }, { namespace });
      }),
      { numRuns: 100 },
    );
  });
});
