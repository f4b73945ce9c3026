/**
 * What docs/saga.md's snippets assume the application has: a `pg` pool on the test PostgreSQL
 * server (in a schema of its own, with an `orders` table), a logger, and the services an order
 * saga calls: payments, inventory, shipping and a courier. The services are fakes
 * that behave as the real ones do where the guide relies on it: each applies an effect once per
 * idempotency key and answers a repeat with the first result.
 */
import { type Logger, silentLogger } from '../../../src/core/logger.js';
import { guideDatabase } from '../../support/guide-database.js';

const database = await guideDatabase('docs/saga.md', 'docs_saga');

/** The application's pool; its connections use the guide's schema. */
export const pool = database.pool;
await pool.query(
  `CREATE TABLE orders (
     id text PRIMARY KEY,
     customer_id text NOT NULL,
     sku text NOT NULL,
     quantity integer NOT NULL,
     amount integer NOT NULL,
     status text NOT NULL
   )`,
);

/** The application's (pino-compatible) logger. */
export const logger: Logger = silentLogger;

/** An order as the shop's API receives it. */
export interface OrderRequest {
  readonly customerId: string;
  readonly sku: string;
  readonly quantity: number;
  readonly amount: number;
  readonly address: string;
}

/** A request that goes through. */
export const orderRequest: OrderRequest = {
  customerId: 'c-7',
  sku: 'book-42',
  quantity: 1,
  amount: 1999,
  address: '1 Main St, Springfield',
};

/** Remembers the first answer per key, as a service honouring `Idempotency-Key` does. */
class Once<T> {
  readonly #answers = new Map<string, T>();
  apply(key: string, effect: () => T): T {
    if (!this.#answers.has(key)) this.#answers.set(key, effect());
    return this.#answers.get(key)!;
  }
  find(key: string): T | undefined {
    return this.#answers.get(key);
  }
}

let sequence = 0;
const nextId = (prefix: string) => `${prefix}_${(++sequence).toString().padStart(4, '0')}`;

/** A payment the provider refused; retrying will not change its mind. */
export class CardDeclinedError extends Error {
  override readonly name = 'CardDeclinedError';
}

/** The payment provider's client. */
export const payments = {
  refunds: new Map<string, string>(),
  async charge(request: {
    readonly amount: number;
    readonly customerId: string;
    readonly idempotencyKey: string;
  }): Promise<{ chargeId: string; amount: number }> {
    if (request.amount > 100_000) throw new CardDeclinedError('card_declined: insufficient funds');
    return charges.apply(request.idempotencyKey, () => ({
      chargeId: nextId('ch'),
      amount: request.amount,
    }));
  },
  /** The charge made with this idempotency key, if the provider has one. */
  async findCharge(idempotencyKey: string): Promise<{ chargeId: string } | undefined> {
    return charges.find(idempotencyKey);
  },
  async refund(chargeId: string, options: { readonly idempotencyKey: string }): Promise<void> {
    if (!payments.refunds.has(options.idempotencyKey)) {
      payments.refunds.set(options.idempotencyKey, chargeId);
    }
  },
};
const charges = new Once<{ chargeId: string; amount: number }>();

/** The SKU is sold out. */
export class OutOfStockError extends Error {
  override readonly name = 'OutOfStockError';
}

/** The warehouse's inventory service. */
export const inventory = {
  released: new Set<string>(),
  async reserve(request: {
    readonly sku: string;
    readonly quantity: number;
    readonly idempotencyKey: string;
  }): Promise<{ reservationId: string }> {
    if (request.sku.startsWith('sold-out')) throw new OutOfStockError(`${request.sku} is sold out`);
    return reservations.apply(request.idempotencyKey, () => ({ reservationId: nextId('res') }));
  },
  /** Releases the reservation made with this idempotency key, if there is one. */
  async release(idempotencyKey: string): Promise<void> {
    const reservation = reservations.find(idempotencyKey);
    if (reservation) inventory.released.add(reservation.reservationId);
  },
};
const reservations = new Once<{ reservationId: string }>();

/** The shipping provider refused the request (HTTP 422). */
export class ShippingRejectedError extends Error {
  override readonly name = 'ShippingRejectedError';
}

/** The shipping provider's client. */
export const shipping = {
  /** Set to make the provider refuse every shipment, as a bug in the request mapping would. */
  rejectAll: false,
  async createShipment(request: {
    readonly orderId: string;
    readonly address: string;
    readonly idempotencyKey: string;
  }): Promise<{ shipmentId: string; trackingNumber: string }> {
    if (shipping.rejectAll) throw new ShippingRejectedError('422: address.line1 is required');
    return shipments.apply(request.idempotencyKey, () => ({
      shipmentId: nextId('shp'),
      trackingNumber: nextId('1Z'),
    }));
  },
};
const shipments = new Once<{ shipmentId: string; trackingNumber: string }>();

/** The courier booking service. */
export const courier = {
  async book(request: {
    readonly address: string;
    readonly idempotencyKey: string;
  }): Promise<{ pickupAt: string }> {
    return bookings.apply(request.idempotencyKey, () => ({ pickupAt: '2026-12-03T09:00:00.000Z' }));
  },
  async cancel(request: { readonly idempotencyKey: string }): Promise<void> {
    void request;
  },
};
const bookings = new Once<{ pickupAt: string }>();
