import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMemoryBackend, createMemorySagaStore } from '../../../src/adapters/memory/index.js';
import {
  derivationFailureEvents,
  derive,
  type FieldLineage,
  fieldLineageEvents,
  type OpenLineageRunEvent,
  type PipelineRunLineage,
  pipelineRunEvents,
  type StageLineage,
  sagaEvents,
  sourced,
} from '../../../src/lineage/index.js';
import { createSagas, type SagaState } from '../../../src/saga/index.js';
import {
  expectValidEvents,
  openLineageSchemas,
  schemaSkipReason,
} from '../../support/openlineage-schemas.js';
import { endingSagas } from '../../support/saga-engines.js';

const { version } = JSON.parse(
  readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
);
const namespace = 'checkout';

const stage = (
  overrides: Partial<StageLineage> & Pick<StageLineage, 'stage' | 'index'>,
): StageLineage => ({
  kind: 'transform',
  boundary: 'service',
  outcome: 'passed',
  durationMs: 1,
  fieldsIn: [],
  fieldsOut: [],
  fieldsChanged: [],
  fieldsAdded: [],
  fieldsDropped: [],
  fieldsMasked: [],
  ...overrides,
});

const signup: PipelineRunLineage = {
  id: '01JDQ3V8Z6X0M9K2T4B7N5C1PA',
  pipeline: 'signup',
  runId: '7d444840-9dc0-11d1-b245-5ffdce74fad2',
  state: 'COMPLETE',
  startedAt: '2026-12-02T10:00:00.000Z',
  endedAt: '2026-12-02T10:00:00.120Z',
  correlationId: 'req-1',
  causationId: undefined,
  stages: [
    stage({
      stage: 'parse',
      index: 0,
      kind: 'validate',
      fieldsIn: ['email', 'age', 'password'],
      fieldsOut: ['email', 'age', 'password'],
      fieldsChanged: ['age'],
    }),
    stage({
      stage: 'redact',
      index: 1,
      fieldsIn: ['email', 'age', 'password'],
      fieldsOut: ['email', 'age', 'password'],
      fieldsMasked: ['password'],
    }),
    stage({
      stage: 'geo',
      index: 2,
      kind: 'enrich',
      fieldsIn: ['email', 'age', 'password'],
      fieldsOut: ['email', 'age', 'password', 'country'],
      fieldsAdded: ['country'],
    }),
  ],
};

function errorFacet(event: OpenLineageRunEvent): Record<string, unknown> {
  return { ...event.run.facets?.errorMessage };
}

describe('pipelineRunEvents', () => {
  it.skipIf(!openLineageSchemas)(
    `validates against the official schemas ${schemaSkipReason}`,
    () => {
      const schemas = openLineageSchemas as NonNullable<typeof openLineageSchemas>;
      const [start, end] = pipelineRunEvents(signup, { namespace });
      expect(schemas.errors(end)).toEqual([]);
      // The checks can fail: the core event, a standard facet's own schema, an unknown facet.
      expect(schemas.errors({ ...start, run: { runId: 'not-a-uuid' } }).join()).toMatch(/uuid/);
      const { programmingLanguage: _, ...noLanguage } = errorFacet(
        pipelineRunEvents({ ...signup, state: 'FAIL' }, { namespace })[1],
      );
      expect(
        schemas
          .errors({ ...end, run: { ...end.run, facets: { errorMessage: noLanguage } } })
          .join(),
      ).toMatch(/programmingLanguage/);
      expect(
        schemas.errors({
          ...end,
          job: { ...end.job, facets: { mystery: end.job.facets?.jobType } },
        }),
      ).toEqual(['job.facets.mystery: no schema for this facet']);
      const engine = {
        ...end.run.facets?.processing_engine,
        _schemaURL: 'https://example.com/x.json#/$defs/X',
      };
      expect(
        schemas
          .errors({ ...end, run: { ...end.run, facets: { processing_engine: engine } } })
          .join(),
      ).toMatch(/names no schema definition/);
    },
  );

  it('emits START at startedAt and COMPLETE at endedAt, a BATCH flowproof PIPELINE job', () => {
    const events = pipelineRunEvents(signup, { namespace });
    expectValidEvents(events);
    const [start, end] = events;
    expect([start.eventType, start.eventTime, end.eventType, end.eventTime]).toEqual([
      'START',
      signup.startedAt,
      'COMPLETE',
      signup.endedAt,
    ]);
    expect(start.run.runId).toBe(signup.runId);
    expect(end.job).toMatchObject({
      namespace,
      name: 'signup',
      facets: {
        jobType: { processingType: 'BATCH', integration: 'FLOWPROOF', jobType: 'PIPELINE' },
      },
    });
    expect(end.run.facets?.processing_engine).toMatchObject({ name: 'flowproof', version });
    expect(end.run.facets?.flowproof_correlation).toMatchObject({ correlationId: 'req-1' });
    expect(end.run.facets?.parent).toBeUndefined();
    expect(end.run.facets?.errorMessage).toBeUndefined();
    expect(end.inputs[0]?.facets?.schema?.fields.map((f) => f.name)).toEqual([
      'email',
      'age',
      'password',
    ]);
  });

  it('maps each output field to its input field: identity, transformation, masking, added', () => {
    const [, end] = pipelineRunEvents(signup, { namespace });
    const output = end.outputs[0];
    expect(output?.name).toBe('signup.output');
    expect(output?.facets?.schema?.fields.map((f) => f.name)).toEqual([
      'email',
      'age',
      'password',
      'country',
    ]);
    const fields = output?.facets?.columnLineage?.fields ?? {};
    const input = { namespace, name: 'signup.input' };
    expect(fields.email?.inputFields).toEqual([
      {
        ...input,
        field: 'email',
        transformations: [
          {
            type: 'DIRECT',
            subtype: 'IDENTITY',
            description: 'parse → redact → geo',
            masking: false,
          },
        ],
      },
    ]);
    expect(fields.age?.inputFields[0]?.transformations).toEqual([
      { type: 'DIRECT', subtype: 'TRANSFORMATION', description: 'parse', masking: false },
    ]);
    expect(fields.password?.inputFields[0]?.transformations).toEqual([
      { type: 'DIRECT', subtype: 'TRANSFORMATION', description: 'redact', masking: true },
    ]);
    expect(fields.country).toEqual({ inputFields: [] });
  });

  it('a field dropped then added again has no input field; a nested masked path masks its field', () => {
    const run: PipelineRunLineage = {
      ...signup,
      stages: [
        stage({
          stage: 'a',
          index: 0,
          fieldsIn: ['id', 'card'],
          fieldsOut: ['card'],
          fieldsDropped: ['id'],
        }),
        stage({
          stage: 'b',
          index: 1,
          fieldsIn: ['card'],
          fieldsOut: ['card', 'id'],
          fieldsAdded: ['id'],
          fieldsMasked: ['card.number'],
        }),
      ],
    };
    const [, end] = pipelineRunEvents(run, { namespace });
    expectValidEvents([end]);
    const fields = end.outputs[0]?.facets?.columnLineage?.fields ?? {};
    expect(fields.id).toEqual({ inputFields: [] });
    expect(fields.card?.inputFields[0]?.transformations[0]).toMatchObject({ masking: true });
  });

  it('FAIL carries the failing stage error in an errorMessage facet and no output', () => {
    const run: PipelineRunLineage = {
      ...signup,
      state: 'FAIL',
      stages: [
        signup.stages[0] as StageLineage,
        stage({
          stage: 'charge',
          index: 1,
          outcome: 'rejected',
          fieldsIn: ['email'],
          error: { code: 'PIPELINE_STAGE_FAILED', message: 'card declined' },
        }),
      ],
    };
    const events = pipelineRunEvents(run, { namespace });
    expectValidEvents(events);
    const [, end] = events;
    expect(end.eventType).toBe('FAIL');
    expect(end.outputs).toEqual([]);
    expect(end.run.facets?.errorMessage).toMatchObject({
      message: 'PIPELINE_STAGE_FAILED: card declined (stage charge)',
      programmingLanguage: 'TypeScript',
    });
  });

  it('FAIL names the stage that ended the run, not an earlier stage that fell back', () => {
    const run: PipelineRunLineage = {
      ...signup,
      state: 'FAIL',
      stages: [
        stage({
          stage: 'tax',
          index: 0,
          outcome: 'fallback',
          fieldsIn: ['email'],
          fieldsOut: ['email'],
          error: { code: 'PIPELINE_STAGE_FAILED', message: 'tax service down' },
        }),
        stage({
          stage: 'charge',
          index: 1,
          outcome: 'dead-lettered',
          fieldsIn: ['email'],
          error: { code: 'PIPELINE_STAGE_FAILED', message: 'card declined' },
        }),
      ],
    };
    const [, end] = pipelineRunEvents(run, { namespace });
    expect(end.run.facets?.errorMessage?.message).toBe(
      'PIPELINE_STAGE_FAILED: card declined (stage charge)',
    );
  });

  it('names a known parent run in a parent facet', () => {
    const parent = {
      runId: '3f0f0a58-24b7-4a0b-8a8e-6d0a4a3b2c1d',
      namespace: 'jobs',
      name: 'nightly',
    };
    const events = pipelineRunEvents(signup, { namespace, parent });
    expectValidEvents(events);
    expect(events[1].run.facets?.parent).toMatchObject({
      run: { runId: parent.runId },
      job: { namespace: 'jobs', name: 'nightly' },
    });
  });

  it('refuses bad options with a TypeError naming the option', () => {
    expect(() => pipelineRunEvents(signup, { namespace: '' })).toThrow(/options\.namespace/);
    expect(() => pipelineRunEvents(signup, { namespace, producer: 'not a uri' })).toThrow(
      /options\.producer/,
    );
    expect(() =>
      pipelineRunEvents(signup, { namespace, parent: { runId: 'x', namespace, name: 'n' } }),
    ).toThrow(/options\.parent\.runId/);
    expect(() => pipelineRunEvents(undefined as never, { namespace })).toThrow(
      /^run must be an object/,
    );
    expect(() => fieldLineageEvents(null as never, { namespace })).toThrow(
      /^field must be an object/,
    );
    expect(() => sagaEvents('o1' as never, { namespace })).toThrow(/^saga must be an object/);
    expect(() => pipelineRunEvents(signup, { namespace, namspace: 'x' } as never)).toThrow(
      /options\.namspace/,
    );
  });
});

function orderTotal(): FieldLineage {
  const lines = sourced([100, 30], { source: 'cart_service', fetchedAt: '2026-12-02T09:59:00Z' });
  const card = sourced('****4242', { source: 'payments', masked: true });
  const taxRate = sourced(0.0875, { source: 'tax_service', attributes: { jurisdiction: 'NY' } });
  const subtotal = derive('order-subtotal', 'v1', { lines }, ({ lines }) =>
    lines.reduce((a, b) => a + b, 0),
  );
  const total = derive('order-total', 'v2.3.1', { subtotal, taxRate, card, shipping: 5 }, (v) =>
    Math.round(v.subtotal * (1 + v.taxRate) + v.shipping),
  );
  return {
    id: '01JDQ3V8Z6X0M9K2T4B7N5C1PB',
    entity: 'order:ORD-12345',
    field: 'total',
    value: total.value,
    recordedAt: '2026-12-02T10:00:00.000Z',
    correlationId: 'req-2',
    causationId: 'msg-1',
    provenance: total.provenance,
  };
}

describe('fieldLineageEvents', () => {
  it('emits one run per calculation, inputs first, the inner one a child of the outer', () => {
    const field = orderTotal();
    const events = fieldLineageEvents(field, { namespace });
    expectValidEvents(events);
    expect(events.map((e) => [e.eventType, e.job.name])).toEqual([
      ['START', 'order-subtotal'],
      ['COMPLETE', 'order-subtotal'],
      ['START', 'order-total'],
      ['COMPLETE', 'order-total'],
    ]);
    const [, subtotal, , total] = events as OpenLineageRunEvent[];
    expect(subtotal?.run.facets?.parent).toMatchObject({
      run: { runId: total?.run.runId },
      job: { namespace, name: 'order-total' },
    });
    expect(total?.run.facets?.parent).toBeUndefined();
    expect(total?.run.facets?.flowproof_calculation).toMatchObject({
      calculation: 'order-total',
      version: 'v2.3.1',
      entity: 'order:ORD-12345',
      field: 'total',
      path: '',
    });
    expect(subtotal?.run.facets?.flowproof_calculation).toMatchObject({ path: 'inputs.subtotal' });
    expect(total?.job.facets?.jobType).toMatchObject({
      jobType: 'CALCULATION',
      processingType: 'BATCH',
    });
  });

  it('reads the sources and derived inputs, writes the entity type with column lineage (masking from masked sources)', () => {
    const events = fieldLineageEvents(orderTotal(), { namespace });
    const total = events[3] as OpenLineageRunEvent;
    expect(total.inputs.map((d) => `${d.namespace}/${d.name}`)).toEqual([
      'tax_service/taxRate',
      'payments/card',
      'checkout/order',
    ]);
    expect(total.outputs.map((d) => `${d.namespace}/${d.name}`)).toEqual(['checkout/order']);
    const lineage = total.outputs[0]?.facets?.columnLineage?.fields.total?.inputFields ?? [];
    expect(
      lineage.map((f) => [f.namespace, f.name, f.field, f.transformations[0]?.masking]),
    ).toEqual([
      ['checkout', 'order', 'subtotal', false],
      ['tax_service', 'taxRate', 'taxRate', false],
      ['payments', 'card', 'card', true],
    ]);
    expect(lineage[0]?.transformations[0]).toMatchObject({
      type: 'DIRECT',
      subtype: 'TRANSFORMATION',
      description: 'order-total v2.3.1',
    });
    const subtotal = events[1] as OpenLineageRunEvent;
    expect(Object.keys(subtotal.outputs[0]?.facets?.columnLineage?.fields ?? {})).toEqual([
      'subtotal',
    ]);
  });

  it('names the same runs every time for the same record, other runs for another record', () => {
    const field = orderTotal();
    const ids = (f: FieldLineage) =>
      fieldLineageEvents(f, { namespace }).map((e) => e.run.runId) as [string, ...string[]];
    expect(ids(field)).toEqual(ids(field));
    expect(new Set(ids(field)).size).toBe(2);
    expect(ids({ ...field, id: '01JDQ3V8Z6X0M9K2T4B7N5C1PC' })).not.toContain(ids(field)[0]);
    expect(ids(field)[0]).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('gives distinct runs to calculations whose input names look like paths', () => {
    const inner = derive('inner', 'v1', { n: 1 }, ({ n }) => n);
    const middle = derive('middle', 'v1', { y: inner }, ({ y }) => y);
    const dotted = derive('dotted', 'v1', { n: 2 }, ({ n }) => n);
    const top = derive('top', 'v1', { x: middle, 'x.inputs.y': dotted }, (v) => v.x);
    const events = fieldLineageEvents(
      { ...orderTotal(), provenance: top.provenance },
      { namespace },
    );
    expectValidEvents(events);
    expect(new Set(events.map((e) => e.run.runId)).size).toBe(4);
  });

  it('has no events for a sourced or literal value', () => {
    const field = orderTotal();
    expect(
      fieldLineageEvents({ ...field, provenance: { kind: 'literal', value: 1 } }, { namespace }),
    ).toEqual([]);
  });
});

describe('derivationFailureEvents', () => {
  it('emits START and FAIL with the error and the calculation version', () => {
    const error = Object.assign(new Error('rate missing'), { code: 'TAX_RATE_MISSING' });
    const events = derivationFailureEvents(
      {
        name: 'order-total',
        version: 'v2.3.1',
        error,
        startedAt: '2026-12-02T10:00:00Z',
        endedAt: Date.parse('2026-12-02T10:00:01Z'),
      },
      { namespace },
    );
    expectValidEvents(events);
    const [start, end] = events;
    expect([start.eventType, start.eventTime, end.eventType, end.eventTime]).toEqual([
      'START',
      '2026-12-02T10:00:00.000Z',
      'FAIL',
      '2026-12-02T10:00:01.000Z',
    ]);
    expect(start.run.runId).toBe(end.run.runId);
    expect(end.run.facets?.errorMessage).toMatchObject({
      message: 'TAX_RATE_MISSING: rate missing',
    });
    expect(end.run.facets?.flowproof_calculation).toMatchObject({
      calculation: 'order-total',
      version: 'v2.3.1',
    });
  });

  it('refuses a bad failure with a TypeError naming the field', () => {
    const ok = { name: 'n', version: 'v', error: 'x', startedAt: 0, endedAt: 0 };
    expect(() => derivationFailureEvents({ ...ok, name: '' }, { namespace })).toThrow(
      /failure\.name/,
    );
    expect(() => derivationFailureEvents({ ...ok, endedAt: 'yesterday' }, { namespace })).toThrow(
      /failure\.endedAt/,
    );
    expect(() => derivationFailureEvents({ ...ok, runId: '1' }, { namespace })).toThrow(
      /failure\.runId/,
    );
  });
});

describe('sagaEvents', () => {
  const engine = async () => {
    const store = createMemorySagaStore({ backend: createMemoryBackend() });
    await store.migrate();
    const { completes: ok, compensates: undone, deadLetters: stuck } = endingSagas;
    const sagas = createSagas({ store, sagas: [ok, undone, stuck] as never });
    return { sagas, ok, undone, stuck };
  };

  it('completed → COMPLETE, compensated → ABORT, dead-lettered → FAIL, running → START only', async () => {
    const { sagas, ok, undone, stuck } = await engine();
    try {
      const completed = await sagas.run(ok, {}, { id: 'o1' });
      const compensated = await sagas.run(undone, {}, { id: 'o2' });
      const failed = await sagas.run(stuck, {}, { id: 'o3' });
      const types = (s: SagaState<unknown>) => sagaEvents(s, { namespace }).map((e) => e.eventType);
      for (const state of [completed, compensated, failed])
        expectValidEvents(sagaEvents(state, { namespace }));
      expect(types(completed)).toEqual(['START', 'COMPLETE']);
      expect(types(compensated)).toEqual(['START', 'ABORT']);
      expect(types(failed)).toEqual(['START', 'FAIL']);
      expect(types({ ...completed, status: 'running', finishedAt: null })).toEqual(['START']);

      const [start, end] = sagaEvents(compensated, { namespace });
      expect(start?.eventTime).toBe(compensated.createdAt);
      expect(end?.eventTime).toBe(compensated.finishedAt);
      expect(end?.job).toMatchObject({ name: 'refund', facets: { jobType: { jobType: 'SAGA' } } });
      expect(end?.run.facets?.errorMessage?.message).toMatch(/card declined \(step charge\)/);
      expect(end?.run.facets?.flowproof_saga).toMatchObject({
        sagaId: 'o2',
        status: 'compensated',
        steps: [
          { step: 'hold', status: 'completed' },
          { step: 'charge', status: 'failed' },
        ],
      });
      expect(sagaEvents(failed, { namespace })[1]?.run.facets?.errorMessage?.message).toMatch(
        /carrier down/,
      );
      expect(sagaEvents(completed, { namespace })[0]?.run.runId).toBe(
        sagaEvents(completed, { namespace })[1]?.run.runId,
      );
    } finally {
      await sagas.close();
    }
  });
});
