/**
 * `createOutbox`: the producer side. A message is validated against its topic's schema, checked to
 * be JSON, stamped with the flow context, and written through the outbox store — inside the
 * caller's transaction when one is given, so it exists if and only if the business write
 * committed. Also the operator's view: dead letters, redrive, purge, backlog figures, a diagram.
 */
import { serializeContext } from '../core/context.js';
import type { ErrorRecord } from '../core/error-record.js';
import { describeValue, FlowproofError } from '../core/errors.js';
import { createId } from '../core/ids.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../core/logger.js';
import {
  assertFunction,
  assertInteger,
  assertKnownKeys,
  assertNonEmptyString,
  assertOptionsObject,
  unstorableText,
} from '../core/options.js';
import {
  assertStandardSchema,
  type InferSchemaInput,
  type InferSchemaOutput,
  parseWithSchema,
  type StandardSchemaV1,
} from '../core/standard-schema.js';
import { isTracingEnabled, withSpan } from '../core/tracing.js';
import { encodeJsonResult, NotJsonResult } from '../idempotency/json-result.js';
import { type OutboxFlows, outboxMermaid } from './outbox-mermaid.js';
import type {
  NewOutboxMessage,
  OutboxMessageStatus,
  OutboxStore,
  OutboxTopicCounts,
  StoredOutboxMessage,
} from './outbox-store.js';

/** The topics an outbox carries: each topic's name and the schema of its payload. */
export type OutboxTopics = Readonly<Record<string, StandardSchemaV1>>;

/** Something that wakes relays at once after a commit (e.g. PostgreSQL `NOTIFY`). */
export interface OutboxNotifier {
  /** Tells relays that messages were committed. Called outside any writing transaction. */
  notify(): Promise<void>;
}

/** Options of {@link createOutbox}. */
export interface OutboxOptions<T extends OutboxTopics, Tx> {
  /** Where messages are written. */
  readonly store: OutboxStore<Tx>;
  /** The topics and their payload schemas (zod or any Standard Schema). */
  readonly topics: T;
  /**
   * Wakes relays after an `enqueue` that committed by itself (no `transaction`); after your own
   * transaction commits, call {@link Outbox.notify}. Without it relays find messages by polling.
   */
  readonly notifier?: OutboxNotifier;
  /**
   * Who publishes and who consumes each topic, for {@link Outbox.toMermaid}. Documentation only:
   * nothing is routed by it.
   */
  readonly flows?: OutboxFlows<keyof T & string>;
  /**
   * A pino-compatible logger.
   * @default silent
   */
  readonly logger?: Logger;
}

/** Options of {@link Outbox.enqueue}. */
export interface EnqueueOptions<Tx> {
  /**
   * The ordering key, usually the aggregate's id (`ORD-12345`): messages with one key are
   * published in the order they were enqueued. Omit it (or `null`) for messages with no order.
   */
  readonly key?: string | null;
  /** Extra string headers; the flow context's headers are added (yours win on a clash). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The message id.
   * @default a new ULID
   */
  readonly id?: string;
  /**
   * The store's backend bound to your transaction (what `backend.transaction()` gives its
   * callback, `backend.joinOpenTransaction()` on SQLite, `backend.withTransactionClient(client)` on
   * PostgreSQL): the message commits or rolls back with your writes.
   */
  readonly transaction?: Tx;
}

/** One message of {@link Outbox.enqueueMany}. */
export type OutboxDraft<T extends OutboxTopics> = {
  [K in keyof T & string]: {
    /** The topic. */
    readonly topic: K;
    /** The payload, checked against the topic's schema. */
    readonly payload: InferSchemaInput<T[K]>;
  } & Omit<EnqueueOptions<never>, 'transaction'>;
}[keyof T & string];

/** What {@link Outbox.enqueue} wrote. */
export interface EnqueuedMessage {
  /** The message id. */
  readonly id: string;
  /** Its topic. */
  readonly topic: string;
  /** Its ordering key. */
  readonly key: string | null;
  /** The payload as stored: the schema's output, as JSON data. */
  readonly payload: unknown;
  /** The headers as stored, flow context included. */
  readonly headers: Readonly<Record<string, string>>;
}

/** A message as {@link Outbox.get} and {@link Outbox.deadLetters} show it. */
export interface OutboxMessageState extends EnqueuedMessage {
  /** Where it is. */
  readonly status: OutboxMessageStatus;
  /** Failed publish attempts so far. */
  readonly attempts: number;
  /** The last publish error, or why it was dead-lettered. */
  readonly lastError: ErrorRecord | null;
  /** When it was enqueued (UTC ISO-8601, store clock). */
  readonly createdAt: string;
  /** When it is handed to a relay next, while pending. */
  readonly availableAt: string;
  /** When it was published or dead-lettered; `null` while pending. */
  readonly finishedAt: string | null;
}

/** Figures for alerting, from {@link Outbox.stats}. */
export interface OutboxStats {
  /** Messages waiting to be published. */
  readonly pending: number;
  /** How long the oldest pending message has waited, in milliseconds (0 when none). */
  readonly oldestPendingAgeMs: number;
  /** Messages in the dead-letter list. */
  readonly deadLettered: number;
  /** Per topic: pending, published (not purged yet) and dead-lettered counts. */
  readonly topics: Readonly<Record<string, OutboxTopicCounts>>;
}

/** What {@link Outbox.purge} deleted. */
export interface OutboxPurgeResult {
  /** Published messages deleted. */
  readonly published: number;
  /** Dead letters deleted. */
  readonly deadLettered: number;
}

/** A page of {@link Outbox.deadLetters}. */
export interface OutboxPage {
  /** The messages, ordered by id. */
  readonly messages: readonly OutboxMessageState[];
  /** Pass it back to get the next page; absent on the last page. */
  readonly cursor?: string;
}

/** Options of {@link Outbox.purge}. */
export interface OutboxPurgeOptions {
  /**
   * Delete published messages older than this.
   * @default 604800000 (7 days)
   */
  readonly publishedOlderThanMs?: number;
  /**
   * Also delete dead letters older than this; kept when omitted.
   */
  readonly deadLetteredOlderThanMs?: number;
  /**
   * Rows deleted per statement (short statements keep locks short).
   * @default 1000
   */
  readonly batchSize?: number;
}

/** The producer side and the operator's view of an outbox. See {@link createOutbox}. */
export interface Outbox<T extends OutboxTopics, Tx> {
  /** The topic names, as given. */
  readonly topics: readonly (keyof T & string)[];
  /**
   * Validates `payload` with the topic's schema and writes the message (in `options.transaction`
   * when given). The flow context (correlation id, causation id, actor, tenant, trace, baggage) is
   * copied into the headers; outside any context the message's id becomes its correlation id.
   *
   * @throws TypeError for an unknown topic or a malformed option.
   * @throws FlowproofError `VALIDATION_FAILED` when the payload fails the topic's schema;
   * `OUTBOX_PAYLOAD_UNENCODABLE` when it is not JSON data; `OUTBOX_MESSAGE_EXISTS` for a taken id;
   * the store's errors. Nothing is written on any of them.
   */
  enqueue<K extends keyof T & string>(
    topic: K,
    payload: InferSchemaInput<T[K]>,
    options?: EnqueueOptions<Tx>,
  ): Promise<EnqueuedMessage>;
  /** {@link Outbox.enqueue} for several messages, written all or none, in order. */
  enqueueMany(
    messages: readonly OutboxDraft<T>[],
    options?: { readonly transaction?: Tx },
  ): Promise<readonly EnqueuedMessage[]>;
  /** The message, or `undefined` (never enqueued, or purged). */
  get(id: string): Promise<OutboxMessageState | undefined>;
  /** A page of the dead-letter list, optionally of one topic. */
  deadLetters(query?: {
    readonly topic?: keyof T & string;
    readonly limit?: number;
    readonly cursor?: string;
  }): Promise<OutboxPage>;
  /**
   * Puts a dead-lettered message back in line (attempts reset, due now).
   *
   * @throws FlowproofError `OUTBOX_MESSAGE_NOT_FOUND`, `OUTBOX_NOT_DEAD_LETTERED`.
   */
  redrive(id: string): Promise<void>;
  /** Puts up to `limit` (default 100) dead letters back in line; returns their ids. */
  redrive(query: {
    readonly topic?: keyof T & string;
    readonly limit?: number;
  }): Promise<readonly string[]>;
  /** Deletes old published messages (and dead letters, when asked) in batches; returns counts. */
  purge(options?: OutboxPurgeOptions): Promise<OutboxPurgeResult>;
  /** Backlog size, age of the oldest pending message, and per-topic counts. */
  stats(): Promise<OutboxStats>;
  /**
   * Wakes relays through the `notifier` (no-op without one). Call it after your own transaction
   * that enqueued messages commits.
   */
  notify(): Promise<void>;
  /** A Mermaid flowchart of the topics, who publishes them and who consumes them (`flows`). */
  toMermaid(): string;
}

const TOPIC = /^[\w.:/-]{1,200}$/;
const MAX_ID_LENGTH = 200;
const MAX_KEY_LENGTH = 500;

/** @throws TypeError naming `name` when `text` holds what no store can keep (NUL, lone surrogate). */
function assertStorableText(text: string, name: string): void {
  const problem = unstorableText(text);
  if (problem !== undefined) throw new TypeError(`${name} ${problem}`);
}

/**
 * The first string or object key in JSON data that no store can keep, with the path of the
 * string, or of the object holding the key.
 */
function unstorableTextIn(
  value: unknown,
  path: string,
): { readonly path: string; readonly problem: string } | undefined {
  if (typeof value === 'string') {
    const problem = unstorableText(value);
    return problem === undefined ? undefined : { path, problem };
  }
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = unstorableTextIn(item, `${path}[${index}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const [name, item] of Object.entries(value)) {
    const problem = unstorableText(name);
    if (problem !== undefined) return { path, problem: `has a key that ${problem}` };
    const found = unstorableTextIn(item, `${path}.${name}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Creates an outbox over `store` for `topics`.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const outbox = createOutbox({
 *   store,
 *   topics: { 'order.created': z.object({ orderId: z.string(), total: z.number() }) },
 * });
 * await backend.transaction(async (tx) => {
 *   await tx.execute('INSERT INTO orders (id, total) VALUES (?, ?)', ['ORD-1', 42]);
 *   await outbox.enqueue('order.created', { orderId: 'ORD-1', total: 42 }, {
 *     key: 'ORD-1',
 *     transaction: tx,
 *   });
 * });
 * ```
 */
export function createOutbox<T extends OutboxTopics, Tx>(
  options: OutboxOptions<T, Tx>,
): Outbox<T, Tx> {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['store', 'topics', 'notifier', 'flows', 'logger'], 'options');
  assertOutboxStore(options.store, 'options.store');
  assertOptionsObject(options.topics, 'options.topics');
  const topicNames = Object.keys(options.topics);
  if (topicNames.length === 0) throw new TypeError('options.topics must name at least one topic');
  for (const topic of topicNames) {
    if (!TOPIC.test(topic)) {
      throw new TypeError(
        `options.topics: ${JSON.stringify(topic)} is not a topic name (1 to 200 letters, digits and . _ : / -)`,
      );
    }
    assertStandardSchema(options.topics[topic], `options.topics['${topic}']`);
  }
  if (options.notifier !== undefined) {
    assertOptionsObject(options.notifier, 'options.notifier');
    assertFunction(options.notifier.notify, 'options.notifier.notify');
  }
  const logger = options.logger ?? silentLogger;
  assertLogger(logger, 'options.logger');
  const diagram = outboxMermaid(topicNames, options.flows);
  return new OutboxImpl<T, Tx>(options.store, options.topics, options.notifier, logger, diagram);
}

function assertOutboxStore(store: unknown, name: string): asserts store is OutboxStore<unknown> {
  assertOptionsObject(store, name);
  for (const method of [
    'enqueue',
    'claim',
    'withBackend',
    'get',
    'list',
    'redrive',
    'purge',
    'stats',
  ]) {
    if (typeof (store as Record<string, unknown>)[method] !== 'function') {
      throw new TypeError(`${name} is not an outbox store: it has no ${method}()`);
    }
  }
}

class OutboxImpl<T extends OutboxTopics, Tx> implements Outbox<T, Tx> {
  readonly topics: readonly (keyof T & string)[];
  readonly #store: OutboxStore<Tx>;
  readonly #schemas: T;
  readonly #notifier: OutboxNotifier | undefined;
  readonly #logger: Logger;
  readonly #diagram: string;

  constructor(
    store: OutboxStore<Tx>,
    schemas: T,
    notifier: OutboxNotifier | undefined,
    logger: Logger,
    diagram: string,
  ) {
    this.#store = store;
    this.#schemas = schemas;
    this.#notifier = notifier;
    this.#logger = logger;
    this.#diagram = diagram;
    this.topics = Object.freeze(Object.keys(schemas)) as readonly (keyof T & string)[];
  }

  async enqueue<K extends keyof T & string>(
    topic: K,
    payload: InferSchemaInput<T[K]>,
    options: EnqueueOptions<Tx> = {},
  ): Promise<EnqueuedMessage> {
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, ['key', 'headers', 'id', 'transaction'], 'options');
    const [message] = await this.#write([{ ...options, topic, payload }], options.transaction);
    return message as EnqueuedMessage;
  }

  async enqueueMany(
    messages: readonly OutboxDraft<T>[],
    options: { readonly transaction?: Tx } = {},
  ): Promise<readonly EnqueuedMessage[]> {
    if (!Array.isArray(messages)) {
      throw new TypeError(`messages must be an array, got ${describeValue(messages)}`);
    }
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, ['transaction'], 'options');
    messages.forEach((message, index) => {
      assertOptionsObject(message, `messages[${index}]`);
      assertKnownKeys(message, ['topic', 'payload', 'key', 'headers', 'id'], `messages[${index}]`);
    });
    if (messages.length === 0) return [];
    return this.#write(messages, options.transaction);
  }

  async #write(
    drafts: readonly (Omit<EnqueueOptions<Tx>, 'transaction'> & {
      topic: string;
      payload: unknown;
    })[],
    transaction: Tx | undefined,
  ): Promise<readonly EnqueuedMessage[]> {
    // A backend outside any transaction would write the message on its own, committed at once
    // whatever becomes of the caller's work: the one guarantee the outbox gives would be gone.
    if (
      transaction !== undefined &&
      (transaction as { readonly inTransaction?: unknown }).inTransaction === false
    ) {
      throw new TypeError(
        'options.transaction must be a backend bound to a transaction (the one backend.transaction() passes to its callback, withTransactionClient() or joinOpenTransaction()); leave it out to enqueue on its own',
      );
    }
    // Checked and encoded before anything is written: a bad message leaves no partial batch.
    const contextHeaders = serializeContext();
    const messages: NewOutboxMessage[] = [];
    for (const [index, draft] of drafts.entries()) {
      const where = drafts.length === 1 ? 'options' : `messages[${index}]`;
      messages.push(await this.#prepare(draft, where, contextHeaders));
    }
    const store = transaction === undefined ? this.#store : this.#store.withBackend(transaction);
    const write = () => store.enqueue(messages);
    if (isTracingEnabled()) {
      await withSpan(
        'flowproof.outbox.enqueue',
        {
          'flowproof.outbox.topic': messages[0]?.topic ?? '',
          'flowproof.outbox.messages': messages.length,
          'flowproof.outbox.transaction': transaction !== undefined,
        },
        write,
      );
    } else {
      await write();
    }
    logEvent(
      this.#logger,
      'debug',
      {
        event: 'outbox.enqueued',
        messages: messages.map((m) => ({ id: m.id, topic: m.topic, key: m.key })),
        inTransaction: transaction !== undefined,
      },
      `enqueued ${messages.length} outbox message(s)`,
    );
    if (transaction === undefined) await this.notify();
    return messages.map(({ id, topic, key, payload, headers }) => ({
      id,
      topic,
      key,
      payload,
      headers,
    }));
  }

  async #prepare(
    draft: Omit<EnqueueOptions<Tx>, 'transaction'> & { topic: string; payload: unknown },
    where: string,
    contextHeaders: Readonly<Record<string, string>>,
  ): Promise<NewOutboxMessage> {
    const { topic } = draft;
    if (typeof topic !== 'string' || !Object.hasOwn(this.#schemas, topic)) {
      throw new TypeError(
        `topic ${typeof topic === 'string' ? JSON.stringify(topic) : describeValue(topic)} is not one of this outbox's topics (${Object.keys(this.#schemas).join(', ')})`,
      );
    }
    const id = draft.id ?? createId();
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
      throw new TypeError(`${where}.id must be a string of 1 to ${MAX_ID_LENGTH} characters`);
    }
    assertStorableText(id, `${where}.id`);
    const key = draft.key ?? null;
    if (
      key !== null &&
      (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH)
    ) {
      throw new TypeError(
        `${where}.key must be a string of 1 to ${MAX_KEY_LENGTH} characters, or null`,
      );
    }
    if (key !== null) assertStorableText(key, `${where}.key`);
    const extra = draft.headers ?? {};
    assertOptionsObject(extra, `${where}.headers`);
    for (const [name, value] of Object.entries(extra)) {
      assertNonEmptyString(name, `${where}.headers key`);
      assertStorableText(name, `${where}.headers key`);
      if (typeof value !== 'string') {
        throw new TypeError(
          `${where}.headers.${name} must be a string, got ${describeValue(value)}`,
        );
      }
      assertStorableText(value, `${where}.headers.${name}`);
    }
    const schema = this.#schemas[topic] as StandardSchemaV1;
    const parsed: InferSchemaOutput<StandardSchemaV1> = await parseWithSchema(
      schema,
      draft.payload,
      `the payload of ${topic}`,
    );
    let payload: unknown;
    try {
      // The stored form is the JSON round trip: what the consumer will see, checked now.
      payload = JSON.parse(encodeJsonResult(parsed));
    } catch (error) {
      if (!(error instanceof NotJsonResult)) throw error;
      throw new FlowproofError(
        'OUTBOX_PAYLOAD_UNENCODABLE',
        `the payload of ${topic} is not JSON data: ${error.message.replace(/^the result /, 'the value ')}`,
        { details: { topic, path: error.path } },
      );
    }
    const unstorable = unstorableTextIn(payload, '$');
    if (unstorable !== undefined) {
      throw new FlowproofError(
        'OUTBOX_PAYLOAD_UNENCODABLE',
        `the payload of ${topic} cannot be stored: the text at ${unstorable.path} ${unstorable.problem}`,
        { details: { topic, path: unstorable.path } },
      );
    }
    const headers: Record<string, string> = { ...contextHeaders, ...extra };
    // Every message carries a correlation id: outside a flow context, its own id starts one.
    headers['x-correlation-id'] ??= id;
    return { id, topic, key, payload, headers };
  }

  async get(id: string): Promise<OutboxMessageState | undefined> {
    assertNonEmptyString(id, 'id');
    const stored = await this.#store.get(id);
    return stored === undefined ? undefined : messageState(stored);
  }

  async deadLetters(
    query: {
      readonly topic?: keyof T & string;
      readonly limit?: number;
      readonly cursor?: string;
    } = {},
  ): Promise<OutboxPage> {
    assertOptionsObject(query, 'query');
    assertKnownKeys(query, ['topic', 'limit', 'cursor'], 'query');
    const limit = query.limit ?? 100;
    assertInteger(limit, 'query.limit', 1, 10_000);
    if (query.topic !== undefined) assertNonEmptyString(query.topic, 'query.topic');
    if (query.cursor !== undefined) assertNonEmptyString(query.cursor, 'query.cursor');
    const rows = await this.#store.list({
      status: 'dead_lettered',
      limit: limit + 1,
      ...(query.topic === undefined ? {} : { topic: query.topic }),
      ...(query.cursor === undefined ? {} : { afterId: query.cursor }),
    });
    const page = rows.slice(0, limit).map(messageState);
    const last = page.at(-1);
    return rows.length > limit && last ? { messages: page, cursor: last.id } : { messages: page };
  }

  redrive(id: string): Promise<void>;
  redrive(query: {
    readonly topic?: keyof T & string;
    readonly limit?: number;
  }): Promise<readonly string[]>;
  async redrive(
    target: string | { readonly topic?: keyof T & string; readonly limit?: number },
  ): Promise<unknown> {
    if (typeof target === 'string') {
      assertNonEmptyString(target, 'id');
      const ids = await this.#store.redrive({ ids: [target], limit: 1 });
      if (ids.length === 1) {
        logEvent(
          this.#logger,
          'info',
          { event: 'outbox.redriven', ids },
          'outbox message redriven',
        );
        return;
      }
      const stored = await this.#store.get(target);
      if (stored === undefined) {
        throw new FlowproofError('OUTBOX_MESSAGE_NOT_FOUND', `no outbox message has id ${target}`, {
          details: { messageId: target },
        });
      }
      throw new FlowproofError(
        'OUTBOX_NOT_DEAD_LETTERED',
        `outbox message ${target} is ${stored.status}, not dead-lettered`,
        { details: { messageId: target, status: stored.status } },
      );
    }
    assertOptionsObject(target, 'query');
    assertKnownKeys(target, ['topic', 'limit'], 'query');
    const limit = target.limit ?? 100;
    assertInteger(limit, 'query.limit', 1, 10_000);
    if (target.topic !== undefined) assertNonEmptyString(target.topic, 'query.topic');
    const ids = await this.#store.redrive({
      limit,
      ...(target.topic === undefined ? {} : { topic: target.topic }),
    });
    if (ids.length > 0) {
      logEvent(this.#logger, 'info', { event: 'outbox.redriven', ids }, 'outbox messages redriven');
    }
    return ids;
  }

  async purge(options: OutboxPurgeOptions = {}): Promise<OutboxPurgeResult> {
    assertOptionsObject(options, 'options');
    assertKnownKeys(
      options,
      ['publishedOlderThanMs', 'deadLetteredOlderThanMs', 'batchSize'],
      'options',
    );
    const publishedOlderThanMs = options.publishedOlderThanMs ?? 604_800_000;
    assertInteger(publishedOlderThanMs, 'options.publishedOlderThanMs', 0, Number.MAX_SAFE_INTEGER);
    if (options.deadLetteredOlderThanMs !== undefined) {
      assertInteger(
        options.deadLetteredOlderThanMs,
        'options.deadLetteredOlderThanMs',
        0,
        Number.MAX_SAFE_INTEGER,
      );
    }
    const batchSize = options.batchSize ?? 1000;
    assertInteger(batchSize, 'options.batchSize', 1, 100_000);
    const published = await purgeAll(this.#store, 'published', publishedOlderThanMs, batchSize);
    const deadLettered =
      options.deadLetteredOlderThanMs === undefined
        ? 0
        : await purgeAll(this.#store, 'dead_lettered', options.deadLetteredOlderThanMs, batchSize);
    if (published + deadLettered > 0) {
      logEvent(
        this.#logger,
        'info',
        { event: 'outbox.purged', published, deadLettered },
        'outbox messages purged',
      );
    }
    return { published, deadLettered };
  }

  async stats(): Promise<OutboxStats> {
    const stats = await this.#store.stats();
    let pending = 0;
    let deadLettered = 0;
    for (const counts of Object.values(stats.topics)) {
      pending += counts.pending;
      deadLettered += counts.deadLettered;
    }
    return {
      pending,
      deadLettered,
      oldestPendingAgeMs:
        stats.oldestPendingAt === null ? 0 : Math.max(0, stats.now - stats.oldestPendingAt),
      topics: stats.topics,
    };
  }

  async notify(): Promise<void> {
    if (this.#notifier === undefined) return;
    try {
      await this.#notifier.notify();
    } catch (error) {
      // A lost wake-up only delays publishing until the next poll: never fail a committed write.
      logEvent(
        this.#logger,
        'warn',
        { event: 'outbox.notify_failed', err: error },
        'could not wake the outbox relays; they will find the messages when they poll',
      );
    }
  }

  toMermaid(): string {
    return this.#diagram;
  }
}

/** Deletes in batches until a batch comes back short. */
async function purgeAll(
  store: OutboxStore<unknown>,
  status: 'published' | 'dead_lettered',
  olderThanMs: number,
  limit: number,
): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await store.purge({ status, finishedBeforeMs: olderThanMs, limit });
    total += deleted;
    if (deleted < limit) return total;
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A stored message as users see it. */
export function messageState(stored: StoredOutboxMessage): OutboxMessageState {
  return {
    id: stored.id,
    topic: stored.topic,
    key: stored.key,
    payload: stored.payload,
    headers: stored.headers,
    status: stored.status,
    attempts: stored.attempts,
    lastError: stored.lastError,
    createdAt: iso(stored.createdAt),
    availableAt: iso(stored.availableAt),
    finishedAt: stored.finishedAt === null ? null : iso(stored.finishedAt),
  };
}
