/**
 * What docs/retention.md's snippets assume the application has: a `pg` pool for the application's
 * data (users, sessions and orders of a few people), another for the operations database the
 * retention store lives in (kept apart: it must not be restored with the application's backups),
 * clients of the outside services the data map names (file storage, the payment provider, a
 * cache), and the application's saga engine.
 */
import {
  createPostgresBackend,
  createPostgresSagaStore,
} from '../../../src/adapters/postgres/index.js';
import { createSagas, defineSaga } from '../../../src/saga/index.js';
import { guideDatabase } from '../../support/guide-database.js';

/** The application's pool. */
export const pool = (await guideDatabase('docs/retention.md', 'docs_retention')).pool;
/** The operations database's pool (retention store, audit log, sagas). */
export const opsPool = (await guideDatabase('docs/retention.md', 'docs_retention_ops')).pool;

await pool.query(`
  CREATE TABLE users (id text PRIMARY KEY, email text NOT NULL, status text NOT NULL DEFAULT 'active',
    login_enabled boolean NOT NULL DEFAULT true, last_login_at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE sessions (id bigserial PRIMARY KEY, user_id text NOT NULL, created_at timestamptz NOT NULL);
  CREATE TABLE orders (id bigserial PRIMARY KEY, user_id text NOT NULL, user_email text NOT NULL,
    shipping_name text NOT NULL, shipping_address text NOT NULL, amount integer NOT NULL,
    placed_at timestamptz NOT NULL);
`);
for (const user of ['user-42', 'user-7', 'user-8', 'user-99']) {
  await pool.query(`INSERT INTO users (id, email) VALUES ($1, $2)`, [user, `${user}@example.com`]);
  await pool.query(
    `INSERT INTO sessions (user_id, created_at) SELECT $1, now() - n * interval '1 day' FROM generate_series(1, 3) n`,
    [user],
  );
  await pool.query(
    `INSERT INTO orders (user_id, user_email, shipping_name, shipping_address, amount, placed_at)
     SELECT $1, $2, 'Ada Lovelace', '12 St James''s Square', 1999, now() - n * interval '400 days' FROM generate_series(1, 2) n`,
    [user, `${user}@example.com`],
  );
}
// Old rows the sweep finds due: sessions past 90 days, orders past 2 years (anonymized).
await pool.query(
  `INSERT INTO sessions (user_id, created_at) SELECT 'user-99', now() - interval '200 days' FROM generate_series(1, 50)`,
);
await pool.query(
  `INSERT INTO orders (user_id, user_email, shipping_name, shipping_address, amount, placed_at)
   SELECT 'user-99', 'user-99@example.com', 'Grace Hopper', '1 Navy Way', 500, now() - interval '3 years' FROM generate_series(1, 5)`,
);

const objects = new Set(
  ['user-42', 'user-7', 'user-8', 'user-99'].flatMap((u) => [
    `user-uploads/${u}/avatar.png`,
    `user-uploads/${u}/cv.pdf`,
  ]),
);
/** The file storage's client (an S3 bucket in production). */
export const s3 = {
  async list(prefix: string): Promise<string[]> {
    return [...objects].filter((key) => key.startsWith(prefix));
  },
  async deletePrefix(prefix: string): Promise<number> {
    const keys = await s3.list(prefix);
    for (const key of keys) objects.delete(key);
    return keys.length;
  },
};

const customers = new Map([
  ['user-42', 'cus_42'],
  ['user-7', 'cus_7'],
  ['user-8', 'cus_8'],
]);
/** The payment provider's client. */
export const stripe = {
  async customerIdOf(subject: string): Promise<string | null> {
    return customers.get(subject) ?? null;
  },
  async deleteCustomer(id: string, _options: { readonly idempotencyKey: string }): Promise<void> {
    for (const [user, customer] of customers) if (customer === id) customers.delete(user);
  },
};

const contacts = new Set(['user-42', 'user-7', 'user-8', 'user-99']);
/** The newsletter provider's client (marketing consent). */
export const newsletter = {
  async removeContact(subject: string): Promise<number> {
    return contacts.delete(subject) ? 1 : 0;
  },
};

const cached = new Map([
  ['user:user-42:profile', '{}'],
  ['user:user-7:profile', '{}'],
]);
/** The cache's client (Redis in production). */
export const cache = {
  deleteMatching(prefix: string): number {
    let n = 0;
    for (const key of [...cached.keys()]) if (key.startsWith(prefix) && cached.delete(key)) n++;
    return n;
  },
};

const appSagaStore = createPostgresSagaStore({
  backend: createPostgresBackend({ client: opsPool, tablePrefix: 'app_' }),
});
await appSagaStore.migrate();
/** The application's own saga engine (its order flow). */
export const appSagas = createSagas({
  store: appSagaStore,
  sagas: [defineSaga({ name: 'order' }).step('charge', { run: () => ({ charged: true }) })],
});
