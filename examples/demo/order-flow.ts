/**
 * The order flow of the demo: the reference's order-creation chain as a validation pipeline, and
 * the order lifecycle as a state machine. Plain definitions, no I/O.
 */
import { z } from 'zod';
import { FlowproofError } from '../../src/index.js';
import { defineMachine } from '../../src/state-machine/index.js';
import {
  money,
  nonEmptyArray,
  pipeline,
  positiveQuantity,
  utcDateTime,
} from '../../src/validation/index.js';

const Address = z.object({
  name: z.string().min(1).max(100),
  line1: z.string().min(1).max(200),
  city: z.string().min(1).max(100),
  country: z.string().regex(/^[A-Za-z]{2}$/),
});

/** What a client sends to `POST /orders`. */
export const CreateOrderRequest = z.object({
  userId: z.string().min(1).max(64),
  items: nonEmptyArray(
    z.object({
      sku: z.string().regex(/^[A-Za-z0-9-]{3,32}$/),
      qty: positiveQuantity({ max: 100 }),
    }),
  ),
  shipping: Address,
  requestedAt: utcDateTime(),
});

const catalog = new Map([
  ['SKU-001', { name: 'Kettle', unitPrice: { amount: 2_999, currency: 'EUR' } }],
  ['SKU-003', { name: 'Mug', unitPrice: { amount: 650, currency: 'EUR' } }],
]);

const PricedOrder = z
  .object({
    userId: z.string(),
    items: nonEmptyArray(
      z.object({
        sku: z.string(),
        qty: positiveQuantity(),
        name: z.string(),
        unitPrice: money({ currencies: ['EUR'] }),
      }),
    ),
    shipping: Address,
    requestedAt: z.iso.datetime(),
  })
  .transform((order) => ({
    ...order,
    total: {
      amount: order.items.reduce((sum, item) => sum + item.qty * item.unitPrice.amount, 0),
      currency: 'EUR',
    },
  }));

/** Gateway validation, normalisation, enrichment from the catalog, totals checked before storage. */
export const createOrderPipeline = pipeline('create-order')
  .validate('parse request', CreateOrderRequest, { boundary: 'gateway' })
  .transform(
    'normalize',
    (request) => ({
      ...request,
      items: request.items.map((item) => ({ ...item, sku: item.sku.toUpperCase() })),
      shipping: { ...request.shipping, country: request.shipping.country.toUpperCase() },
    }),
    { boundary: 'service' },
  )
  .enrich('add product details', (request) => ({
    ...request,
    items: request.items.map((item) => {
      const product = catalog.get(item.sku);
      if (!product) {
        throw new FlowproofError('VALIDATION_FAILED', `Unknown SKU ${item.sku}`);
      }
      return { ...item, ...product };
    }),
  }))
  .validate('compute totals', PricedOrder, { boundary: 'database', adds: ['total'] })
  .build();

/** The order lifecycle (reference §9), with a payment deadline. */
export const orderMachine = defineMachine({
  id: 'order',
  initial: 'created',
  data: z.object({ total: z.number().int().positive(), transactionId: z.string().optional() }),
  effects: ['sendConfirmationEmail', 'releaseStock'],
  events: {
    payment_succeeded: z.object({ transactionId: z.string() }),
    payment_failed: null,
    payment_timeout: null,
    items_picked: null,
    label_created: null,
    delivered: null,
    user_cancelled: null,
  },
  states: {
    created: {
      on: {
        payment_succeeded: {
          target: 'paid',
          assign: (data, event) => ({ ...data, transactionId: event.payload.transactionId }),
        },
        payment_failed: 'cancelled',
        payment_timeout: 'cancelled',
      },
      after: { delayMs: 30 * 60_000, event: 'payment_timeout' },
    },
    paid: { on: { items_picked: 'preparing' }, entry: ['sendConfirmationEmail'] },
    preparing: { on: { label_created: 'shipped' } },
    shipped: { on: { delivered: 'completed' } },
    completed: { terminal: true },
    cancelled: { terminal: true, entry: ['releaseStock'] },
  },
  anyState: { user_cancelled: 'cancelled' },
});
