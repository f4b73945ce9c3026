/**
 * The Redis Streams transport for a {@link MessageConsumer}: reads its topics' streams through a
 * consumer group, acknowledges an entry only once it was handled, takes over entries a dead or
 * slow consumer left pending, and moves poison entries to a dead-letter stream.
 */

import { createMutex, sleep } from '../../core/async.js';
import { type ErrorRecord, errorRecord } from '../../core/error-record.js';
import { FlowproofError, isFlowproofError } from '../../core/errors.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../../core/logger.js';
import {
  assertFunction,
  assertInteger,
  assertKnownKeys,
  assertNonEmptyString,
  assertOptionsObject,
} from '../../core/options.js';
import { defaultWorkerName } from '../../core/worker-name.js';
import {
  isPermanentFailure,
  type MessageConsumer,
  type ReceivedMessage,
} from '../../outbox/message-consumer.js';
import { createRedisBackend, type RedisBackend } from './redis-backend.js';
import type { RedisClientLike } from './redis-client.js';
import { decodeStreamFields, defaultStreamKey } from './redis-stream-message.js';

/** Options of {@link createRedisStreamsConsumer}. */
export interface RedisStreamsConsumerOptions {
  /**
   * An ioredis client; the application owns it. Blocking reads go through a connection of their
   * own, `client.duplicate()`, which the consumer opens and closes; a client without `duplicate()`
   * is read through directly, and every other command on it then waits behind each blocking read
   * (set `blockMs` low, or give the consumer a client of its own).
   */
  readonly client: RedisClientLike;
  /** Handles the messages (`createMessageConsumer`); its topics are the streams read. */
  readonly consumer: MessageConsumer;
  /**
   * The consumer group: each group gets every message once; the processes of one group share them.
   * @default the consumer's name
   */
  readonly group?: string;
  /**
   * This process's name in the group; unique per process.
   * @default `<host>/<pid>/<random>`
   */
  readonly consumerName?: string;
  /**
   * The stream of a topic; the same function as the publisher's. On Redis Cluster, put a hash tag
   * in it (`{outbox:order.created}`) so the stream and its dead-letter stream share a slot.
   * @default `outbox:<topic>`
   */
  readonly streamKey?: (topic: string) => string;
  /**
   * Entries read per stream and per round.
   * @default 16
   */
  readonly batchSize?: number;
  /**
   * How long a read waits for new entries, in milliseconds; `0` does not wait.
   * @default 1000
   */
  readonly blockMs?: number;
  /**
   * An entry delivered and not acknowledged for this long, in milliseconds, is taken over (its
   * consumer died, or its handler failed and it is due again): the retry delay of a failed entry.
   * Longer than a round takes: a round handles up to `batchSize` entries per stream one after
   * the other, and an entry still waiting its turn past this time is taken over by another
   * consumer (the inbox keeps it applied once, but it is handled out of turn).
   * @default 30000
   */
  readonly claimIdleMs?: number;
  /**
   * Deliveries after which an entry that still fails goes to the dead-letter stream.
   * @default 5
   */
  readonly maxDeliveries?: number;
  /**
   * The dead-letter stream of a stream: entries that failed for good, with their original fields
   * plus `error` (the JSON error record: the handler's error for a permanent failure,
   * `MESSAGE_DELIVERY_LIMIT` or `MESSAGE_MALFORMED` otherwise), `deliveries`, `group`, and
   * `lastError` (the handler's last error) after `maxDeliveries` failures.
   * @default `<stream>:dead-letter`
   */
  readonly deadLetterStreamKey?: (stream: string) => string;
  /**
   * Upper bound for one command (a blocking read: on top of `blockMs`), in milliseconds.
   * @default 5000
   */
  readonly timeoutMs?: number;
  /**
   * A pino-compatible logger (`outbox.consume.dead_lettered`, `outbox.consume.read_failed`…).
   * @default silent
   */
  readonly logger?: Logger;
}

/** What one {@link RedisStreamsConsumer.runOnce} round did. */
export interface RedisStreamsRoundResult {
  /** Entries whose handler ran and succeeded (acknowledged). */
  readonly handled: number;
  /** Entries the inbox had seen (acknowledged without running the handler). */
  readonly duplicates: number;
  /** Entries whose handler failed and that stay pending for a later delivery. */
  readonly failed: number;
  /** Entries moved to the dead-letter stream. */
  readonly deadLettered: number;
  /** Entries taken over from the pending list (a dead or failed earlier delivery). */
  readonly claimed: number;
}

/** Options of {@link RedisStreamsConsumer.close}. */
export interface RedisStreamsCloseOptions {
  /**
   * How long to wait for the handler in flight, in milliseconds; after that `close()` resolves
   * anyway (the entry stays pending and is taken over later).
   * @default 30000
   */
  readonly timeoutMs?: number;
}

/** A Redis Streams consumer made by {@link createRedisStreamsConsumer}. */
export interface RedisStreamsConsumer {
  /** Starts reading in the background until `close()`; a second call does nothing. */
  start(): void;
  /**
   * One round: takes over entries idle for `claimIdleMs`, reads new entries (waiting up to
   * `blockMs`), handles them, and acknowledges or dead-letters each.
   *
   * @throws FlowproofError `CONSUMER_CLOSED` after `close()`; `BACKEND_*` when Redis fails.
   */
  runOnce(): Promise<RedisStreamsRoundResult>;
  /** Stops reading, waits for the handler in flight and closes the read connection. Idempotent. */
  close(options?: RedisStreamsCloseOptions): Promise<void>;
  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const OPTION_KEYS = [
  'client',
  'consumer',
  'group',
  'consumerName',
  'streamKey',
  'batchSize',
  'blockMs',
  'claimIdleMs',
  'maxDeliveries',
  'deadLetterStreamKey',
  'timeoutMs',
  'logger',
];

/**
 * Copies an entry to the dead-letter stream with `error`, `deliveries`, `group` (and `lastError`
 * when given), and acknowledges it, if this consumer still holds it (another may have taken it
 * over meanwhile). KEYS: stream, dead-letter stream. ARGV: group, consumer, entry id, error,
 * deliveries, [last error].
 * Returns 1 when moved, 0 when not held.
 */
const DEAD_LETTER_LUA = `
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if #pending == 0 then return 0 end
local fields = {}
local entries = redis.call('XRANGE', KEYS[1], ARGV[3], ARGV[3])
if #entries > 0 then fields = entries[1][2] end
local command = { 'XADD', KEYS[2], '*' }
for _, value in ipairs(fields) do table.insert(command, value) end
for _, value in ipairs({ 'error', ARGV[4], 'deliveries', ARGV[5], 'group', ARGV[1] }) do
  table.insert(command, value)
end
if ARGV[6] then
  table.insert(command, 'lastError')
  table.insert(command, ARGV[6])
end
redis.call(unpack(command))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
return 1
`;

/** One entry read or taken over. */
interface Entry {
  readonly stream: string;
  readonly entryId: string;
  /** `null`: the entry was deleted from the stream while pending. */
  readonly fields: readonly unknown[] | null;
  readonly deliveries: number;
}

/**
 * Creates a Redis Streams consumer for `consumer`'s topics (one stream per topic, as the
 * publisher writes them).
 *
 * Delivery is at least once: an entry is acknowledged (`XACK`) only after its handler succeeded
 * (or the inbox recognised a duplicate). A failed entry stays pending and is delivered again once
 * idle for `claimIdleMs` (`XAUTOCLAIM`), which also takes over what a crashed consumer was
 * handling. An entry that fails `maxDeliveries` times, fails permanently (`isPermanentFailure`)
 * or is not a flowproof message goes to the dead-letter stream, atomically with its
 * acknowledgement. Within a round, entries of one key are handled in order, and after one fails
 * the later ones of its key are left pending for a later round.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const transport = createRedisStreamsConsumer({ client: redis, consumer: billing });
 * transport.start();
 * process.on('SIGTERM', () => void transport.close());
 * ```
 */
export function createRedisStreamsConsumer(
  options: RedisStreamsConsumerOptions,
): RedisStreamsConsumer {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, OPTION_KEYS, 'options');
  const { client, consumer } = options;
  if (typeof (client as RedisClientLike | undefined)?.call !== 'function') {
    throw new TypeError('options.client must be an ioredis client (Redis or Cluster)');
  }
  if (typeof consumer?.handle !== 'function' || !Array.isArray(consumer.topics)) {
    throw new TypeError('options.consumer must be a message consumer (createMessageConsumer)');
  }
  const group = options.group ?? consumer.name;
  assertNonEmptyString(group, 'options.group');
  const consumerName = options.consumerName ?? defaultWorkerName();
  assertNonEmptyString(consumerName, 'options.consumerName');
  const streamKey = options.streamKey ?? defaultStreamKey;
  assertFunction(streamKey, 'options.streamKey');
  const deadLetterKey =
    options.deadLetterStreamKey ?? ((stream: string) => `${stream}:dead-letter`);
  assertFunction(deadLetterKey, 'options.deadLetterStreamKey');
  const batchSize = options.batchSize ?? 16;
  assertInteger(batchSize, 'options.batchSize', 1, 10_000);
  const blockMs = options.blockMs ?? 1000;
  assertInteger(blockMs, 'options.blockMs', 0, 3_600_000);
  const claimIdleMs = options.claimIdleMs ?? 30_000;
  assertInteger(claimIdleMs, 'options.claimIdleMs', 1, 86_400_000);
  const maxDeliveries = options.maxDeliveries ?? 5;
  assertInteger(maxDeliveries, 'options.maxDeliveries', 1, 1_000_000);
  const timeoutMs = options.timeoutMs ?? 5000;
  assertInteger(timeoutMs, 'options.timeoutMs', 1, 3_600_000);
  const logger = options.logger ?? silentLogger;
  assertLogger(logger, 'options.logger');

  const streams = consumer.topics.map((topic) => {
    const stream = streamKey(topic);
    if (typeof stream !== 'string' || stream === '') {
      throw new TypeError(`options.streamKey must return a non-empty string (topic ${topic})`);
    }
    const deadLetter = deadLetterKey(stream);
    if (typeof deadLetter !== 'string' || deadLetter === '') {
      throw new TypeError(`options.deadLetterStreamKey must return a non-empty string`);
    }
    return { stream, deadLetter };
  });
  const deadLetterOf = new Map(streams.map(({ stream, deadLetter }) => [stream, deadLetter]));
  return new RedisStreamsConsumerImpl({
    client,
    consumer,
    group,
    consumerName,
    streams: streams.map(({ stream }) => stream),
    deadLetterOf,
    batchSize,
    blockMs,
    claimIdleMs,
    maxDeliveries,
    timeoutMs,
    logger,
  });
}

interface Config {
  readonly client: RedisClientLike;
  readonly consumer: MessageConsumer;
  readonly group: string;
  readonly consumerName: string;
  readonly streams: readonly string[];
  readonly deadLetterOf: ReadonlyMap<string, string>;
  readonly batchSize: number;
  readonly blockMs: number;
  readonly claimIdleMs: number;
  readonly maxDeliveries: number;
  readonly timeoutMs: number;
  readonly logger: Logger;
}

class RedisStreamsConsumerImpl implements RedisStreamsConsumer {
  readonly #config: Config;
  /** Commands other than blocking reads. */
  readonly #redis: RedisBackend;
  /** Blocking reads: a duplicated connection when the client can make one. */
  #reader: RedisBackend | undefined;
  /**
   * The duplicated connection under `#reader`, if any: disconnecting it cuts a blocking read
   * short (entries it had been given stay pending).
   */
  #readerClient: RedisClientLike | undefined;
  readonly #deadLetter;
  #groupsReady = false;
  /** Where XAUTOCLAIM goes on from, per stream (`0-0` after a full pass). */
  readonly #claimCursor = new Map<string, string>();
  #closed = false;
  /** Aborted by `close()`: cuts short the pause after a failed round. */
  readonly #stop = new AbortController();
  /** Rounds run one at a time, in call order. */
  readonly #rounds = createMutex();
  /** The last round started; `close()` waits for it. */
  #round: Promise<unknown> = Promise.resolve();
  #loop: Promise<void> | undefined;
  #reading = false;

  constructor(config: Config) {
    this.#config = config;
    this.#redis = createRedisBackend({
      client: config.client,
      keyPrefix: '',
      timeoutMs: config.timeoutMs,
    });
    this.#deadLetter = this.#redis.script(DEAD_LETTER_LUA);
  }

  start(): void {
    this.#assertOpen();
    if (this.#loop) return;
    this.#loop = this.#run();
  }

  async runOnce(): Promise<RedisStreamsRoundResult> {
    this.#assertOpen();
    // Rounds never overlap: a second caller waits for the first, then runs its own.
    const round = this.#rounds.run(() => {
      this.#assertOpen();
      return this.#runRound();
    });
    this.#round = round.catch(() => undefined);
    return round;
  }

  async close(options: RedisStreamsCloseOptions = {}): Promise<void> {
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, ['timeoutMs'], 'options');
    const waitMs = options.timeoutMs ?? 30_000;
    assertInteger(waitMs, 'options.timeoutMs', 0, 3_600_000);
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    // A blocking read waiting for entries is cut short; a handler in flight is waited for.
    if (this.#reading) this.#readerClient?.disconnect?.();
    const inFlight = Promise.all([this.#loop, this.#round]);
    const stopTimer = new AbortController();
    const timer = sleep(waitMs, stopTimer.signal).then(
      () => 'timeout' as const,
      () => 'done' as const,
    );
    const outcome = await Promise.race([inFlight, timer]);
    stopTimer.abort();
    if (outcome === 'timeout') {
      logEvent(
        this.#config.logger,
        'warn',
        { event: 'outbox.consume.close_timeout', consumer: this.#config.consumer.name, waitMs },
        'The handler in flight did not finish in time; its entry stays pending and is taken over later',
      );
    }
    // Quits the duplicated connection (a reader over the application's client leaves it open).
    await this.#reader?.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #readerBackend(): RedisBackend {
    if (this.#reader) return this.#reader;
    const { client, timeoutMs, blockMs } = this.#config;
    if (typeof client.duplicate === 'function') {
      const readerClient = client.duplicate();
      this.#readerClient = readerClient;
      // An EventEmitter without an 'error' listener prints "Unhandled error event" (ioredis) or
      // throws on every failed reconnect. The reads themselves fail and are logged as
      // `outbox.consume.read_failed`; the connection's own events are only worth a debug line.
      const { on } = readerClient as { on?: unknown };
      if (typeof on === 'function') {
        on.call(readerClient, 'error', (error: unknown) => {
          logEvent(
            this.#config.logger,
            'debug',
            {
              event: 'outbox.consume.connection_error',
              consumer: this.#config.consumer.name,
              error: errorRecord(error),
            },
            'The Redis connection of the blocking reads reported an error',
          );
        });
      }
      this.#reader = createRedisBackend({
        client: this.#readerClient,
        keyPrefix: '',
        timeoutMs: timeoutMs + blockMs,
        ownsClient: true,
      });
    } else {
      this.#reader = createRedisBackend({ client, keyPrefix: '', timeoutMs: timeoutMs + blockMs });
    }
    return this.#reader;
  }

  async #run(): Promise<void> {
    let backoffMs = 100;
    while (!this.#closed) {
      try {
        await this.runOnce();
        backoffMs = 100;
      } catch (error) {
        if (this.#closed) break;
        logEvent(
          this.#config.logger,
          'error',
          {
            event: 'outbox.consume.read_failed',
            consumer: this.#config.consumer.name,
            error: errorRecord(error),
          },
          'Reading the Redis streams failed; retrying',
        );
        await sleep(backoffMs, this.#stop.signal).catch(() => undefined);
        backoffMs = Math.min(backoffMs * 2, 5000);
      }
    }
  }

  async #runRound(): Promise<RedisStreamsRoundResult> {
    const counts = { handled: 0, duplicates: 0, failed: 0, deadLettered: 0, claimed: 0 };
    await this.#ensureGroups();
    const claimed = await this.#claimIdle();
    counts.claimed = claimed.length;
    const entries = claimed.length > 0 ? claimed : await this.#readNew();
    // Per key, in order: after a failure, later entries of the key wait for a later round.
    const blockedKeys = new Set<string>();
    for (const entry of entries) {
      // Closing: entries not started stay pending, and are taken over after claimIdleMs.
      if (this.#closed) break;
      const outcome = await this.#handleEntry(entry, blockedKeys);
      if (outcome !== 'gone') counts[outcome] += 1;
    }
    return counts;
  }

  async #handleEntry(
    entry: Entry,
    blockedKeys: Set<string>,
  ): Promise<'handled' | 'duplicates' | 'failed' | 'deadLettered' | 'gone'> {
    const { stream, entryId, fields, deliveries } = entry;
    const { maxDeliveries, group } = this.#config;
    if (fields === null) {
      // Deleted from the stream while pending: nothing to handle.
      await this.#redis.command('XACK', stream, group, entryId);
      return 'gone';
    }
    const decoded = decodeStreamFields(fields);
    if (!decoded.ok) {
      const error = new FlowproofError(
        'MESSAGE_MALFORMED',
        `Stream entry ${entryId} of ${stream} is not an outbox message: ${decoded.reason}`,
        { details: { deliveryId: entryId, reason: decoded.reason } },
      );
      return this.#moveToDeadLetter(entry, errorRecord(error), undefined);
    }
    const message: ReceivedMessage = { ...decoded.message, deliveries };
    if (message.key !== null && blockedKeys.has(message.key)) return 'failed';
    if (deliveries > maxDeliveries) {
      // Delivered that often without an outcome (its consumers kept dying while handling it).
      const error = new FlowproofError(
        'MESSAGE_DELIVERY_LIMIT',
        `Message ${message.id} was delivered ${deliveries} times without being handled`,
        { details: { messageId: message.id, deliveries } },
      );
      return this.#moveToDeadLetter(entry, errorRecord(error), message.id);
    }
    try {
      const outcome = await this.#config.consumer.handle(message);
      await this.#redis.command('XACK', stream, group, entryId);
      return outcome === 'handled' ? 'handled' : 'duplicates';
    } catch (error) {
      if (isPermanentFailure(error)) {
        return this.#moveToDeadLetter(entry, errorRecord(error), message.id);
      }
      if (deliveries >= maxDeliveries) {
        const last = errorRecord(error);
        const limit = new FlowproofError(
          'MESSAGE_DELIVERY_LIMIT',
          `Message ${message.id} failed on all ${deliveries} deliveries; last error: ${last.name}: ${last.message}`,
          { details: { messageId: message.id, deliveries } },
        );
        return this.#moveToDeadLetter(entry, errorRecord(limit), message.id, last);
      }
      if (message.key !== null) blockedKeys.add(message.key);
      return 'failed';
    }
  }

  async #moveToDeadLetter(
    entry: Entry,
    error: ErrorRecord,
    messageId: string | undefined,
    lastError?: ErrorRecord,
  ): Promise<'deadLettered' | 'failed'> {
    const { group, consumerName, deadLetterOf, logger, consumer } = this.#config;
    const deadLetter = deadLetterOf.get(entry.stream) as string;
    const moved = await this.#deadLetter.run<number>(
      [entry.stream, deadLetter],
      [
        group,
        consumerName,
        entry.entryId,
        JSON.stringify(error),
        String(entry.deliveries),
        ...(lastError === undefined ? [] : [JSON.stringify(lastError)]),
      ],
    );
    if (Number(moved) !== 1) return 'failed';
    logEvent(
      logger,
      'error',
      {
        event: 'outbox.consume.dead_lettered',
        consumer: consumer.name,
        stream: entry.stream,
        deadLetterStream: deadLetter,
        entryId: entry.entryId,
        ...(messageId === undefined ? {} : { messageId }),
        deliveries: entry.deliveries,
        error,
      },
      'Message moved to the dead-letter stream',
    );
    return 'deadLettered';
  }

  async #ensureGroups(): Promise<void> {
    if (this.#groupsReady) return;
    for (const stream of this.#config.streams) {
      try {
        await this.#redis.command('XGROUP', 'CREATE', stream, this.#config.group, '0', 'MKSTREAM');
      } catch (error) {
        if (!isFlowproofError(error) || error.details.redisCode !== 'BUSYGROUP') throw error;
      }
    }
    this.#groupsReady = true;
  }

  /** Takes over entries pending longer than `claimIdleMs`, with their delivery counts. */
  async #claimIdle(): Promise<Entry[]> {
    const { group, consumerName, claimIdleMs, batchSize } = this.#config;
    const entries: Entry[] = [];
    for (const stream of this.#config.streams) {
      const cursor = this.#claimCursor.get(stream) ?? '0-0';
      const reply = await this.#withGroup(() =>
        this.#redis.command<[string, unknown[], unknown[]?]>(
          'XAUTOCLAIM',
          stream,
          group,
          consumerName,
          claimIdleMs,
          cursor,
          'COUNT',
          batchSize,
        ),
      );
      this.#claimCursor.set(stream, String(reply[0]));
      const claimed = parseEntries(stream, reply[1]);
      if (claimed.length === 0) continue;
      const counts = await this.#deliveryCounts(stream, claimed);
      for (const entry of claimed) {
        entries.push({ ...entry, deliveries: counts.get(entry.entryId) ?? 1 });
      }
    }
    return entries;
  }

  /** The delivery counts of entries this consumer holds (`XPENDING`, one per entry, pipelined). */
  async #deliveryCounts(stream: string, held: readonly Entry[]): Promise<Map<string, number>> {
    const { group, consumerName } = this.#config;
    const rows = await Promise.all(
      held.map(({ entryId }) =>
        this.#redis.command<unknown[]>(
          'XPENDING',
          stream,
          group,
          entryId,
          entryId,
          1,
          consumerName,
        ),
      ),
    );
    const counts = new Map<string, number>();
    for (const row of rows.flat()) {
      if (Array.isArray(row)) counts.set(String(row[0]), Number(row[3]));
    }
    return counts;
  }

  /** Reads entries never delivered to the group, waiting up to `blockMs`. */
  async #readNew(): Promise<Entry[]> {
    const { group, consumerName, batchSize, blockMs, streams } = this.#config;
    const reader = this.#readerBackend();
    this.#reading = true;
    let reply: unknown;
    try {
      reply = await this.#withGroup(() =>
        reader.command(
          'XREADGROUP',
          'GROUP',
          group,
          consumerName,
          'COUNT',
          batchSize,
          ...(blockMs > 0 ? ['BLOCK', blockMs] : []),
          'STREAMS',
          ...streams,
          ...streams.map(() => '>'),
        ),
      );
    } catch (error) {
      if (this.#closed) return [];
      throw error;
    } finally {
      this.#reading = false;
    }
    const entries: Entry[] = [];
    for (const [stream, raw] of streamReplies(reply)) entries.push(...parseEntries(stream, raw));
    return entries;
  }

  /** Runs `fn`; when the group is gone (a stream deleted), creates the groups again and retries. */
  async #withGroup<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (!isFlowproofError(error) || error.details.redisCode !== 'NOGROUP') throw error;
      this.#groupsReady = false;
      await this.#ensureGroups();
      return fn();
    }
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new FlowproofError('CONSUMER_CLOSED', 'This Redis Streams consumer was closed');
    }
  }
}

/**
 * The `[stream, entries]` pairs of an `XREADGROUP` reply. RESP2 answers `[[stream, entries], …]`;
 * RESP3 answers a map, which clients give as a flat `[stream, entries, …]` (ioredis 6, whose
 * default protocol is 3), a `Map` or a plain object.
 */
function streamReplies(reply: unknown): [string, unknown][] {
  if (reply instanceof Map) return [...reply].map(([stream, raw]) => [String(stream), raw]);
  if (!Array.isArray(reply)) {
    if (reply === null || typeof reply !== 'object') return [];
    return Object.entries(reply);
  }
  if (reply.every(Array.isArray)) return reply.map((item) => [String(item[0]), item[1]]);
  const pairs: [string, unknown][] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([String(reply[i]), reply[i + 1]]);
  return pairs;
}

/** Entries of an `XREADGROUP`/`XAUTOCLAIM` reply: `[[id, [field, value, …] | nil], …]`. */
function parseEntries(stream: string, raw: unknown): Entry[] {
  if (!Array.isArray(raw)) return [];
  const entries: Entry[] = [];
  for (const item of raw) {
    if (!Array.isArray(item)) continue;
    const fields = Array.isArray(item[1]) ? (item[1] as unknown[]) : null;
    entries.push({ stream, entryId: String(item[0]), fields, deliveries: 1 });
  }
  return entries;
}
