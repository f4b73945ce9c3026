/**
 * The per-key order of messages from overlapping transactions on PostgreSQL is one fixed order,
 * whatever the moment a relay looks. Transaction A writes first (it takes its transaction id),
 * transaction B then enqueues K#1 and A enqueues K#2 (a later position), A commits, B commits
 * later. A relay that claims between the two commits must not hand out K#2 first when a relay
 * claiming after both commits would hand out K#1 first: one of the two orders would be published
 * against the other, depending only on timing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PostgresBackend } from '../../src/adapters/postgres/index.js';
import { createOutbox, type Outbox } from '../../src/outbox/index.js';
import { describeWithPostgres } from '../support/services.js';
import {
  openPostgresWorld,
  type PostgresWorld,
  type ProofTopics,
  proofTopics,
  topicOf,
} from './support/proof-world.js';

describeWithPostgres('outbox on PostgreSQL: the order of overlapping transactions', (url) => {
  let world: PostgresWorld;
  let outbox: Outbox<ProofTopics, PostgresBackend>;
  beforeAll(async () => {
    world = openPostgresWorld(url, `outbox_commit_order_${process.pid}`, 4);
    await world.prepare();
    outbox = createOutbox({ store: world.store, topics: proofTopics(1) });
  });
  afterAll(async () => {
    await world?.drop();
    await world?.close();
  });

  /** Publishes key `key`'s messages as a relay would, claiming once between the two commits or not. */
  async function scenario(key: string, claimBetweenCommits: boolean): Promise<string[]> {
    const first = await world.pool.connect();
    const second = await world.pool.connect();
    const published: string[] = [];
    const claimAndPublish = async () => {
      const owner = `relay-${published.length}-${key}`;
      const claimed = await world.store.claim({ owner, leaseMs: 10_000, limit: 10 });
      const ours = claimed.filter((m) => m.key === key);
      published.push(...ours.map((m) => (m.payload as { seq: number }).seq.toString()));
      await world.store.markPublished(
        claimed.map((m) => m.id),
        owner,
      );
    };
    const enqueue = (client: typeof first, seq: number) =>
      outbox.enqueue(
        topicOf(0),
        { key, seq, writer: seq, doomed: false },
        { key, transaction: world.backend.withTransactionClient(client) },
      );
    try {
      await first.query('BEGIN');
      await first.query(world.insertOrder, [`${key}-a`, 1, 1]);
      await second.query('BEGIN');
      await second.query(world.insertOrder, [`${key}-b`, 2, 1]);
      await enqueue(second, 1);
      await enqueue(first, 2);
      await first.query('COMMIT');
      if (claimBetweenCommits) await claimAndPublish();
      await second.query('COMMIT');
      await claimAndPublish();
      await claimAndPublish();
    } finally {
      first.release();
      second.release();
    }
    return published;
  }

  it('is the same whether a relay claims between the commits or after both', async () => {
    const between = await scenario('K-between', true);
    const after = await scenario('K-after', false);
    expect(between).toHaveLength(2);
    expect(between).toEqual(after);
  });
});
