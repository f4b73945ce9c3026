/**
 * What docs/idempotency.md's snippets assume the application has: a `pg` pool on the test
 * PostgreSQL server (with an `orders` table), an order type and the code that processes one, a
 * client's key, and a queue message with its billing service.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { postgresUrl } from '../../support/services.js';

const url = postgresUrl();
if (!url)
  throw new Error('docs/idempotency.md runs against PostgreSQL: no test server is available');

// The guide's tables live in a schema of their own, away from other tests' tables.
const setup = new pg.Client({ connectionString: url });
await setup.connect();
try {
  await setup.query('CREATE SCHEMA IF NOT EXISTS docs_idempotency');
  await setup.query(
    'CREATE TABLE IF NOT EXISTS docs_idempotency.orders (id serial PRIMARY KEY, customer text NOT NULL, total integer NOT NULL)',
  );
} finally {
  await setup.end();
}

/** The application's connection pool. */
export const pool = new pg.Pool({
  connectionString: url,
  options: '-c search_path=docs_idempotency',
  allowExitOnIdle: true,
});

/** An order as the client sends it. */
export interface OrderInput {
  readonly customer: string;
  readonly total: number;
}

/** The request body. */
export const orderData: OrderInput = { customer: 'c-7', total: 1999 };

/** The client's `Idempotency-Key`: a new one per run, as a client makes one per operation. */
export const idempotencyKey = `order-${randomUUID()}`;

/** The application's own order processing (a charge, an email… in real life). */
export async function processOrder(order: OrderInput): Promise<{ orderId: string; total: number }> {
  return { orderId: 'o-1', total: order.total };
}

/** A message from the queue. */
export const message = { id: `msg-${randomUUID()}`, body: { orderId: 'o-1', total: 1999 } };

/** The billing service the consumer calls. */
export const billing = {
  async open(order: { orderId: string; total: number }): Promise<{ invoiceId: string }> {
    return { invoiceId: `inv-${order.orderId}` };
  },
};

/** The seat being booked under a lock. */
export const seatId = 'A12';
