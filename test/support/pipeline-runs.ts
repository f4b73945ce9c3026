/**
 * Recorded pipeline runs for lineage tests: `numberedRun(n)` has a run id ending in `n`, so a test
 * can read back the order runs were delivered in.
 */
import type { PipelineRunLineage } from '../../src/lineage/index.js';

/** A finished run of `pipeline` with no stages, whose run id ends in `n` (zero-padded). */
export function numberedRun(n: number, pipeline = 'signup'): PipelineRunLineage {
  return {
    id: '01JDQ3V8Z6X0M9K2T4B7N5C1PA',
    pipeline,
    runId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    state: 'COMPLETE',
    startedAt: '2026-12-02T10:00:00.000Z',
    endedAt: '2026-12-02T10:00:01.000Z',
    correlationId: undefined,
    causationId: undefined,
    stages: [],
  };
}
