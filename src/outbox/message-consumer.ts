/**
 * Broker-neutral handling of a delivered outbox message: the flow context restored from its
 * headers, the payload validated with its topic's schema, the handler run at most once per message
 * id through an inbox, and failures sorted into retryable and permanent. Transports (the Redis
 * Streams consumer, the in-process publisher) decode a delivery into a {@link ReceivedMessage} and
 * call {@link MessageConsumer.handle}.
 */
import { type FlowContext, getContext, restoreContext, runWithContext } from '../core/context.js';
import { FlowproofError, isFlowproofError } from '../core/errors.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../core/logger.js';
import { assertFunction, assertKnownKeys, assertOptionsObject } from '../core/options.js';
import { NonRetryableError } from '../core/retry-policy.js';
import {
  assertStandardSchema,
  type InferSchemaOutput,
  parseWithSchema,
  type StandardSchemaV1,
} from '../core/standard-schema.js';
import { withSpan } from '../core/tracing.js';
import type { Dedupe } from '../idempotency/dedupe.js';
import { checkOperation, type Idempotency } from '../idempotency/idempotency.js';

/**
 * A message as a consumer receives it.
 *
 * @typeParam P - the payload's type: the topic schema's output once validated.
 */
export interface ReceivedMessage<P = unknown> {
  /** The outbox message id (the same on every redelivery): what the inbox de-duplicates on. */
  readonly id: string;
  /** Its topic, e.g. `order.created`. */
  readonly topic: string;
  /** Its ordering key, or `null`. */
  readonly key: string | null;
  /** The payload (validated by the topic's schema when the consumer has one). */
  readonly payload: P;
  /** String headers, including the producer's flow context (`x-correlation-id`, `traceparent`…). */
  readonly headers: Readonly<Record<string, string>>;
  /** When it was enqueued, in epoch milliseconds. */
  readonly createdAt: number;
  /** How many times it was delivered, this delivery included (1 the first time). */
  readonly deliveries: number;
}

/** Topic schemas: the same record of Standard Schemas `createOutbox` takes. */
export type MessageTopics = Readonly<Record<string, StandardSchemaV1>>;

/**
 * What a handler gets besides the message.
 *
 * @typeParam Tx - the inbox's transaction type (see {@link InboxTransaction}).
 */
export interface MessageHandlerContext<Tx = unknown> {
  /** The consumer's name. */
  readonly consumer: string;
  /** The flow context restored from the message (also current inside the handler). */
  readonly flow: FlowContext;
  /**
   * With an `Idempotency` inbox: the store's backend bound to the transaction the inbox record
   * commits in, typed by the store (a `PostgresBackend` over PostgreSQL). Write through it so the
   * handler's writes and the inbox record commit together. `undefined` with a `Dedupe` inbox or
   * none.
   */
  readonly transaction: Tx;
}

/** A handler of one topic's messages. */
export type MessageHandler<P = unknown, Tx = unknown> = (
  message: ReceivedMessage<P>,
  context: MessageHandlerContext<Tx>,
) => unknown;

/** The handlers of a consumer, per topic, typed by the topic schemas when given. */
export type MessageHandlers<
  Topics extends MessageTopics | undefined,
  Tx = unknown,
> = Topics extends MessageTopics
  ? { readonly [T in keyof Topics & string]?: MessageHandler<InferSchemaOutput<Topics[T]>, Tx> }
  : Readonly<Record<string, MessageHandler<unknown, Tx>>>;

/**
 * What records that a message was handled: a `Dedupe` (`createDedupe`: the handler runs at most
 * once per message id; for effects outside the database) or an `Idempotency`
 * (`createIdempotency` over a SQL store: the handler runs inside `runInTransaction`, so its writes
 * through `context.transaction` and the inbox record commit together — exactly once).
 */
export type MessageInbox = Dedupe | Idempotency<unknown, boolean>;

/**
 * The `context.transaction` handlers get with inbox `I`: the store's transaction type for an
 * `Idempotency`, `undefined` otherwise.
 */
export type InboxTransaction<I> = I extends Idempotency<infer Tx, boolean> ? Tx : undefined;

/**
 * Options of {@link createMessageConsumer}.
 *
 * @typeParam Topics - the topic schemas, when given.
 * @typeParam Inbox - the inbox, when given; it types `context.transaction`.
 */
export interface MessageConsumerOptions<
  Topics extends MessageTopics | undefined = undefined,
  Inbox extends MessageInbox | undefined = undefined,
> {
  /**
   * The consumer's name: the inbox de-duplicates per name, and transports use it (the Redis
   * consumer group). 1 to 128 printable ASCII characters without spaces.
   */
  readonly name: string;
  /** A handler per topic the consumer subscribes to. */
  readonly handlers: MessageHandlers<Topics, InboxTransaction<Inbox>>;
  /**
   * Schemas per topic (the record `createOutbox` takes): each payload is validated with its
   * topic's schema before the handler sees it, and handlers are typed by the schemas' output.
   * @default undefined (payloads are not validated)
   */
  readonly topics?: Topics;
  /**
   * Records handled message ids, so a redelivered message is not applied twice.
   * @default undefined (no de-duplication: the handler runs on every delivery)
   */
  readonly inbox?: Inbox;
  /**
   * A pino-compatible logger (`outbox.consume.handled`, `.duplicate`, `.failed`).
   * @default silent
   */
  readonly logger?: Logger;
}

/** What {@link MessageConsumer.handle} did. */
export type HandleOutcome = 'handled' | 'duplicate';

/** A consumer made by {@link createMessageConsumer}; transports feed it deliveries. */
export interface MessageConsumer {
  /** Its name. */
  readonly name: string;
  /** The topics it has handlers for. */
  readonly topics: readonly string[];
  /**
   * Handles one delivery: restores the flow context from the headers, validates the payload and
   * runs the topic's handler through the inbox, inside a `flowproof.outbox.consume` span.
   * Resolves `handled`, or `duplicate` when the inbox had recorded the message already (the
   * handler did not run). Acknowledge the delivery only once it resolves.
   *
   * @throws FlowproofError `MESSAGE_MALFORMED` (not a message, or a topic without a handler),
   * `VALIDATION_FAILED` (the payload does not match the topic's schema): permanent, see
   * {@link isPermanentFailure}; the inbox's errors (`IDEMPOTENCY_IN_PROGRESS`…), and whatever the
   * handler throws.
   */
  handle(message: ReceivedMessage): Promise<HandleOutcome>;
}

/**
 * True when redelivering cannot help: `VALIDATION_FAILED`, `MESSAGE_MALFORMED`, or a
 * `NonRetryableError` thrown by a handler. Transports dead-letter such a message at once.
 *
 * @example
 * ```ts
 * try { await consumer.handle(message); ack(); }
 * catch (error) { if (isPermanentFailure(error)) deadLetter(message, error); }
 * ```
 */
export function isPermanentFailure(error: unknown): boolean {
  return (
    error instanceof NonRetryableError ||
    isFlowproofError(error, 'VALIDATION_FAILED') ||
    isFlowproofError(error, 'MESSAGE_MALFORMED')
  );
}

const OPTION_KEYS = ['name', 'handlers', 'topics', 'inbox', 'logger'];

/**
 * Creates a broker-neutral message consumer.
 *
 * @throws TypeError naming the option when an option is invalid (a handler that is not a function,
 * a topic schema that is not a Standard Schema, an inbox that is neither a `Dedupe` nor an
 * `Idempotency`).
 * @example
 * ```ts
 * const consumer = createMessageConsumer({
 *   name: 'billing',
 *   topics: { 'order.created': z.object({ orderId: z.string(), total: z.number() }) },
 *   inbox: createIdempotency({ store: postgresIdempotencyStore }),
 *   handlers: {
 *     'order.created': async (message, { transaction }) => {
 *       // transaction: the PostgresBackend bound to the inbox record's transaction
 *       await transaction.query('INSERT INTO invoices (order_id, total) VALUES ($1, $2)', [
 *         message.payload.orderId,
 *         message.payload.total,
 *       ]);
 *     },
 *   },
 * });
 * ```
 */
export function createMessageConsumer<
  Topics extends MessageTopics | undefined = undefined,
  Inbox extends MessageInbox | undefined = undefined,
>(options: MessageConsumerOptions<Topics, Inbox>): MessageConsumer {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, OPTION_KEYS, 'options');
  const { name, inbox } = options;
  checkOperation(name, 'options.name');
  assertOptionsObject(options.handlers, 'options.handlers');
  const handlers = new Map<string, MessageHandler>();
  for (const [topic, handler] of Object.entries(options.handlers)) {
    if (handler === undefined) continue;
    assertFunction(handler, `options.handlers.${topic}`);
    handlers.set(topic, handler as MessageHandler);
  }
  if (handlers.size === 0) throw new TypeError('options.handlers must have at least one handler');
  const schemas = new Map<string, StandardSchemaV1>();
  if (options.topics !== undefined) {
    assertOptionsObject(options.topics, 'options.topics');
    for (const [topic, schema] of Object.entries(options.topics)) {
      assertStandardSchema(schema, `options.topics.${topic}`);
      schemas.set(topic, schema);
    }
    for (const topic of handlers.keys()) {
      if (!schemas.has(topic)) {
        throw new TypeError(`options.handlers.${topic} has no schema in options.topics`);
      }
    }
  }
  if (
    inbox !== undefined &&
    typeof (inbox as Partial<Dedupe>).dedupe !== 'function' &&
    typeof (inbox as Partial<Idempotency>).runInTransaction !== 'function'
  ) {
    throw new TypeError(
      'options.inbox must be a Dedupe (createDedupe) or an Idempotency (createIdempotency)',
    );
  }
  const logger = options.logger ?? silentLogger;
  assertLogger(logger, 'options.logger');
  const topics = Object.freeze([...handlers.keys()]);

  const handle = async (message: ReceivedMessage): Promise<HandleOutcome> => {
    checkMessage(message);
    const handler = handlers.get(message.topic);
    if (handler === undefined) {
      throw malformed(message.id, `consumer ${name} has no handler for topic ${message.topic}`);
    }
    return runWithContext(restoreFlow(message), () =>
      withSpan(
        'flowproof.outbox.consume',
        {
          'flowproof.consumer': name,
          'flowproof.message.id': message.id,
          'flowproof.message.topic': message.topic,
          'flowproof.message.deliveries': message.deliveries,
        },
        async (span) => {
          const fields = {
            consumer: name,
            messageId: message.id,
            topic: message.topic,
            deliveries: message.deliveries,
          };
          try {
            const schema = schemas.get(message.topic);
            const payload =
              schema === undefined
                ? message.payload
                : await parseWithSchema(
                    schema,
                    message.payload,
                    `The payload of ${message.topic} message ${message.id}`,
                  );
            const received = Object.freeze({ ...message, payload });
            const flow = getContext() as FlowContext;
            const run = (transaction: unknown) =>
              handler(received, Object.freeze({ consumer: name, flow, transaction }));
            const outcome = await runThroughInbox(inbox, name, message.id, run);
            span.setAttribute('flowproof.outcome', outcome);
            logEvent(
              logger,
              outcome === 'handled' ? 'info' : 'debug',
              { event: `outbox.consume.${outcome}`, ...fields },
              outcome === 'handled'
                ? 'Message handled'
                : 'Message already handled; the handler did not run again',
            );
            return outcome;
          } catch (error) {
            const permanent = isPermanentFailure(error);
            logEvent(
              logger,
              permanent ? 'error' : 'warn',
              {
                event: 'outbox.consume.failed',
                ...fields,
                permanent,
                ...(isFlowproofError(error) ? { code: error.code } : {}),
              },
              permanent
                ? 'Message handling failed for good'
                : 'Message handling failed; it will be redelivered',
            );
            throw error;
          }
        },
      ),
    );
  };
  return Object.freeze({ name, topics, handle });
}

/** Runs `run` once per message id through `inbox`; without one, runs it. */
async function runThroughInbox(
  inbox: MessageInbox | undefined,
  consumer: string,
  messageId: string,
  run: (transaction: unknown) => unknown,
): Promise<HandleOutcome> {
  if (inbox === undefined) {
    await run(undefined);
    return 'handled';
  }
  // The handler's own result is not kept: only that it ran (JSON `null` is always storable).
  if ('dedupe' in inbox) {
    const { duplicate } = await inbox.dedupe(messageId, async () => {
      await run(undefined);
      return null;
    });
    return duplicate ? 'duplicate' : 'handled';
  }
  let ran = false;
  await inbox.runInTransaction(
    messageId,
    null,
    async (transaction: unknown) => {
      ran = true;
      await run(transaction);
      return null;
    },
    // Ids are unique by themselves: de-duplicated per consumer, whatever the tenant.
    { operation: consumer, scope: {} },
  );
  return ran ? 'handled' : 'duplicate';
}

/**
 * The flow context of `message`: the producer's (identity, trace and baggage: the outbox wrote
 * them, a trusted hop), caused by this message.
 */
function restoreFlow(message: ReceivedMessage) {
  try {
    return restoreContext(message.headers, {
      causationId: message.id,
      trustIdentity: true,
      baggage: true,
    });
  } catch (error) {
    // An id that is not a context token (the application chose it) cannot be the causation id.
    if (!(error instanceof TypeError)) throw error;
    return restoreContext(message.headers, { trustIdentity: true, baggage: true });
  }
}

function malformed(deliveryId: string, reason: string): FlowproofError {
  return new FlowproofError('MESSAGE_MALFORMED', `Message ${deliveryId} is malformed: ${reason}`, {
    details: { deliveryId, reason },
  });
}

/** Refuses what is not a {@link ReceivedMessage} (a transport's bug or a foreign producer). */
function checkMessage(message: ReceivedMessage): void {
  const id = typeof message?.id === 'string' ? message.id : '';
  const problem = (() => {
    if (typeof message !== 'object' || message === null) return 'not an object';
    if (id === '') return 'id must be a non-empty string';
    if (typeof message.topic !== 'string' || message.topic === '') {
      return 'topic must be a non-empty string';
    }
    if (message.key !== null && typeof message.key !== 'string') {
      return 'key must be a string or null';
    }
    if (
      typeof message.headers !== 'object' ||
      message.headers === null ||
      Object.values(message.headers).some((value) => typeof value !== 'string')
    ) {
      return 'headers must be an object of strings';
    }
    if (!Number.isFinite(message.createdAt)) return 'createdAt must be a number';
    if (!Number.isInteger(message.deliveries) || message.deliveries < 1) {
      return 'deliveries must be a positive integer';
    }
    return undefined;
  })();
  if (problem !== undefined) throw malformed(id, problem);
}
