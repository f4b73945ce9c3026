import fc from 'fast-check';
import { expect, it } from 'vitest';
import { FlowproofError } from '../core/errors.js';
import type { StageEvent } from '../validation/stage.js';
import { OpenRun, runBody, storedRun } from './lineage-recorder.js';

const text = fc.string({ unit: 'binary', maxLength: 12 });
const fields = fc.array(text, { maxLength: 4 });
const event = fc.record({
  pipeline: fc.constant('p'),
  stage: text,
  index: fc.nat(5),
  boundary: text,
  kind: fc.constantFrom('validate', 'transform', 'enrich'),
  outcome: fc.constantFrom('passed', 'fallback', 'dead-lettered', 'rejected'),
  durationMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
  fieldsIn: fields,
  fieldsOut: fields,
  fieldsChanged: fields,
  fieldsAdded: fields,
  fieldsDropped: fields,
  fieldsMasked: fields,
  runId: fc.constant('run'),
  stageCount: fc.constant(6),
  correlationId: fc.constant(undefined),
  error: fc.option(
    fc.tuple(text, text).map(([code, message]) => new FlowproofError(code as never, message)),
    { nil: undefined },
  ),
}) as fc.Arbitrary<StageEvent>;

it('writes a run record exactly as JSON.stringify writes its stored form', () => {
  fc.assert(
    fc.property(fc.array(event, { maxLength: 6 }), fc.boolean(), fc.nat(), (events, failed, at) => {
      const run = new OpenRun('run', 'p', at, undefined, undefined);
      run.stages.push(...events);
      run.endedAt = at + 5;
      run.failed = failed;
      expect(runBody(run)).toBe(JSON.stringify(storedRun(run)));
    }),
    { numRuns: 500 },
  );
});
