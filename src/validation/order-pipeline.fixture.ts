/**
 * Test fixture: the reference's order-creation chain (data-flow-mapping §1) as a pipeline. Shared
 * by the tests of this module; not part of the public surface.
 */
import { z } from 'zod';
import { FlowproofError } from '../core/errors.js';
import {
  money,
  nonEmptyArray,
  type PipelineOptions,
  pipeline,
  positiveQuantity,
  utcDateTime,
} from './index.js';

export const Shipping = z.object({
  name: z.string().min(1).max(100),
  line1: z.string().min(1).max(200),
  city: z.string().min(1).max(100),
  postalCode: z.string().min(2).max(16),
  country: z.string().regex(/^[A-Za-z]{2}$/),
});

export const CreateOrderRequest = z.object({
  userId: z.string().min(1).max(64),
  items: nonEmptyArray(
    z.object({
      sku: z.string().regex(/^[A-Za-z0-9-]{3,32}$/),
      qty: positiveQuantity({ max: 1000 }),
    }),
    { max: 100 },
  ),
  shipping: Shipping,
  promoCode: z.string().max(32).optional(),
  requestedAt: utcDateTime(),
});

export const catalog = new Map([
  ['SKU-001', { name: 'Kettle', unitPrice: { amount: 2_999, currency: 'EUR' } }],
  ['SKU-002', { name: 'Teapot', unitPrice: { amount: 1_850, currency: 'EUR' } }],
  ['SKU-003', { name: 'Mug', unitPrice: { amount: 650, currency: 'EUR' } }],
]);

const PricedOrder = z.object({
  userId: z.string().min(1).max(64),
  items: nonEmptyArray(
    z.object({
      sku: z.string(),
      qty: positiveQuantity({ max: 1000 }),
      name: z.string().min(1),
      unitPrice: money({ currencies: ['EUR'] }),
    }),
  ),
  shipping: Shipping,
  promoCode: z.string().max(32).optional(),
  requestedAt: z.iso.datetime(),
});

export const CheckedOrder = PricedOrder.transform((order) => {
  const subtotal = order.items.reduce((sum, item) => sum + item.qty * item.unitPrice.amount, 0);
  const discount = order.promoCode === 'SAVE10' ? Math.round(subtotal / 10) : 0;
  return { ...order, totals: { subtotal, discount, total: subtotal - discount, currency: 'EUR' } };
});

export const validRequest = {
  userId: 'user_42',
  items: [
    { sku: 'sku-001', qty: 1 },
    { sku: 'sku-003', qty: 4 },
  ],
  shipping: {
    name: 'Ada Lovelace',
    line1: '12 St James Square',
    city: 'London',
    postalCode: 'SW1Y 4JH',
    country: 'gb',
  },
  promoCode: ' save10 ',
  requestedAt: '2026-03-01T10:30:00+01:00',
};

/** The order-creation chain: gateway validation, normalisation, enrichment, final check. */
export function orderPipeline(options: PipelineOptions = {}) {
  return pipeline('create-order', options)
    .validate('parse request', CreateOrderRequest, { boundary: 'gateway' })
    .transform(
      'normalize',
      (request) => ({
        ...request,
        items: request.items.map((item) => ({ ...item, sku: item.sku.toUpperCase() })),
        shipping: { ...request.shipping, country: request.shipping.country.toUpperCase() },
        ...(request.promoCode === undefined
          ? {}
          : { promoCode: request.promoCode.trim().toUpperCase() }),
      }),
      { boundary: 'service', description: 'Upper-cases SKUs, country and promo code.' },
    )
    .enrich(
      'add product details',
      (request) => ({
        ...request,
        items: request.items.map((item, index) => {
          const product = catalog.get(item.sku);
          if (!product) {
            throw new FlowproofError('VALIDATION_FAILED', `Unknown SKU ${item.sku}`, {
              details: {
                issues: [
                  { path: ['items', index, 'sku'], code: 'unknown_sku', message: 'Unknown SKU' },
                ],
              },
            });
          }
          return { ...item, ...product };
        }),
      }),
      { description: 'Looks up name and unit price of every SKU in the catalog.' },
    )
    .validate('compute totals', CheckedOrder, { boundary: 'database', adds: ['totals'] })
    .build();
}
