/**
 * The moving parts between the writers and the applied rows, built the same way by the tests and
 * by their child processes: relays from the outbox store to Redis Streams, and Redis Streams
 * consumers applying each message through the transactional inbox (`createIdempotency` over the
 * SQL idempotency store, the handler writing its applied row in the inbox's transaction).
 */
import type { Redis } from 'ioredis';
import {
  createRedisStreamsConsumer,
  createRedisStreamsPublisher,
  type RedisStreamsConsumer,
  type RedisStreamsPublisher,
} from '../../../src/adapters/redis/index.js';
import { createIdempotency } from '../../../src/idempotency/index.js';
import {
  createMessageConsumer,
  createOutboxRelay,
  type MessageConsumer,
  type OutboxPublisher,
  type OutboxRelay,
  type OutboxStore,
} from '../../../src/outbox/index.js';
import {
  applyHandler,
  type PostgresWorld,
  type ProofTopics,
  proofPayload,
  type SqliteWorld,
  streamKeyOf,
  topicOf,
} from './proof-world.js';

/** The consumers' name (their Redis consumer group and their inbox operation). */
export const CONSUMER_NAME = 'proof-applier';

/** Options of {@link startRelay}. */
export interface RelayPlan {
  readonly store: OutboxStore<unknown>;
  readonly redis: Redis;
  readonly runId: string;
  readonly relayId: string;
  readonly leaseMs: number;
  readonly batchSize?: number;
  /** Wraps the Redis publisher (the crash worker's kill points). */
  readonly wrapPublisher?: (publisher: RedisStreamsPublisher) => OutboxPublisher;
}

/** A started relay to the run's Redis streams. */
export function startRelay(plan: RelayPlan): OutboxRelay {
  const publisher = createRedisStreamsPublisher({
    client: plan.redis,
    streamKey: streamKeyOf(plan.runId),
  });
  const relay = createOutboxRelay({
    store: plan.store,
    publisher: plan.wrapPublisher ? plan.wrapPublisher(publisher) : publisher,
    relayId: plan.relayId,
    batchSize: plan.batchSize ?? 500,
    pollIntervalMs: 20,
    leaseMs: plan.leaseMs,
    publishTimeoutMs: Math.floor(plan.leaseMs / 2),
    purgeIntervalMs: 0,
  });
  relay.start();
  return relay;
}

/** Options of {@link startConsumers}. */
export interface ConsumerPlan {
  readonly world: PostgresWorld | SqliteWorld;
  readonly redis: Redis;
  readonly runId: string;
  readonly partitions: number;
  /**
   * `per-partition`: one consumer per partition's stream (apply order per key holds); `shared`:
   * one consumer reading every stream.
   */
  readonly layout: 'per-partition' | 'shared';
  /** This process's name in the consumer group. */
  readonly consumerName: string;
  readonly claimIdleMs: number;
  /**
   * Entries read per stream and round. A round handles its entries one by one, and an entry
   * idle for `claimIdleMs` meanwhile is taken over by another consumer of the group: keep a
   * round's work well under `claimIdleMs`.
   */
  readonly batchSize: number;
  /** Called at each handler invocation, before its write. */
  readonly onCall: (message: { id: string }) => void | Promise<void>;
  /** Wraps the message consumer (the crash worker's kill points). */
  readonly wrapConsumer?: (consumer: MessageConsumer) => MessageConsumer;
}

/** Started Redis Streams consumers applying messages into the world. */
export function startConsumers(plan: ConsumerPlan): RedisStreamsConsumer[] {
  const kind = 'pool' in plan.world ? 'postgres' : 'sqlite';
  const inbox = createIdempotency({ store: plan.world.idempotencyStore, heartbeat: false });
  const handler = applyHandler(kind, plan.onCall);
  const topicSets =
    plan.layout === 'per-partition'
      ? Array.from({ length: plan.partitions }, (_, p) => [topicOf(p)])
      : [Array.from({ length: plan.partitions }, (_, p) => topicOf(p))];
  return topicSets.map((topics) => {
    const consumer = createMessageConsumer({
      name: CONSUMER_NAME,
      topics: Object.fromEntries(topics.map((t) => [t, proofPayload])) as ProofTopics,
      inbox,
      handlers: Object.fromEntries(topics.map((t) => [t, handler])),
    });
    const transport = createRedisStreamsConsumer({
      client: plan.redis,
      consumer: plan.wrapConsumer ? plan.wrapConsumer(consumer) : consumer,
      consumerName: plan.consumerName,
      streamKey: streamKeyOf(plan.runId),
      batchSize: plan.batchSize,
      blockMs: 200,
      claimIdleMs: plan.claimIdleMs,
      maxDeliveries: 1_000,
    });
    transport.start();
    return transport;
  });
}

/** Resolves once `count()` reaches `target`, or rejects after `timeoutMs` saying how far it got. */
export async function waitFor(
  what: string,
  count: () => Promise<number>,
  target: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await count();
    if (n >= target) return;
    if (Date.now() > deadline) {
      throw new Error(`${what}: ${n} of ${target} after ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
