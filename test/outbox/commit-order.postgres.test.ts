/**
 * Order per key when transactions commit out of order on PostgreSQL. Positions are taken at
 * insert and transaction ids at a transaction's first write, and neither follows commits; the
 * claim's gate (`pg_snapshot_xmin`) and its per-key check must still publish a key's messages in
 * the order they were written whenever the writes to the key were serialised, which is what
 * applications do when they update the aggregate's row in the transaction that enqueues.
 *
 * The case that tells the orders apart: transaction B takes its transaction id first (it writes
 * elsewhere), then waits for the aggregate row that A holds; A enqueues K#1 and commits; B then
 * enqueues K#2 and commits. A relay must publish K#1 before K#2 whenever it looks: between the
 * commits, while a transaction that took its id between B's and A's keeps A's committed row behind
 * the gate and lets B's through, or after both. Ordering by transaction id would put K#2 first.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createPostgresBackend,
  createPostgresOutboxStore,
  type PostgresBackend,
  type PostgresOutboxStore,
} from '../../src/adapters/postgres/index.js';
import { createOutbox } from '../../src/outbox/index.js';
import { describeWithPostgres } from '../support/services.js';

describeWithPostgres(
  'outbox on PostgreSQL: order per key when commits come out of order',
  (url) => {
    const schema = `outbox_commit_order_${process.pid}`;
    let pool: pg.Pool;
    let backend: PostgresBackend;
    let store: PostgresOutboxStore;
    const topics = { event: z.object({ seq: z.number() }) };

    beforeAll(async () => {
      pool = new pg.Pool({ connectionString: url, max: 6 });
      backend = createPostgresBackend({ client: pool, schema });
      store = createPostgresOutboxStore({ backend });
      await store.migrate();
      await backend.execute(
        `CREATE TABLE ${backend.table('aggregates')} (id text PRIMARY KEY, version int NOT NULL)`,
      );
      await backend.execute(`CREATE TABLE ${backend.table('notes')} (id text PRIMARY KEY)`);
    });
    afterAll(async () => {
      await backend.execute(`DROP SCHEMA "${schema}" CASCADE`);
      await backend.close();
      await pool.end();
    });

    /** Claims and marks published until nothing is claimable; appends `key`'s sequence numbers. */
    async function publishAll(label: string, key: string, into: number[]): Promise<void> {
      for (let round = 0; ; round += 1) {
        const owner = `${label}-${key}-${round}`;
        const claimed = await store.claim({ owner, leaseMs: 10_000, limit: 10 });
        if (claimed.length === 0) return;
        for (const m of claimed) if (m.key === key) into.push((m.payload as { seq: number }).seq);
        await store.markPublished(
          claimed.map((m) => m.id),
          owner,
        );
      }
    }

    async function scenario(key: string, lookBetweenCommits: boolean): Promise<number[]> {
      const outbox = createOutbox({ store, topics });
      await backend.execute(`INSERT INTO ${backend.table('aggregates')} VALUES ($1, 0)`, [key]);
      const a = await pool.connect();
      const b = await pool.connect();
      const other = await pool.connect();
      const published: number[] = [];
      const note = `INSERT INTO ${backend.table('notes')} VALUES ($1)`;
      const bump = `UPDATE ${backend.table('aggregates')} SET version = version + 1 WHERE id = $1`;
      try {
        // Transaction ids in the order B < other < A.
        await b.query('BEGIN');
        await b.query(note, [`${key}-b`]);
        await other.query('BEGIN');
        await other.query(note, [`${key}-other`]);
        await a.query('BEGIN');
        await a.query(bump, [key]); // A holds the aggregate's row…
        const bWaits = b.query(bump, [key]); // …and B waits for it.
        await outbox.enqueue(
          'event',
          { seq: 1 },
          { key, transaction: backend.withTransactionClient(a) },
        );
        await a.query('COMMIT');
        await bWaits;
        await outbox.enqueue(
          'event',
          { seq: 2 },
          { key, transaction: backend.withTransactionClient(b) },
        );
        if (lookBetweenCommits) await publishAll('b-open', key, published);
        await b.query('COMMIT');
        // Now B's message is through the gate (B's id is below the oldest running one, other's),
        // and A's is not (A's id is above it): K#2 must still wait for K#1.
        if (lookBetweenCommits) await publishAll('other-open', key, published);
        if (lookBetweenCommits) expect(published).toEqual([]);
        await other.query('COMMIT');
        await publishAll('after', key, published);
      } finally {
        a.release();
        b.release();
        other.release();
      }
      return published;
    }

    it('publishes a key in write order, whether a relay looks between the commits or after both', async () => {
      expect(await scenario('K-between', true)).toEqual([1, 2]);
      expect(await scenario('K-after', false)).toEqual([1, 2]);
    });
  },
);
