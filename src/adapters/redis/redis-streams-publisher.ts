/**
 * The outbox publisher for Redis Streams: one stream per topic, one entry per message, written
 * idempotently so a message handed over again (after a relay crash or timeout) is not appended
 * twice.
 */
import type { FlowproofError } from '../../core/errors.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../../core/logger.js';
import {
  assertFunction,
  assertInteger,
  assertKnownKeys,
  assertOptionsObject,
} from '../../core/options.js';
import type { OutboxMessage, OutboxPublisher } from '../../outbox/publisher.js';
import { createRedisBackend } from './redis-backend.js';
import type { RedisClientLike } from './redis-client.js';
import { toRedisError } from './redis-errors.js';
import { defaultStreamKey, encodeStreamValues } from './redis-stream-message.js';

export { defaultStreamKey } from './redis-stream-message.js';

/** Options of {@link createRedisStreamsPublisher}. */
export interface RedisStreamsPublisherOptions {
  /** An ioredis client (`new Redis(url)`); the application owns it. */
  readonly client: RedisClientLike;
  /**
   * The stream of a topic. On Redis Cluster, put a hash tag in it (`{outbox:order.created}`): the
   * de-duplication keys `<stream>:ids:<message id>` must live in the stream's slot.
   * @default {@link defaultStreamKey} (`outbox:<topic>`)
   */
  readonly streamKey?: (topic: string) => string;
  /**
   * Trim each stream to about this many entries on every append (`XADD MAXLEN ~`). Leave room
   * for what consumers have not read yet: trimmed entries are lost to them.
   * @default undefined (no trimming)
   */
  readonly maxLength?: number;
  /**
   * How long a published message id is remembered, in milliseconds, so a message handed over
   * again within this window is acknowledged without a second entry. Longer than the relay's
   * lease and retries.
   * @default 86400000 (24 h)
   */
  readonly dedupeWindowMs?: number;
  /**
   * Upper bound for one call's commands, in milliseconds. A timed-out write is not cancelled: it
   * may still land, and the relay's retry is then recognised as a duplicate.
   * @default 5000
   */
  readonly timeoutMs?: number;
  /**
   * A pino-compatible logger: a stream whose append failed is logged (`outbox.publish.failed`).
   * @default silent
   */
  readonly logger?: Logger;
}

/**
 * Appends each message unless its de-duplication key exists; stops at the first error. Returns
 * `{ acknowledged ids }` or `{ acknowledged ids, error }`. ARGV: window, maxLength (0: none),
 * then 7 per message: id, topic, has key (`1`/`0`), key, payload, headers, createdAt.
 */
const PUBLISH_LUA = `
local window = ARGV[1]
local maxLength = ARGV[2]
local acked = {}
for i = 3, #ARGV, 7 do
  local id = ARGV[i]
  local dedupeKey = KEYS[1] .. ':ids:' .. id
  local seen = redis.pcall('EXISTS', dedupeKey)
  if type(seen) == 'table' then return { acked, seen.err } end
  if seen == 0 then
    local command = { 'XADD', KEYS[1] }
    if maxLength ~= '0' then
      table.insert(command, 'MAXLEN')
      table.insert(command, '~')
      table.insert(command, maxLength)
    end
    for _, part in ipairs({ '*', 'id', id, 'topic', ARGV[i + 1] }) do table.insert(command, part) end
    if ARGV[i + 2] == '1' then
      table.insert(command, 'key')
      table.insert(command, ARGV[i + 3])
    end
    for _, part in ipairs({ 'payload', ARGV[i + 4], 'headers', ARGV[i + 5], 'createdAt', ARGV[i + 6] }) do
      table.insert(command, part)
    end
    local entry = redis.pcall(unpack(command))
    if type(entry) == 'table' then return { acked, entry.err } end
    local set = redis.pcall('SET', dedupeKey, entry, 'PX', window)
    if type(set) == 'table' and set.err then return { acked, set.err } end
  end
  table.insert(acked, id)
end
return { acked }
`;

const OPTION_KEYS = ['client', 'streamKey', 'maxLength', 'dedupeWindowMs', 'timeoutMs', 'logger'];

/**
 * Creates an outbox publisher that appends each message to its topic's Redis stream (see
 * `createRedisStreamsConsumer` for the other end). Per stream, one Lua script per call appends
 * the messages in order and stops at the first failure, so a message is never appended after an
 * earlier one of its key failed; calls for different streams are sent together. A key whose
 * messages go to several streams (topics) is kept in order too: a message is sent once the
 * earlier ones of its key were acknowledged, at the cost of one more round trip per switch. A message
 * appended before (its id is remembered for `dedupeWindowMs`) is acknowledged without a second
 * entry.
 *
 * When every stream of a call fails, `publish` rejects with the mapped error (`BACKEND_*`), which
 * the relay records; when only some fail, it resolves with what was acknowledged and logs the
 * failures.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const relay = createOutboxRelay({
 *   store,
 *   publisher: createRedisStreamsPublisher({ client: new Redis(process.env.REDIS_URL) }),
 * });
 * ```
 */
export function createRedisStreamsPublisher(
  options: RedisStreamsPublisherOptions,
): OutboxPublisher {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, OPTION_KEYS, 'options');
  const streamKey = options.streamKey ?? defaultStreamKey;
  assertFunction(streamKey, 'options.streamKey');
  const maxLength = options.maxLength ?? 0;
  if (options.maxLength !== undefined) assertInteger(maxLength, 'options.maxLength', 1);
  const dedupeWindowMs = options.dedupeWindowMs ?? 86_400_000;
  assertInteger(dedupeWindowMs, 'options.dedupeWindowMs', 1);
  const logger = options.logger ?? silentLogger;
  assertLogger(logger, 'options.logger');
  // The backend gives the commands their timeout, error mapping and EVALSHA caching.
  const backend = createRedisBackend({
    client: options.client,
    keyPrefix: '',
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  const script = backend.script(PUBLISH_LUA);

  const publishStream = async (
    stream: string,
    messages: readonly OutboxMessage[],
  ): Promise<{ acked: readonly string[]; error?: FlowproofError }> => {
    const args: string[] = [String(dedupeWindowMs), String(maxLength)];
    for (const message of messages) {
      const { payload, headers, createdAt } = encodeStreamValues(message);
      args.push(
        message.id,
        message.topic,
        message.key === null ? '0' : '1',
        message.key ?? '',
        payload,
        headers,
        createdAt,
      );
    }
    try {
      const [acked, reply] = await script.run<[string[], string?]>([stream], args);
      if (reply === undefined) return { acked };
      // An error reply inside the script, e.g. `WRONGTYPE Operation against a key…`.
      const error = toRedisError(Object.assign(new Error(reply), { name: 'ReplyError' }), 'XADD');
      return { acked, error };
    } catch (error) {
      return { acked: [], error: toRedisError(error, 'EVALSHA') };
    }
  };

  return Object.freeze({
    async publish(messages: readonly OutboxMessage[]): Promise<readonly string[]> {
      if (!Array.isArray(messages)) throw new TypeError('messages must be an array');
      let remaining = messages.map((message) => {
        const stream = streamKey(message.topic);
        if (typeof stream !== 'string' || stream === '') {
          throw new TypeError(
            `options.streamKey must return a non-empty string, got ${typeof stream} for topic ${message.topic}`,
          );
        }
        return { message, stream };
      });
      const acked = new Set<string>();
      const failedKeys = new Set<string>();
      const failedStreams = new Set<string>();
      const errors: FlowproofError[] = [];
      // Usually one wave. A key whose messages go to several streams needs one wave per switch:
      // a message is sent only once every earlier message of its key was acknowledged.
      while (remaining.length > 0) {
        const wave = new Map<string, OutboxMessage[]>();
        const waiting: typeof remaining = [];
        const keyStream = new Map<string, string>();
        const deferredStreams = new Set<string>();
        for (const item of remaining) {
          const { key } = item.message;
          if (failedStreams.has(item.stream) || (key !== null && failedKeys.has(key))) {
            if (key !== null) failedKeys.add(key);
            continue;
          }
          const owner = key === null ? item.stream : (keyStream.get(key) ?? item.stream);
          if (key !== null && !keyStream.has(key)) keyStream.set(key, item.stream);
          if (owner !== item.stream || deferredStreams.has(item.stream)) {
            // Behind an earlier message of its key in another stream; its stream waits too,
            // so each stream keeps position order.
            deferredStreams.add(item.stream);
            waiting.push(item);
            continue;
          }
          const group = wave.get(item.stream);
          if (group) group.push(item.message);
          else wave.set(item.stream, [item.message]);
        }
        const results = await Promise.all(
          [...wave].map(async ([stream, group]) => ({
            stream,
            group,
            ...(await publishStream(stream, group)),
          })),
        );
        for (const { stream, group, acked: streamAcked, error } of results) {
          for (const id of streamAcked) acked.add(id);
          if (error === undefined) continue;
          errors.push(error);
          failedStreams.add(stream);
          for (const message of group) {
            if (message.key !== null && !acked.has(message.id)) failedKeys.add(message.key);
          }
          logEvent(
            logger,
            'warn',
            {
              event: 'outbox.publish.failed',
              stream,
              acknowledged: streamAcked.length,
              code: error.code,
              ...(error.details.redisCode === undefined
                ? {}
                : { redisCode: error.details.redisCode }),
            },
            'Appending to a Redis stream failed; the messages left are retried by the relay',
          );
        }
        remaining = waiting;
      }
      if (errors.length > 0 && acked.size === 0) throw errors[0];
      // In the order given, which is position order.
      return messages.filter((message) => acked.has(message.id)).map((message) => message.id);
    },
  });
}
