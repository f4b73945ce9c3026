import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type FieldLineage,
  fieldLineageEvents,
  type PipelineRunLineage,
  type Provenance,
  pipelineRunEvents,
  type StageLineage,
} from '../../../src/lineage/index.js';
import { expectValidEvents, schemaSkipReason } from '../../support/openlineage-schemas.js';

const namespace = 'checkout';

const name = fc.oneof(
  fc.constantFrom('id', 'x', 'x.inputs.y', 'y', '__proto__', 'constructor', 'ü', 'with space'),
  fc.string({ minLength: 1, maxLength: 8 }).filter((text) => text.trim() !== ''),
);
const instant = fc
  .date({
    min: new Date('1970-01-01T00:00:00Z'),
    max: new Date('2100-01-01T00:00:00Z'),
    noInvalidDate: true,
  })
  .map((date) => date.toISOString());

/** A pipeline run whose stages agree with each other: each stage's input is the last one's output. */
const pipelineRun: fc.Arbitrary<PipelineRunLineage> = fc
  .record({
    pipeline: name,
    runId: fc.uuid(),
    state: fc.constantFrom('COMPLETE' as const, 'FAIL' as const),
    startedAt: instant,
    endedAt: instant,
    correlationId: fc.option(name, { nil: undefined }),
    fieldsIn: fc.uniqueArray(name, { maxLength: 6 }),
    stages: fc.array(
      fc.record({
        stage: name,
        drop: fc.nat(),
        add: fc.uniqueArray(name, { maxLength: 2 }),
        change: fc.nat(),
        mask: fc.nat(),
      }),
      { maxLength: 5 },
    ),
  })
  .map(({ fieldsIn, stages, ...run }) => {
    // Pick fields by the bits of each number, so the choice follows the fields actually there.
    const pick = (fields: readonly string[], bits: number) =>
      fields.filter((_, i) => (bits >> i) & 1);
    let fields = fieldsIn;
    const built: StageLineage[] = stages.map((s, index) => {
      const dropped = pick(fields, s.drop);
      const kept = fields.filter((f) => !dropped.includes(f));
      const added = s.add.filter((f) => !kept.includes(f));
      const out = [...kept, ...added];
      const stage: StageLineage = {
        stage: s.stage,
        index,
        kind: 'transform',
        boundary: 'service',
        outcome: 'passed',
        durationMs: 1,
        fieldsIn: fields,
        fieldsOut: out,
        fieldsChanged: pick(kept, s.change),
        fieldsAdded: added,
        fieldsDropped: dropped,
        fieldsMasked: pick(out, s.mask).map((f, i) => (i % 2 ? `${f}.inner` : f)),
      };
      fields = out;
      return stage;
    });
    return { id: '01JDQ3V8Z6X0M9K2T4B7N5C1PA', causationId: undefined, ...run, stages: built };
  });

const provenance: fc.Arbitrary<Provenance> = fc.letrec<{ node: Provenance; derived: Provenance }>(
  (tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.record({ kind: fc.constant('literal' as const), value: fc.integer() }),
      fc.record(
        {
          kind: fc.constant('sourced' as const),
          value: fc.integer(),
          source: name,
          fetchedAt: instant,
          masked: fc.boolean(),
        },
        { requiredKeys: ['kind', 'value', 'source', 'fetchedAt'] },
      ),
      tie('derived'),
    ),
    derived: fc.record({
      kind: fc.constant('derived' as const),
      value: fc.integer(),
      calculation: name,
      version: name,
      calculatedAt: instant,
      inputs: fc.dictionary(name, tie('node'), { maxKeys: 4 }),
    }),
  }),
).derived;

const field: fc.Arbitrary<FieldLineage> = fc.record({
  id: fc.constantFrom('01JDQ3V8Z6X0M9K2T4B7N5C1PA', '01JDQ3V8Z6X0M9K2T4B7N5C1PB'),
  entity: fc.oneof(
    name,
    fc.tuple(name, name).map(([type, id]) => `${type}:${id}`),
  ),
  field: name,
  value: fc.constant(1),
  recordedAt: instant,
  correlationId: fc.option(name, { nil: undefined }),
  causationId: fc.option(name, { nil: undefined }),
  provenance,
});

function countDerived(node: Provenance): number {
  if (node.kind !== 'derived') return 0;
  return 1 + Object.values(node.inputs).reduce((sum, input) => sum + countDerived(input), 0);
}

describe(`OpenLineage events of random inputs ${schemaSkipReason}`, () => {
  it('pipeline runs: every event valid; each output field maps to its own input field or none', () => {
    fc.assert(
      fc.property(pipelineRun, (run) => {
        const events = pipelineRunEvents(run, { namespace });
        expectValidEvents(events);
        const [start, end] = events;
        expect([start.eventType, end.eventType]).toEqual(['START', run.state]);
        expect(end.run.runId).toBe(run.runId);
        const first = run.stages[0]?.fieldsIn ?? [];
        for (const [output, { inputFields }] of Object.entries(
          end.outputs[0]?.facets?.columnLineage?.fields ?? {},
        )) {
          const added = run.stages.some((s) => s.fieldsAdded.includes(output));
          expect(inputFields.map((f) => f.field)).toEqual(
            added || !first.includes(output) ? [] : [output],
          );
          const masked = run.stages.some((s) =>
            s.fieldsMasked.some((p) => p === output || p.startsWith(`${output}.`)),
          );
          if (inputFields[0]) expect(inputFields[0].transformations[0]?.masking).toBe(masked);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('provenance trees: every event valid; one run per calculation, each child naming a run of the tree as parent', () => {
    fc.assert(
      fc.property(field, (recorded) => {
        const events = fieldLineageEvents(recorded, { namespace });
        expectValidEvents(events);
        const runs = new Set(events.map((e) => e.run.runId));
        expect(runs.size).toBe(countDerived(recorded.provenance));
        expect(events.filter((e) => e.eventType === 'COMPLETE')).toHaveLength(runs.size);
        for (const event of events) {
          const parent = event.run.facets?.parent?.run.runId;
          if (parent !== undefined) expect(runs.has(parent)).toBe(true);
        }
        expect(events.filter((e) => e.run.facets?.parent === undefined).length).toBe(2);
        expect(fieldLineageEvents(recorded, { namespace })).toEqual(events);
      }),
      { numRuns: 150 },
    );
  });
});
