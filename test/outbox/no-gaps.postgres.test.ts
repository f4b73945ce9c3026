/**
 * No gaps under concurrency, on PostgreSQL: 32 writers (async loops over a pool of 40
 * connections) each run transactions of one business row plus 1..8 messages enqueued through
 * `createOutbox(...).enqueue(..., { transaction: backend.withTransactionClient(client) })`, wait
 * 0–200 ms before COMMIT (so transactions commit out of the order of their positions), and roll
 * back about 5% of them. Meanwhile two relays publish to Redis Streams and consumers apply every
 * message in PostgreSQL through the transactional inbox (`createIdempotency` over the PostgreSQL
 * idempotency store; the handler's applied row commits with the inbox record). Then:
 *
 * - 0 lost: every committed message is published and applied;
 * - 0 duplicated: each message is one stream entry and one applied row (the handler's invocations
 *   are counted too: any beyond one per message were stopped by the inbox);
 * - 0 out of order per key, in the streams and in apply order;
 * - messages of rolled-back transactions are never in the outbox, a stream or the applied rows.
 *
 * Consumers: one per partition. Keys are spread over 8 topics (one Redis stream each) by a hash
 * of the key, and each stream is read by a single consumer of the group, which handles its
 * entries one at a time in stream order. Several consumers sharing one stream would apply the
 * entries of a key in parallel (per-key apply order is not a Redis Streams consumer group
 * guarantee); partitioning keeps both the order check and parallel applying.
 *
 * Size: `OUTBOX_PROOF_SCALE` × 100,000 messages (default 0.1 in CI; `npm run proof:outbox` runs
 * 1). The figures of a run are printed.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RedisStreamsConsumer } from '../../src/adapters/redis/index.js';
import { createOutbox, type OutboxRelay } from '../../src/outbox/index.js';
import { describeWithPostgres, redisUrl } from '../support/services.js';
import { checkRun, NO_VIOLATIONS, violations } from './support/proof-checks.js';
import { startConsumers, startRelay, waitFor } from './support/proof-pipeline.js';
import {
  dropStreams,
  openPostgresWorld,
  type PostgresWorld,
  proofTopics,
  readStreams,
  streamKeyOf,
  topicOf,
} from './support/proof-world.js';
import { runPostgresWriters } from './support/proof-writers.js';

const SCALE = Number(process.env.OUTBOX_PROOF_SCALE ?? 0.1);
const MESSAGES = Math.round(100_000 * SCALE);
const WRITERS = 32;
const PARTITIONS = 8;
const SEED = Number(process.env.OUTBOX_PROOF_SEED ?? Date.now() % 1_000_000);
/** Writing, then draining the backlog, then checking. */
const TIMEOUT_MS = 120_000 + MESSAGES * 10;

describeWithPostgres('outbox: no gaps under concurrency (PostgreSQL, Redis Streams)', (url) => {
  const runId = `pg-${process.pid}-${Date.now().toString(36)}`;
  let world: PostgresWorld;
  let relayWorld: PostgresWorld;
  let consumerWorld: PostgresWorld;
  let redis: Redis;

  beforeAll(async () => {
    const redisAt = redisUrl();
    if (!redisAt) throw new Error('this proof needs a Redis server');
    const schema = `outbox_proof_${runId.replaceAll('-', '_')}`;
    // Writers, relays and consumers each on pools of their own, as separate services would be.
    world = openPostgresWorld(url, schema, 40);
    relayWorld = openPostgresWorld(url, schema, 4);
    consumerWorld = openPostgresWorld(url, schema, PARTITIONS + 2);
    redis = new Redis(redisAt);
    await world.prepare();
  });
  afterAll(async () => {
    await dropStreams(redis, runId).catch(() => {});
    redis?.disconnect();
    await world?.drop().catch(() => {});
    await Promise.all([world?.close(), relayWorld?.close(), consumerWorld?.close()]);
  });

  it(
    `${MESSAGES} messages from ${WRITERS} writers: none lost, none duplicated, none out of order per key, none of a rolled-back transaction published`,
    async () => {
      const started = Date.now();
      let handlerCalls = 0;
      const relays: OutboxRelay[] = [0, 1].map((i) =>
        startRelay({
          store: relayWorld.store,
          redis,
          runId,
          relayId: `relay-${i}`,
          leaseMs: 10_000,
        }),
      );
      const consumers: RedisStreamsConsumer[] = startConsumers({
        world: consumerWorld,
        redis,
        runId,
        partitions: PARTITIONS,
        layout: 'per-partition',
        consumerName: 'applier',
        claimIdleMs: 30_000,
        batchSize: 64,
        onCall: () => {
          handlerCalls += 1;
        },
      });
      const outbox = createOutbox({ store: world.store, topics: proofTopics(PARTITIONS) });
      let written: Awaited<ReturnType<typeof runPostgresWriters>>;
      try {
        written = await runPostgresWriters(world, outbox, {
          writers: WRITERS,
          messages: MESSAGES,
          keysPerWriter: 4,
          maxPerTransaction: 8,
          maxDelayMs: 200,
          rollbackRate: 0.05,
          partitions: PARTITIONS,
          seed: SEED,
        });
      } catch (error) {
        throw new Error(`writers failed (seed ${SEED})`, { cause: error });
      }
      const writtenAt = Date.now();
      try {
        await waitFor(
          `applied (seed ${SEED})`,
          () => consumerWorld.appliedCount(),
          written.committed.length,
          TIMEOUT_MS - (writtenAt - started) - 20_000,
        );
      } finally {
        await Promise.all(relays.map((relay) => relay.close()));
        await Promise.all(consumers.map((consumer) => consumer.close()));
      }
      const drainedAt = Date.now();
      const verdict = checkRun({
        committed: written.committed,
        rolledBack: written.rolledBack,
        outboxRows: await world.outboxRows(),
        stream: await readStreams(
          redis,
          Array.from({ length: PARTITIONS }, (_, p) => streamKeyOf(runId)(topicOf(p))),
        ),
        applied: await world.applied(),
        applyOrder: true,
      });
      const figures = {
        seed: SEED,
        messages: verdict.committed,
        transactions: written.transactions,
        rolledBackTransactions: written.rolledBackTransactions,
        rolledBackMessages: written.rolledBack.length,
        writers: WRITERS,
        relays: relays.length,
        consumers: consumers.length,
        writeSeconds: (writtenAt - started) / 1000,
        drainSeconds: (drainedAt - writtenAt) / 1000,
        totalSeconds: (drainedAt - started) / 1000,
        handlerCalls,
        ...violations(verdict),
      };
      console.log(`outbox no-gaps proof (PostgreSQL): ${JSON.stringify(figures)}`);
      expect(verdict.examples, `seed ${SEED}`).toEqual([]);
      expect(violations(verdict)).toEqual(NO_VIOLATIONS);
      expect(verdict.committed).toBeGreaterThanOrEqual(MESSAGES);
      expect(written.rolledBackTransactions).toBeGreaterThan(0);
      // Every invocation beyond one per message was a rolled-back attempt the inbox stopped.
      expect(handlerCalls).toBeGreaterThanOrEqual(verdict.applied);
    },
    TIMEOUT_MS,
  );
});
