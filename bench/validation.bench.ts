/**
 * Validation pipelines against the same work written by hand.
 *
 * The hand chain is what the reference's order-creation flow looks like without a pipeline: a
 * `safeParse` of the whole object after every step, because nothing says what was checked before.
 * The pipeline validates each piece of data once, at the boundary it crosses (the request at the
 * gateway, the catalog's prices and the computed totals before the database), and passes typed
 * data between the stages. Also measured: that plan written by hand (the ceiling), the pipeline
 * re-parsing the whole order at the end, and every stage validating; then the pipeline's own cost
 * with identity stages. Every suite warms all its tasks up first: the machine's noise is the
 * main error, so compare ratios within one run.
 */
import { deepStrictEqual } from 'node:assert';
import { z } from 'zod';
import { configureOpenTelemetry } from '../src/core/opentelemetry.js';
import {
  money,
  nonEmptyArray,
  pipeline,
  positiveQuantity,
  utcDateTime,
} from '../src/validation/index.js';
import { defineSuite } from './harness.js';

// --- The reference order-creation chain -----------------------------------------------------

const Shipping = z.object({
  name: z.string().min(1).max(100),
  line1: z.string().min(1).max(200),
  city: z.string().min(1).max(100),
  postalCode: z.string().min(2).max(16),
  country: z.string().regex(/^[A-Za-z]{2}$/),
});

const Request = z.object({
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

/** What the hand chain re-parses after normalising. */
const NormalizedRequest = z.object({
  userId: z.string().min(1).max(64),
  items: nonEmptyArray(
    z.object({ sku: z.string().regex(/^[A-Z0-9-]{3,32}$/), qty: positiveQuantity({ max: 1000 }) }),
    { max: 100 },
  ),
  shipping: Shipping.extend({ country: z.string().regex(/^[A-Z]{2}$/) }),
  promoCode: z.string().max(32).optional(),
  requestedAt: z.iso.datetime(),
});

const PricedOrder = NormalizedRequest.extend({
  items: nonEmptyArray(
    z.object({
      sku: z.string().regex(/^[A-Z0-9-]{3,32}$/),
      qty: positiveQuantity({ max: 1000 }),
      name: z.string().min(1).max(200),
      unitPrice: money({ currencies: ['EUR'] }),
    }),
    { max: 100 },
  ),
});

const Totals = z.object({
  subtotal: z.int().nonnegative(),
  discount: z.int().nonnegative(),
  total: z.int().nonnegative(),
  currency: z.literal('EUR'),
});
const Order = PricedOrder.extend({ totals: Totals });

type NormalizedRequestT = z.output<typeof NormalizedRequest>;
type PricedOrderT = z.output<typeof PricedOrder>;

const catalog = new Map([
  ['SKU-001', { name: 'Kettle', unitPrice: { amount: 2_999, currency: 'EUR' } }],
  ['SKU-002', { name: 'Teapot', unitPrice: { amount: 1_850, currency: 'EUR' } }],
  ['SKU-003', { name: 'Mug', unitPrice: { amount: 650, currency: 'EUR' } }],
]);

function normalize(request: z.output<typeof Request>): NormalizedRequestT {
  return {
    ...request,
    items: request.items.map((item) => ({ ...item, sku: item.sku.toUpperCase() })) as never,
    shipping: { ...request.shipping, country: request.shipping.country.toUpperCase() },
    ...(request.promoCode === undefined
      ? {}
      : { promoCode: request.promoCode.trim().toUpperCase() }),
  };
}

/** Sync in-memory catalog lookup: the benchmark measures overhead, not I/O. */
function enrich(request: NormalizedRequestT): PricedOrderT {
  return {
    ...request,
    items: request.items.map((item) => {
      const product = catalog.get(item.sku);
      if (!product) throw new Error(`Unknown SKU ${item.sku}`);
      return { ...item, ...product };
    }) as never,
  };
}

interface PricedLines {
  readonly items: readonly {
    readonly qty: number;
    readonly unitPrice: { readonly amount: number };
  }[];
  readonly promoCode?: string | undefined;
}

function totalsOf(order: PricedLines) {
  const subtotal = order.items.reduce((sum, item) => sum + item.qty * item.unitPrice.amount, 0);
  const discount = order.promoCode === 'SAVE10' ? Math.round(subtotal / 10) : 0;
  return { subtotal, discount, total: subtotal - discount, currency: 'EUR' as const };
}

function computeTotals(order: PricedOrderT) {
  return { ...order, totals: totalsOf(order) };
}

const body = {
  userId: 'user_42',
  items: [
    { sku: 'sku-001', qty: 1 },
    { sku: 'sku-002', qty: 2 },
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

/** By hand: parse, step, re-parse the whole object, step, re-parse… */
function handChain(input: unknown) {
  const request = Request.safeParse(input);
  if (!request.success) throw request.error;
  const normalized = NormalizedRequest.safeParse(normalize(request.data));
  if (!normalized.success) throw normalized.error;
  const priced = PricedOrder.safeParse(enrich(normalized.data));
  if (!priced.success) throw priced.error;
  const order = Order.safeParse(computeTotals(priced.data));
  if (!order.success) throw order.error;
  return order.data;
}

/**
 * Validates each piece of data once, where it crosses a trust boundary: the whole request at the
 * gateway; at the database boundary, what the catalog added to each line (name, price) and the
 * totals computed from it, written `into: 'totals'`. The request fields, already validated and
 * then normalised by typed code, pass through without a re-parse.
 */
const CatalogLines = z.object({
  items: nonEmptyArray(
    z.object({
      qty: z.int(),
      name: z.string().min(1).max(200),
      unitPrice: money({ currencies: ['EUR'] }),
    }),
    { max: 100 },
  ),
  promoCode: z.string().optional(),
});
const Checked = CatalogLines.transform(totalsOf).pipe(Totals);

const atBoundaries = pipeline('create-order')
  .validate('parse request', Request, { boundary: 'gateway' })
  .transform('normalize', normalize, { boundary: 'service' })
  .enrich('add product details', enrich)
  .validate('compute totals', Checked, { boundary: 'database', into: 'totals' })
  .build();

/** The pipeline's validation plan written by hand: the ceiling for any pipeline. */
function handAtBoundaries(input: unknown) {
  const request = Request.safeParse(input);
  if (!request.success) throw request.error;
  const priced = enrich(normalize(request.data));
  const totals = Checked.safeParse(priced);
  if (!totals.success) throw totals.error;
  return { ...priced, totals: totals.data };
}

/** As above, but the last stage re-parses the whole priced order. */
const atBoundariesFullReparse = pipeline('create-order, full re-parse at the end')
  .validate('parse request', Request, { boundary: 'gateway' })
  .transform('normalize', normalize, { boundary: 'service' })
  .enrich('add product details', enrich)
  .validate('compute totals', PricedOrder.transform(computeTotals), {
    boundary: 'database',
    adds: ['totals'],
  })
  .build();

/** The hand chain's four parses, as pipeline stages. */
const everyStage = pipeline('create-order, every stage validates')
  .validate('parse request', Request, { boundary: 'gateway' })
  .transform('normalize', normalize, { boundary: 'service' })
  .validate('check normalized', NormalizedRequest)
  .enrich('add product details', enrich)
  .validate('check priced', PricedOrder)
  .transform('compute totals', computeTotals, { adds: ['totals'] })
  .validate('check order', Order, { boundary: 'database' })
  .build();

// --- Overhead alone -------------------------------------------------------------------------

const identity = <T>(value: T): T => value;
const fourIdentities = pipeline<{ id: number; name: string }>('identity')
  .transform('a', identity)
  .transform('b', identity)
  .transform('c', identity)
  .transform('d', identity)
  .build();
const copy = <T extends object>(value: T): T => ({ ...value });
const fourCopies = pipeline<{ id: number; name: string; tags: string[] }>('copy')
  .transform('a', copy)
  .transform('b', copy)
  .transform('c', copy)
  .transform('d', copy)
  .build();
const small = { id: 1, name: 'x' };
const row = { id: 1, name: 'x', tags: ['a'] };

function check(result: { ok: boolean }): void {
  if (!result.ok) throw new Error('pipeline failed');
}

/** Runs every task a few thousand times first, so no task is measured while still cold. */
async function warmUp(tasks: readonly { fn: () => unknown }[]): Promise<void> {
  for (let i = 0; i < 3_000; i++) for (const task of tasks) await task.fn();
}

const orderTasks = [
  { name: 'hand chain: safeParse after every step', fn: () => handChain(body) },
  {
    name: 'pipeline, validating at boundaries: runSync',
    fn: () => check(atBoundaries.runSync(body)),
  },
  {
    name: 'pipeline, validating at boundaries: await run',
    fn: async () => check(await atBoundaries.run(body)),
  },
  {
    name: 'by hand, validating at the same boundaries (no pipeline)',
    fn: () => handAtBoundaries(body),
  },
  {
    name: 'pipeline, boundaries, last stage re-parses the whole order: runSync',
    fn: () => check(atBoundariesFullReparse.runSync(body)),
  },
  {
    name: 'pipeline, every stage validates: runSync',
    fn: () => check(everyStage.runSync(body)),
  },
  {
    name: 'pipeline, every stage validates: await run',
    fn: async () => check(await everyStage.run(body)),
  },
];

const noopSpanTasks = [
  { name: 'hand chain: safeParse after every step', fn: () => handChain(body) },
  {
    name: 'pipeline, validating at boundaries: runSync',
    fn: () => check(atBoundaries.runSync(body)),
  },
  {
    name: 'pipeline, every stage validates: runSync',
    fn: () => check(everyStage.runSync(body)),
  },
];

const overheadTasks = [
  {
    name: '4 identity functions called directly',
    fn: () => identity(identity(identity(identity(small)))),
  },
  {
    name: 'pipeline of 4 identity transforms: runSync',
    fn: () => check(fourIdentities.runSync(small)),
  },
  {
    name: 'pipeline of 4 identity transforms: await run',
    fn: async () => check(await fourIdentities.run(small)),
  },
  { name: '4 copying functions called directly', fn: () => copy(copy(copy(copy(row)))) },
  {
    name: 'pipeline of 4 copying transforms (field-loss checked): runSync',
    fn: () => check(fourCopies.runSync(row)),
  },
];

export default [
  defineSuite({
    name: 'validation: order pipeline, 4 stages (OpenTelemetry absent)',
    unit: 'orders',
    baseline: 'hand chain: safeParse after every step',
    time: 2000,
    setup: async () => {
      configureOpenTelemetry(null);
      const expected = handChain(body);
      deepStrictEqual(handAtBoundaries(body), expected);
      for (const built of [atBoundaries, atBoundariesFullReparse, everyStage]) {
        deepStrictEqual(built.runSync(body), {
          ok: true,
          status: 'valid',
          value: expected,
          flags: [],
        });
      }
      await warmUp(orderTasks);
    },
    teardown: () => configureOpenTelemetry(undefined),
    tasks: orderTasks,
  }),
  defineSuite({
    name: 'validation: order pipeline, @opentelemetry/api installed without an SDK (no-op spans)',
    unit: 'orders',
    baseline: 'hand chain: safeParse after every step',
    time: 2000,
    setup: async () => {
      configureOpenTelemetry(undefined);
      await warmUp(noopSpanTasks);
    },
    tasks: noopSpanTasks,
  }),
  defineSuite({
    name: 'validation: pipeline overhead, 4 stages (OpenTelemetry absent)',
    unit: 'runs',
    baseline: '4 identity functions called directly',
    setup: async () => {
      configureOpenTelemetry(null);
      await warmUp(overheadTasks);
    },
    teardown: () => configureOpenTelemetry(undefined),
    tasks: overheadTasks,
  }),
];
