/**
 * What docs/lineage.md's snippets assume the application has: a `pg` pool on the test PostgreSQL
 * server (in a schema of its own, with an `orders` table), the order being priced and the
 * services it asks (product catalog, tax service, shipping calculator, promotions), and an order
 * request for the pipeline.
 */
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { z } from 'zod';
import { postgresUrl } from '../../support/services.js';

const schema = 'docs_lineage';
const connectionString = postgresUrl();
if (!connectionString) throw new Error('docs/lineage.md runs on the test PostgreSQL server');

/** The application's pool; its connections use the guide's schema. */
export const pool = new pg.Pool({
  connectionString,
  options: `-c search_path=${schema}`,
  allowExitOnIdle: true,
});
await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
await pool.query(`CREATE SCHEMA ${schema}`);
await pool.query(`CREATE TABLE orders (id text PRIMARY KEY, total numeric NOT NULL)`);
await pool.query(`INSERT INTO orders (id, total) VALUES ('ORD-12345', 0)`);

/** An order as the order service holds it. */
export interface Order {
  readonly id: string;
  readonly items: readonly { readonly sku: string; readonly qty: number }[];
  readonly state: string;
  readonly promoCode: string;
}

/** The order whose total is disputed. */
export const order: Order = {
  id: 'ORD-12345',
  items: [
    { sku: 'KETTLE-1', qty: 1 },
    { sku: 'MUG-2', qty: 2 },
  ],
  state: 'NY',
  promoCode: 'SAVE10',
};

const prices: Record<string, number> = { 'KETTLE-1': 100, 'MUG-2': 12.5 };

/** The product catalog's client. */
export const catalog = {
  async subtotal(items: Order['items']): Promise<number> {
    return items.reduce((sum, item) => sum + (prices[item.sku] ?? 0) * item.qty, 0);
  },
};

/** The tax service's client. */
export const taxes = {
  async rateFor(state: string): Promise<number> {
    return state === 'NY' ? 0.0875 : 0.06;
  },
};

/** The shipping calculator. */
export async function shippingCost(_order: Order): Promise<number> {
  return 12.5;
}

/** The promotions table: code → terms. */
export const promotions = {
  get(code: string): { percentOff: number } {
    return code === 'SAVE10' ? { percentOff: 10 } : { percentOff: 0 };
  },
};

/** What the checkout form sends. */
export const OrderRequest = z.object({
  id: z.string(),
  items: z.array(z.object({ sku: z.string(), qty: z.number().int().positive() })).min(1),
  card: z.string().regex(/^\d{16}$/),
});

/** A request as it arrives. */
export const request: unknown = {
  id: 'ORD-12345',
  items: [{ sku: 'KETTLE-1', qty: 1 }],
  card: '4242424242424242',
};

/** The pricing the pipeline's enrich stage calls. */
export async function pricesFor(
  input: z.infer<typeof OrderRequest>,
): Promise<{ subtotal: number; total: number }> {
  const subtotal = await catalog.subtotal(input.items);
  return { subtotal, total: subtotal + 12.5 };
}

/** The database's URL, for pools of the guide's own. */
export const databaseUrl: string = connectionString;

let lastBillingCall: Record<string, string | undefined> = {};
const billing = createServer((req, res) => {
  lastBillingCall = {
    correlationId: req.headers['x-correlation-id'] as string | undefined,
    traceparent: req.headers.traceparent as string | undefined,
    baggage: req.headers.baggage as string | undefined,
  };
  res.statusCode = 201;
  res.end();
});
await new Promise<void>((resolve) => billing.listen(0, '127.0.0.1', resolve));
billing.unref();

/** The billing service the order service calls. */
export const billingUrl = `http://127.0.0.1:${(billing.address() as AddressInfo).port}`;

/** What the billing service received with the last call. */
export function billingSaw(): Record<string, string | undefined> {
  return lastBillingCall;
}

/** A directory the application may write (the OpenLineage file). */
export const lineageDir = mkdtempSync(join(tmpdir(), 'flowproof-docs-lineage-'));
