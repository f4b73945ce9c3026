/**
 * The recorder wired to the OpenLineage emitter, end to end: a pipeline run, a recorded field and
 * a calculation that throws, all through `createLineage({ openLineage })`, arrive as run events
 * that validate against the official schemas, with the masked field marked as masked in the
 * pipeline's column lineage and the calculation's version on its run.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createMemoryBackend,
  createMemoryLineageStore,
} from '../../../src/adapters/memory/index.js';
import { runWithContext } from '../../../src/core/context.js';
import {
  createLineage,
  createOpenLineageEmitter,
  derive,
  type OpenLineageRunEvent,
  sourced,
} from '../../../src/lineage/index.js';
import { pipeline } from '../../../src/validation/index.js';
import { expectValidEvents } from '../../support/openlineage-schemas.js';

describe('the lineage recorder exporting to OpenLineage', () => {
  it('sends valid events for pipeline runs, recorded fields and failed calculations', async () => {
    const sent: OpenLineageRunEvent[] = [];
    const openLineage = createOpenLineageEmitter({
      namespace: 'checkout-service',
      transport: { name: 'capture', send: async (events) => void sent.push(...events) },
    });
    const store = createMemoryLineageStore({ backend: createMemoryBackend() });
    await store.migrate();
    const lineage = createLineage({ store, openLineage });

    const checkout = pipeline('checkout', { onStage: lineage.onStage })
      .validate('parse', z.object({ card: z.string(), amount: z.number() }), { boundary: 'client' })
      .transform('mask card', (o) => ({ ...o, card: `****${o.card.slice(-4)}` }), {
        masks: ['card'],
      })
      .build();
    await runWithContext({ correlationId: 'req-ol-1' }, async () => {
      expect((await checkout.run({ card: '4242424242424242', amount: 10 })).ok).toBe(true);
      const rate = sourced(0.0875, { source: 'tax_service', attributes: { jurisdiction: 'NY' } });
      const tax = derive('order-tax', 'v2.3.1', { amount: 10, rate }, (v) => v.amount * v.rate);
      await lineage.record('order:ORD-1', { tax });
      expect(() =>
        lineage.derive('order-discount', 'v0.9.0', {}, () => {
          throw new Error('no such promotion');
        }),
      ).toThrow('no such promotion');
    });
    await openLineage.flush();
    await lineage.close();
    await openLineage.close();

    expectValidEvents(sent);
    const byJob = (name: string) => sent.filter((event) => event.job.name === name);
    expect(byJob('checkout').map((event) => event.eventType)).toEqual(['START', 'COMPLETE']);
    const output = byJob('checkout')[1]?.outputs[0];
    const card = output?.facets?.columnLineage?.fields.card;
    expect(card?.inputFields[0]?.transformations?.some((t) => t.masking === true)).toBe(true);
    const amount = output?.facets?.columnLineage?.fields.amount;
    expect(amount?.inputFields[0]?.transformations?.every((t) => t.masking !== true)).toBe(true);

    const taxRun = byJob('order-tax');
    expect(taxRun.map((event) => event.eventType)).toEqual(['START', 'COMPLETE']);
    expect(JSON.stringify(taxRun[1]?.run.facets)).toContain('v2.3.1');
    expect(taxRun[1]?.inputs.map((dataset) => dataset.namespace)).toContain('tax_service');

    const failed = byJob('order-discount');
    expect(failed.map((event) => event.eventType)).toEqual(['START', 'FAIL']);
    expect(JSON.stringify(failed[1]?.run.facets)).toContain('no such promotion');
  });
});
