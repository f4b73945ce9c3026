import { describe, expectTypeOf, it } from 'vitest';
import {
  type OpenLineageEmitter,
  type OpenLineageRunEvent,
  type OpenLineageTransport,
  type PipelineRunLineage,
  pipelineRunEvents,
  sagaEvents,
} from '../../../src/lineage/index.js';
import { createSagas, defineSaga, type SagaStore } from '../../../src/saga/index.js';

declare const emitter: OpenLineageEmitter;
declare const run: PipelineRunLineage;
declare const store: SagaStore;

describe('OpenLineage export types', () => {
  it('emitting returns nothing to await; flush and close return promises', () => {
    expectTypeOf(emitter.emitPipelineRun(run)).toEqualTypeOf<void>();
    expectTypeOf(emitter.flush()).toEqualTypeOf<Promise<void>>();
    expectTypeOf(emitter.close()).toEqualTypeOf<Promise<void>>();
  });

  it('a pipeline run gives exactly a start and an end event', () => {
    expectTypeOf(pipelineRunEvents(run, { namespace: 'n' })).toEqualTypeOf<
      readonly [OpenLineageRunEvent, OpenLineageRunEvent]
    >();
    // @ts-expect-error an unknown option is a type error too
    pipelineRunEvents(run, { namespace: 'n', namspace: 'x' });
  });

  it("a typed saga's state is accepted as is, and emitSaga fits onSettled", async () => {
    const order = defineSaga({ name: 'order' }).step('reserve', { run: () => ({ id: 'r1' }) });
    const sagas = createSagas({ store, sagas: [order], onSettled: (s) => emitter.emitSaga(s) });
    const state = await sagas.run(order, {});
    sagaEvents(state, { namespace: 'n' });
    emitter.emitSaga(state);
  });

  it('a transport is a name and a send method', () => {
    const transport: OpenLineageTransport = { name: 'mine', send: async () => {} };
    expectTypeOf(transport.send).parameter(0).toEqualTypeOf<readonly OpenLineageRunEvent[]>();
  });
});
