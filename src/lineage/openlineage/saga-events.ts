/**
 * A saga as OpenLineage events: the saga's definition is the job, the saga one run of it.
 */
import { assertOptionsObject } from '../../core/options.js';
import type { SagaState } from '../../saga/saga-log.js';
import type { SagaStatus } from '../../saga/saga-store.js';
import {
  errorText,
  flowproofFacet,
  fromArgument,
  nameBasedRunId,
  type OpenLineageEventOptions,
  type OpenLineageRunEvent,
  type OpenLineageRunFacets,
  parentFacet,
  processingEngineFacet,
  resolveEventOptions,
  startAndEnd,
} from './openlineage-event.js';

/** How each finished status ends the run; active sagas have not ended. */
const END_OF: Readonly<Record<SagaStatus, 'COMPLETE' | 'FAIL' | 'ABORT' | undefined>> = {
  running: undefined,
  compensating: undefined,
  completed: 'COMPLETE',
  compensated: 'ABORT',
  failed: 'FAIL',
  compensation_failed: 'FAIL',
};

/**
 * The events of a saga, as `sagas.get(id)`, `sagas.wait(id)` or `sagas.run(…)` return it:
 * `START` at `createdAt` and, once it has finished, `COMPLETE` (completed), `ABORT` (compensated:
 * it stopped and undid its steps) or `FAIL` (dead-lettered) at `finishedAt`. The job is the
 * saga's name; the run id is derived from the saga's id, so emitting a saga again (after a
 * redrive, say) names the same run. `ABORT` and `FAIL` carry the failure in an `errorMessage`
 * facet; every event carries a `flowproof_saga` facet with the saga's id, version, status,
 * redrives and steps.
 *
 * @throws TypeError naming the argument or option when one is invalid.
 * @example
 * ```ts
 * const state = await sagas.run(checkout, input, { id: 'order-1234' });
 * const [start, end] = sagaEvents(state, { namespace: 'checkout' }); // START, COMPLETE
 * ```
 */
export function sagaEvents(
  saga: SagaState<unknown>,
  options: OpenLineageEventOptions,
): readonly OpenLineageRunEvent[] {
  return fromArgument('saga', 'a saga as sagas.get() returns it', () => {
    const resolved = resolveEventOptions(options);
    assertOptionsObject(saga, 'saga');
    const { producer, parent } = resolved;
    const end = END_OF[saga.status];
    const failure = saga.error ?? saga.failure;
    const facets: OpenLineageRunFacets = {
      processing_engine: processingEngineFacet(producer),
      flowproof_saga: flowproofFacet('FlowproofSagaRunFacet', producer, {
        sagaId: saga.id,
        version: saga.version,
        status: saga.status,
        redrives: saga.redrives,
        steps: saga.steps.map(({ step, status }) => ({ step, status })),
      }),
      ...(parent === undefined ? {} : { parent: parentFacet(producer, parent) }),
    };
    const run = {
      runId: nameBasedRunId(`saga:${saga.name}:${saga.id}`),
      namespace: resolved.namespace,
      name: saga.name,
    };
    return startAndEnd(resolved, run, 'SAGA', facets, {
      startedAt: saga.createdAt,
      endedAt: end === undefined ? undefined : (saga.finishedAt ?? saga.updatedAt),
      end: end ?? 'COMPLETE',
      inputs: [],
      outputs: [],
      ...(end !== 'COMPLETE' && failure !== undefined
        ? { error: `${errorText(failure)}${failure.step ? ` (step ${failure.step})` : ''}` }
        : {}),
    });
  });
}
