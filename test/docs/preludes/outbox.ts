/**
 * What docs/outbox.md's snippets assume the application has: a `pg` pool on the test PostgreSQL
 * server (in a schema of its own, with the order, payment and stock tables the example services
 * write), an ioredis client on the test Redis server (a database of its own, emptied first), a
 * logger, and a payment provider that charges once per idempotency key.
 */
import { Redis } from 'ioredis';
import pg from 'pg';
import { type Logger, silentLogger } from '../../../src/core/logger.js';
import { postgresUrl, redisUrl } from '../../support/services.js';

const schema = 'docs_outbox';
const connectionString = postgresUrl();
const redisConnection = redisUrl();
if (!connectionString || !redisConnection) {
  throw new Error('docs/outbox.md runs on the test PostgreSQL and Redis servers');
}

/** The database's URL, for the connections an application opens itself (`LISTEN`). */
export const databaseUrl: string = connectionString;

/** The application's pool; its connections use the guide's schema. */
export const pool = new pg.Pool({
  connectionString,
  options: `-c search_path=${schema}`,
  allowExitOnIdle: true,
});
await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
await pool.query(`CREATE SCHEMA ${schema}`);
await pool.query(
  `CREATE TABLE orders (id text PRIMARY KEY, customer_id text NOT NULL, total integer NOT NULL,
     status text NOT NULL)`,
);
await pool.query(
  `CREATE TABLE payments (order_id text PRIMARY KEY, charge_id text NOT NULL, amount integer NOT NULL)`,
);
await pool.query(`CREATE TABLE stock (sku text PRIMARY KEY, available integer NOT NULL)`);
await pool.query(`INSERT INTO stock (sku, available) VALUES ('book-42', 10)`);

/** The application's Redis client (a database of the test server used by nothing else). */
export const redis = new Redis(redisConnection, { db: 9, lazyConnect: true });
await redis.connect();
await redis.flushdb();
// The snippets leave the client open, as an application does; do not keep the test process alive.
(redis as unknown as { stream?: { unref?: () => void } }).stream?.unref?.();

/** The application's (pino-compatible) logger. */
export const logger: Logger = silentLogger;

let charges = 0;
const charged = new Map<string, string>();

/** The payment provider: one charge per idempotency key, whatever the retries. */
export const paymentProvider = {
  async charge(request: {
    readonly orderId: string;
    readonly amount: number;
    readonly idempotencyKey: string;
  }): Promise<{ chargeId: string }> {
    let chargeId = charged.get(request.idempotencyKey);
    if (chargeId === undefined) {
      charges += 1;
      chargeId = `ch_${charges}`;
      charged.set(request.idempotencyKey, chargeId);
    }
    return { chargeId };
  },
};
