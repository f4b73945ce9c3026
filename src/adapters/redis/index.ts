/**
 * Redis storage backend for flowproof: shared, fast state for applications running on several
 * processes or machines. Takes an ioredis client; never imports a driver itself. Redis has no
 * interactive transactions, so module stores make their steps atomic with Lua scripts.
 *
 * Also the outbox's Redis Streams transport: `createRedisStreamsPublisher` (a relay's publisher,
 * one stream per topic) and `createRedisStreamsConsumer` (a consumer group feeding a
 * `createMessageConsumer` from `flowproof/outbox`, with takeover and a dead-letter stream).
 *
 * @module
 */
export {
  createRedisBackend,
  type RedisBackend,
  type RedisBackendOptions,
  type RedisScript,
} from './redis-backend.js';
export type { RedisArgument, RedisClientLike } from './redis-client.js';
export {
  createRedisIdempotencyStore,
  type RedisIdempotencyStore,
  type RedisIdempotencyStoreOptions,
  redisIdempotencyMigrations,
} from './redis-idempotency-store.js';
export {
  createRedisStreamsConsumer,
  type RedisStreamsCloseOptions,
  type RedisStreamsConsumer,
  type RedisStreamsConsumerOptions,
  type RedisStreamsRoundResult,
} from './redis-streams-consumer.js';
export {
  createRedisStreamsPublisher,
  defaultStreamKey,
  type RedisStreamsPublisherOptions,
} from './redis-streams-publisher.js';
