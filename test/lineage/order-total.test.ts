/**
 * The order total explained back field by field: an order is validated, priced (subtotal from the
 * product catalog, tax rate from a tax service, shipping from a calculator, a discount code) and
 * its card number masked by a validation pipeline whose stages are recorded; the priced fields'
 * lineage is recorded under the same flow. `explain()` answers, for each field, which sources
 * and which calculation version produced it and which stages touched it; repricing with a new
 * version of the pricing logic shows in `explain()` and `history()`, and the old explanation is
 * still there at its time. Runs on the memory store and on PostgreSQL.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createMemoryBackend, createMemoryLineageStore } from '../../src/adapters/memory/index.js';
import {
  createPostgresBackend,
  createPostgresLineageStore,
} from '../../src/adapters/postgres/index.js';
import { runWithContext } from '../../src/core/context.js';
import {
  createLineage,
  type DerivedProvenance,
  derive,
  type LineageStore,
  type SourcedProvenance,
  sourced,
  sourcedFrom,
  type Traced,
} from '../../src/lineage/index.js';
import { pipeline } from '../../src/validation/index.js';
import { postgresUrl } from '../support/services.js';

const CATALOG: Record<string, number> = { 'KETTLE-1': 100, 'MUG-2': 12.5 };
const TAX_RATES: Record<string, number> = { NY: 0.0875, NJ: 0.06625 };
const PROMOTIONS: Record<string, { percentOff: number }> = { SAVE10: { percentOff: 10 } };

const round2 = (amount: number) => Math.round(amount * 100) / 100;

/** The pricing logic; `version` names it, and 2.4.0 rounds tax up to the cent where 2.3.1 rounds. */
function pricing(version: 'v2.3.1' | 'v2.4.0') {
  const roundTax =
    version === 'v2.3.1' ? round2 : (amount: number) => Math.ceil(amount * 100) / 100;
  return async (order: {
    items: { sku: string; qty: number }[];
    state: string;
    promoCode?: string | undefined;
  }) => {
    const subtotal = await sourcedFrom(
      'product_catalog_api',
      async () => order.items.reduce((sum, item) => sum + (CATALOG[item.sku] ?? 0) * item.qty, 0),
      { attributes: { skus: order.items.map((item) => item.sku) } },
    );
    const taxRate = await sourcedFrom('tax_service', async () => TAX_RATES[order.state] ?? 0, {
      attributes: { jurisdiction: order.state },
    });
    const shipping = await sourcedFrom('shipping_calculator', async () => 12.5, {
      attributes: { method: 'ground' },
    });
    const promotion = sourced(PROMOTIONS[order.promoCode ?? ''] ?? null, {
      source: 'promotions_db',
      attributes: { code: order.promoCode ?? null },
    });
    const discount = derive('order-discount', 'v1.0.0', { subtotal, promotion }, (v) =>
      v.promotion ? round2((v.subtotal * v.promotion.percentOff) / 100) : 0,
    );
    const tax = derive('order-tax', version, { subtotal, discount, taxRate }, (v) =>
      roundTax((v.subtotal - v.discount) * v.taxRate),
    );
    const total = derive('order-total', version, { subtotal, discount, tax, shipping }, (v) =>
      round2(v.subtotal - v.discount + v.tax + v.shipping),
    );
    return { subtotal, discount, tax, shipping, total };
  };
}

const Order = z.object({
  id: z.string(),
  items: z.array(z.object({ sku: z.string(), qty: z.number().int().positive() })).min(1),
  state: z.string().length(2),
  promoCode: z.string().optional(),
  card: z.string().regex(/^\d{16}$/),
});

type PricedFields = Awaited<ReturnType<ReturnType<typeof pricing>>>;

async function placeOrder(
  lineage: ReturnType<typeof createLineage>,
  request: unknown,
  version: 'v2.3.1' | 'v2.4.0',
) {
  const price = pricing(version);
  let priced: PricedFields | undefined;
  const createOrder = pipeline('create-order', { onStage: lineage.onStage })
    .validate('parse request', Order, { boundary: 'client' })
    .enrich(
      'price',
      async (order) => {
        priced = await price(order);
        return {
          ...order,
          subtotal: priced.subtotal.value,
          discount: priced.discount.value,
          tax: priced.tax.value,
          shipping: priced.shipping.value,
          total: priced.total.value,
        };
      },
      { adds: ['subtotal', 'discount', 'tax', 'shipping', 'total'] },
    )
    .transform(
      'mask card',
      (order) => ({ ...order, card: `************${order.card.slice(-4)}` }),
      {
        masks: ['card'],
      },
    )
    .build();
  return runWithContext({ correlationId: `req-${version}` }, async () => {
    const result = await createOrder.run(request);
    if (!result.ok || priced === undefined) throw new Error('the order did not price');
    const fields: Record<string, Traced<unknown>> = { ...priced };
    fields.card = sourced(result.value.card, { source: 'checkout_form', masked: true });
    await lineage.record(`order:${result.value.id}`, fields);
    return result.value;
  });
}

const REQUEST = {
  id: 'ORD-12345',
  items: [
    { sku: 'KETTLE-1', qty: 1 },
    { sku: 'MUG-2', qty: 2 },
  ],
  state: 'NY',
  promoCode: 'SAVE10',
  card: '4242424242424242',
};

function describeOrderTotal(
  name: string,
  open: () => Promise<{ store: LineageStore; dispose(): Promise<void> }>,
) {
  describe(`the order total explained (${name})`, () => {
    let world: { store: LineageStore; dispose(): Promise<void> };
    let lineage: ReturnType<typeof createLineage>;
    beforeAll(async () => {
      world = await open();
      lineage = createLineage({ store: world.store });
    });
    afterAll(async () => {
      await lineage?.close();
      await world?.dispose();
    });

    it('explains the total back to each source, with the calculation versions', async () => {
      const order = await placeOrder(lineage, REQUEST, 'v2.3.1');
      // 125 − 12.50 discount = 112.50; tax 9.84 (8.75 % in NY); shipping 12.50.
      expect(order).toMatchObject({
        subtotal: 125,
        discount: 12.5,
        tax: 9.84,
        shipping: 12.5,
        total: 134.84,
      });

      const total = await lineage.explain('order:ORD-12345', 'total');
      expect(total?.value).toBe(134.84);
      expect(total?.correlationId).toBe('req-v2.3.1');
      const root = total?.provenance as DerivedProvenance;
      expect(root).toMatchObject({
        kind: 'derived',
        calculation: 'order-total',
        version: 'v2.3.1',
      });
      expect(Object.keys(root.inputs)).toEqual(['subtotal', 'discount', 'tax', 'shipping']);
      expect(root.inputs.subtotal).toMatchObject({
        kind: 'sourced',
        value: 125,
        source: 'product_catalog_api',
        attributes: { skus: ['KETTLE-1', 'MUG-2'] },
      });
      expect(root.inputs.shipping).toMatchObject({
        source: 'shipping_calculator',
        attributes: { method: 'ground' },
      });
      const tax = root.inputs.tax as DerivedProvenance;
      expect(tax).toMatchObject({ calculation: 'order-tax', version: 'v2.3.1', value: 9.84 });
      expect(tax.inputs.taxRate).toMatchObject({
        value: 0.0875,
        source: 'tax_service',
        attributes: { jurisdiction: 'NY' },
      });
      const discount = root.inputs.discount as DerivedProvenance;
      expect(discount).toMatchObject({
        calculation: 'order-discount',
        version: 'v1.0.0',
        value: 12.5,
      });
      expect(discount.inputs.promotion).toMatchObject({
        source: 'promotions_db',
        value: { percentOff: 10 },
        attributes: { code: 'SAVE10' },
      });
      for (const node of [
        root.inputs.subtotal,
        tax.inputs.taxRate,
        root.inputs.shipping,
      ] as SourcedProvenance[]) {
        expect(Date.parse(node.fetchedAt)).toBeLessThanOrEqual(Date.parse(root.calculatedAt));
      }
      // The stage that added the field, in the same flow.
      expect(total?.steps).toEqual([
        expect.objectContaining({
          pipeline: 'create-order',
          stage: 'price',
          kind: 'enrich',
          action: 'added',
        }),
      ]);
    });

    it('explains every priced field on its own, and marks the masked card as masked', async () => {
      for (const [field, value, head] of [
        ['subtotal', 125, { kind: 'sourced', source: 'product_catalog_api' }],
        ['discount', 12.5, { kind: 'derived', calculation: 'order-discount' }],
        ['tax', 9.84, { kind: 'derived', calculation: 'order-tax', version: 'v2.3.1' }],
        ['shipping', 12.5, { kind: 'sourced', source: 'shipping_calculator' }],
      ] as const) {
        const explained = await lineage.explain('order:ORD-12345', field);
        expect(explained?.value, field).toBe(value);
        expect(explained?.provenance, field).toMatchObject(head);
      }
      const card = await lineage.explain('order:ORD-12345', 'card');
      expect(card?.provenance).toMatchObject({ masked: true, value: '************4242' });
      expect(card?.steps.map((step) => [step.stage, step.action])).toEqual([
        ['parse request', 'validated'],
        ['mask card', 'masked'],
      ]);
      expect(card?.toMarkdown()).toContain('masked');
    });

    it('renders the explanation as Markdown, Mermaid and lineage metadata', async () => {
      const total = await lineage.explain('order:ORD-12345', 'total');
      const markdown = total?.toMarkdown() ?? '';
      expect(markdown).toContain('order-total v2.3.1');
      expect(markdown).toMatch(
        /- \*\*taxRate = 0\.0875\*\* — from tax_service, jurisdiction: NY, fetched /,
      );
      const mermaid = total?.toMermaid() ?? '';
      expect(mermaid.split('\n')[0]).toBe('flowchart RL');
      expect(mermaid).toContain('-->|"taxRate"|');
      expect(mermaid.match(/-->\|/g)).toHaveLength(11); // the total's 4 inputs, its tax's 3, each discount's 2
      const metadata = total?.toLineageMetadata();
      expect(metadata).toMatchObject({
        calculation: 'order-total',
        calculation_version: 'v2.3.1',
        calculated_at: root(total).calculatedAt,
        inputs: {
          subtotal: { value: 125, source: 'product_catalog_api', fetched_at: expect.any(String) },
          shipping: { value: 12.5, source: 'shipping_calculator', method: 'ground' },
          tax: {
            value: 9.84,
            calculation_version: 'v2.3.1',
            inputs: { taxRate: { jurisdiction: 'NY' } },
          },
        },
      });
      expect(metadata).not.toHaveProperty('value');
    });

    it('shows a change of pricing version, and keeps the old explanation at its time', async () => {
      const before = await lineage.explain('order:ORD-12345', 'tax');
      await new Promise((resolve) => setTimeout(resolve, 5));
      const order = await placeOrder(lineage, REQUEST, 'v2.4.0');
      expect(order.tax).toBe(9.85); // 112.5 × 0.0875 = 9.84375, rounded up
      const after = await lineage.explain('order:ORD-12345', 'tax');
      expect(after?.provenance).toMatchObject({
        calculation: 'order-tax',
        version: 'v2.4.0',
        value: 9.85,
      });
      expect(after?.correlationId).toBe('req-v2.4.0');
      const then = await lineage.explain('order:ORD-12345', 'tax', {
        at: before?.recordedAt ?? '',
      });
      expect(then?.provenance).toMatchObject({ version: 'v2.3.1', value: 9.84 });
      const history = await lineage.history('order:ORD-12345', 'total');
      expect(
        history.records.map((record) => (record.provenance as DerivedProvenance).version),
      ).toEqual(['v2.4.0', 'v2.3.1']);
    });
  });
}

function root(explained: { provenance: unknown } | undefined): DerivedProvenance {
  return explained?.provenance as DerivedProvenance;
}

describeOrderTotal('memory', async () => {
  const store = createMemoryLineageStore({ backend: createMemoryBackend() });
  await store.migrate();
  return { store, dispose: () => store.close() };
});

const url = postgresUrl();
(url ? describe : describe.skip)('on PostgreSQL', () => {
  describeOrderTotal('postgres', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    const schema = `lineage_order_${process.pid}_${Date.now().toString(36)}`;
    const backend = createPostgresBackend({ client: pool, schema });
    const store = createPostgresLineageStore({ backend });
    await store.migrate();
    return {
      store,
      async dispose() {
        await backend.execute(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await store.close();
        await pool.end();
      },
    };
  });
});
