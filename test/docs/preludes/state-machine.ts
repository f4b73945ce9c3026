/**
 * What docs/state-machine.md's snippets assume the application has: a PostgreSQL backend (on the
 * test server, in a schema of its own with an `outbox` table), a logger, the code that sends
 * e-mails, a payment gateway, and the factory of a custom entity store to certify.
 */
import {
  createMemoryBackend,
  createMemoryEntityStore,
} from '../../../src/adapters/memory/index.js';
import { createPostgresBackend } from '../../../src/adapters/postgres/index.js';
import { type Logger, silentLogger } from '../../../src/core/logger.js';
import { guideDatabase } from '../../support/guide-database.js';

const database = await guideDatabase('docs/state-machine.md', 'docs_state_machine');

/** The application's pool; its connections use the guide's schema, where `outbox` lives. */
export const pool = database.pool;
await pool.query('CREATE TABLE outbox (effect text NOT NULL, order_id text NOT NULL)');

/** The application's flowproof backend. */
export const backend = createPostgresBackend({ client: pool, schema: 'docs_state_machine' });

/** The application's (pino-compatible) logger. */
export const logger: Logger = silentLogger;

/** Sends the e-mails a transition declared. */
export async function sendEmails(effects: readonly string[]): Promise<void> {
  void effects;
}

/** The payment gateway's client. */
export const stripe = {
  async charge(amount: number): Promise<{ id: string }> {
    return { id: `ch_${amount}` };
  },
};

/** A custom entity store's factory, to certify with the conformance suite. */
export function createMyEntityStore(options: { namespace: string }) {
  void options.namespace;
  return createMemoryEntityStore({ backend: createMemoryBackend() });
}
