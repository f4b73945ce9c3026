/**
 * The relay: claims committed messages from the outbox store in batches, hands them to a
 * publisher, and records the outcome. Delivery is at least once: a message is marked published
 * only after the broker acknowledged it, so a relay that dies in between leaves it to be claimed
 * again when its claim runs out (publishers that recognise the message id make the repeat
 * harmless). Several relays share the work through claims; messages of one key never go to two
 * relays at once and leave in order.
 */
import { MAX_TIMER_MS, sleep, withTimeout } from '../core/async.js';
import { errorRecord } from '../core/error-record.js';
import { FlowproofError } from '../core/errors.js';
import { createId } from '../core/ids.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../core/logger.js';
import {
  assertFunction,
  assertInteger,
  assertKnownKeys,
  assertNonEmptyString,
  assertOptionsObject,
} from '../core/options.js';
import {
  assertRetryPolicy,
  isRetryable,
  type ResolvedRetryPolicy,
  type RetryPolicy,
  resolveRetryPolicy,
  retryDelay,
} from '../core/retry-policy.js';
import { isTracingEnabled, withSpan } from '../core/tracing.js';
import { defaultWorkerName } from '../core/worker-name.js';
import type {
  OutboxDeadLetter,
  OutboxRetry,
  OutboxStore,
  StoredOutboxMessage,
} from './outbox-store.js';
import type { OutboxPublisher } from './publisher.js';

/**
 * A source of wake-ups: the relay subscribes at `start()` and runs a batch at once on each call of
 * `listener`, instead of waiting for its next poll (e.g. PostgreSQL `LISTEN`).
 */
export interface OutboxWakeUp {
  /** Calls `listener` when messages were committed; returns how to unsubscribe. */
  subscribe(
    listener: () => void,
  ): (() => void | Promise<void>) | Promise<() => void | Promise<void>>;
}

/** Options of {@link createOutboxRelay}. */
export interface OutboxRelayOptions {
  /** Where the messages are. */
  readonly store: OutboxStore<unknown>;
  /** Where they go. */
  readonly publisher: OutboxPublisher;
  /**
   * This relay's name in claims and logs.
   * @default `<host>/<pid>/<random>`
   */
  readonly relayId?: string;
  /**
   * Messages per claim.
   * @default 100
   */
  readonly batchSize?: number;
  /**
   * How long the relay waits between polls when it found nothing to do, in milliseconds.
   * @default 100
   */
  readonly pollIntervalMs?: number;
  /**
   * How long a claim lasts: another relay takes the messages over when this one dies. Longer than
   * `publishTimeoutMs`.
   * @default 30000
   */
  readonly leaseMs?: number;
  /**
   * A `publish` call that takes longer counts as failed for all its messages.
   * @default 10000
   */
  readonly publishTimeoutMs?: number;
  /**
   * Retries of a message the publisher did not acknowledge (p-retry's option names; `retries + 1`
   * attempts in all), then it goes to the dead-letter list. `shouldRetry` returning `false`, or a
   * `NonRetryableError`, dead-letters at once.
   * @default { retries: 9, factor: 2, minTimeout: 1000, maxTimeout: 300000, randomize: true }
   */
  readonly retry?: RetryPolicy;
  /**
   * How long published messages are kept before the relay purges them, in milliseconds.
   * @default 604800000 (7 days)
   */
  readonly retainPublishedMs?: number;
  /**
   * How often a running relay purges, in milliseconds; 0 turns purging off (call
   * `outbox.purge()` yourself).
   * @default 60000
   */
  readonly purgeIntervalMs?: number;
  /** Wakes the relay at once after a commit (see {@link OutboxWakeUp}); polling goes on too. */
  readonly wakeUp?: OutboxWakeUp;
  /**
   * A pino-compatible logger.
   * @default silent
   */
  readonly logger?: Logger;
}

/** What one batch did. */
export interface RelayBatchResult {
  /** Messages claimed. */
  readonly claimed: number;
  /** Messages the publisher acknowledged and the store recorded as published. */
  readonly published: number;
  /** Messages given back for a later attempt (failed, or held back behind one of their key). */
  readonly retried: number;
  /** Messages moved to the dead-letter list. */
  readonly deadLettered: number;
}

/** A relay made by {@link createOutboxRelay}. */
export interface OutboxRelay {
  /** Its name in claims and logs. */
  readonly relayId: string;
  /**
   * Starts relaying in the background: a batch, then the next at once while batches come back
   * full, else after `pollIntervalMs` (or a wake-up). Store and publisher failures are logged and
   * retried. Calling it again while running does nothing.
   *
   * @throws FlowproofError `OUTBOX_RELAY_CLOSED` after `close()`.
   */
  start(): void;
  /**
   * Claims and publishes one batch now.
   *
   * @throws FlowproofError `OUTBOX_RELAY_CLOSED` after `close()`; the store's errors.
   */
  runOnce(): Promise<RelayBatchResult>;
  /**
   * Runs batches until one claims nothing; returns the totals. For tests and scripts.
   *
   * @throws FlowproofError `OUTBOX_RELAY_CLOSED` after `close()`; the store's errors.
   */
  drain(): Promise<RelayBatchResult>;
  /**
   * Stops: no new batch starts, the running one finishes (up to `timeoutMs`, then it is left to
   * its claim running out), wake-ups are unsubscribed. Does not close the store or the publisher.
   * Idempotent.
   */
  close(options?: { readonly timeoutMs?: number }): Promise<void>;
}

const DEFAULT_RELAY_RETRY: ResolvedRetryPolicy = Object.freeze({
  retries: 9,
  factor: 2,
  minTimeout: 1_000,
  maxTimeout: 300_000,
  randomize: true,
  shouldRetry: undefined,
});

/** A store error makes the loop wait this long, doubling up to the maximum, before trying again. */
const MIN_ERROR_BACKOFF_MS = 100;
const MAX_ERROR_BACKOFF_MS = 5_000;

/**
 * Creates a relay from `store` to `publisher`. Run one or more per deployment (each with
 * `start()`); they share the messages.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const relay = createOutboxRelay({ store, publisher: createRedisStreamsPublisher({ client: redis }) });
 * relay.start();
 * process.on('SIGTERM', () => relay.close());
 * ```
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  assertOptionsObject(options, 'options');
  assertKnownKeys(
    options,
    [
      'store',
      'publisher',
      'relayId',
      'batchSize',
      'pollIntervalMs',
      'leaseMs',
      'publishTimeoutMs',
      'retry',
      'retainPublishedMs',
      'purgeIntervalMs',
      'wakeUp',
      'logger',
    ],
    'options',
  );
  assertOptionsObject(options.store, 'options.store');
  for (const method of ['claim', 'markPublished', 'reschedule', 'deadLetter', 'purge'] as const) {
    assertFunction(options.store[method], `options.store.${method}`);
  }
  assertOptionsObject(options.publisher, 'options.publisher');
  assertFunction(options.publisher.publish, 'options.publisher.publish');
  const relayId = options.relayId ?? defaultWorkerName();
  assertNonEmptyString(relayId, 'options.relayId');
  const batchSize = options.batchSize ?? 100;
  assertInteger(batchSize, 'options.batchSize', 1, 10_000);
  const pollIntervalMs = options.pollIntervalMs ?? 100;
  assertInteger(pollIntervalMs, 'options.pollIntervalMs', 1, MAX_TIMER_MS);
  const leaseMs = options.leaseMs ?? 30_000;
  assertInteger(leaseMs, 'options.leaseMs', 100, MAX_TIMER_MS);
  const publishTimeoutMs = options.publishTimeoutMs ?? Math.min(10_000, Math.floor(leaseMs / 2));
  assertInteger(publishTimeoutMs, 'options.publishTimeoutMs', 1, MAX_TIMER_MS);
  if (publishTimeoutMs >= leaseMs) {
    throw new TypeError(
      `options.publishTimeoutMs (${publishTimeoutMs}) must be shorter than options.leaseMs (${leaseMs}): a claim must outlast the publish it covers`,
    );
  }
  if (options.retry !== undefined) assertRetryPolicy(options.retry, 'options.retry');
  const retainPublishedMs = options.retainPublishedMs ?? 604_800_000;
  assertInteger(retainPublishedMs, 'options.retainPublishedMs', 0, Number.MAX_SAFE_INTEGER);
  const purgeIntervalMs = options.purgeIntervalMs ?? 60_000;
  assertInteger(purgeIntervalMs, 'options.purgeIntervalMs', 0, MAX_TIMER_MS);
  if (options.wakeUp !== undefined) {
    assertOptionsObject(options.wakeUp, 'options.wakeUp');
    assertFunction(options.wakeUp.subscribe, 'options.wakeUp.subscribe');
  }
  const logger = options.logger ?? silentLogger;
  assertLogger(logger, 'options.logger');
  return new Relay({
    store: options.store,
    publisher: options.publisher,
    relayId,
    batchSize,
    pollIntervalMs,
    leaseMs,
    publishTimeoutMs,
    retry: resolveRetryPolicy(options.retry, DEFAULT_RELAY_RETRY),
    retainPublishedMs,
    purgeIntervalMs,
    wakeUp: options.wakeUp,
    logger,
  });
}

interface RelayConfig {
  readonly store: OutboxStore<unknown>;
  readonly publisher: OutboxPublisher;
  readonly relayId: string;
  readonly batchSize: number;
  readonly pollIntervalMs: number;
  readonly leaseMs: number;
  readonly publishTimeoutMs: number;
  readonly retry: ResolvedRetryPolicy;
  readonly retainPublishedMs: number;
  readonly purgeIntervalMs: number;
  readonly wakeUp: OutboxWakeUp | undefined;
  readonly logger: Logger;
}

const NOTHING: RelayBatchResult = Object.freeze({
  claimed: 0,
  published: 0,
  retried: 0,
  deadLettered: 0,
});

class Relay implements OutboxRelay {
  readonly relayId: string;
  readonly #config: RelayConfig;
  #closed = false;
  #loop: Promise<void> | undefined;
  /** Wakes the loop's wait early (a wake-up, or close). */
  #wake = new AbortController();
  #unsubscribe: (() => void | Promise<void>) | undefined;
  /** Subscribing to wake-ups, tried again while it fails; `close()` waits for it. */
  #subscription: Promise<void> | undefined;
  /** Aborted by `close()`: cuts short the wait before subscribing again. */
  readonly #closing = new AbortController();
  #lastPurgeAt = 0;

  constructor(config: RelayConfig) {
    this.#config = config;
    this.relayId = config.relayId;
  }

  start(): void {
    this.#assertOpen();
    if (this.#loop) return;
    this.#loop = this.#run();
  }

  async runOnce(): Promise<RelayBatchResult> {
    this.#assertOpen();
    return this.#batch();
  }

  async drain(): Promise<RelayBatchResult> {
    this.#assertOpen();
    let total = NOTHING;
    for (;;) {
      const result = await this.#batch();
      total = {
        claimed: total.claimed + result.claimed,
        published: total.published + result.published,
        retried: total.retried + result.retried,
        deadLettered: total.deadLettered + result.deadLettered,
      };
      if (result.claimed === 0) return total;
    }
  }

  async close(options: { readonly timeoutMs?: number } = {}): Promise<void> {
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, ['timeoutMs'], 'options');
    const timeoutMs = options.timeoutMs ?? 10_000;
    assertInteger(timeoutMs, 'options.timeoutMs', 0, MAX_TIMER_MS);
    if (this.#closed) return;
    this.#closed = true;
    this.#wake.abort();
    this.#closing.abort();
    const loop = this.#loop;
    if (loop) {
      // A batch cut short is not lost: its claim runs out and another relay publishes it.
      // The wait's timer is cleared once the loop ends: it must not keep the process alive.
      const stopWaiting = new AbortController();
      const waited = sleep(timeoutMs, stopWaiting.signal).catch(() => undefined);
      await Promise.race([Promise.all([loop, this.#subscription]), waited]);
      stopWaiting.abort();
    }
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = undefined;
    if (unsubscribe) {
      try {
        await unsubscribe();
      } catch (error) {
        logEvent(
          this.#config.logger,
          'warn',
          { event: 'outbox.relay.unsubscribe_failed', relayId: this.relayId, err: error },
          'could not unsubscribe the outbox relay from its wake-ups',
        );
      }
    }
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new FlowproofError('OUTBOX_RELAY_CLOSED', 'the outbox relay is closed');
    }
  }

  async #run(): Promise<void> {
    const { logger, pollIntervalMs, wakeUp } = this.#config;
    if (wakeUp) this.#subscription = this.#subscribe(wakeUp);
    logEvent(
      logger,
      'info',
      { event: 'outbox.relay.started', relayId: this.relayId },
      'outbox relay started',
    );
    let errorBackoffMs = 0;
    while (!this.#closed) {
      let full = false;
      try {
        const result = await this.#batch();
        full = result.claimed === this.#config.batchSize;
        errorBackoffMs = 0;
        await this.#purgeIfDue();
      } catch (error) {
        errorBackoffMs = Math.min(
          MAX_ERROR_BACKOFF_MS,
          Math.max(MIN_ERROR_BACKOFF_MS, errorBackoffMs * 2),
        );
        logEvent(
          logger,
          'error',
          {
            event: 'outbox.relay.batch_failed',
            relayId: this.relayId,
            err: error,
            retryInMs: errorBackoffMs,
          },
          'outbox relay batch failed; retrying',
        );
      }
      if (this.#closed) break;
      if (full && errorBackoffMs === 0) continue;
      await this.#idle(errorBackoffMs || pollIntervalMs);
    }
    logEvent(
      logger,
      'info',
      { event: 'outbox.relay.stopped', relayId: this.relayId },
      'outbox relay stopped',
    );
  }

  /**
   * Subscribes to wake-ups. While that fails (the database not reachable yet), the relay polls
   * and tries again with backoff; a `TypeError` (a wake-up that cannot listen) is not retried.
   */
  async #subscribe(wakeUp: OutboxWakeUp): Promise<void> {
    let retryInMs = MIN_ERROR_BACKOFF_MS;
    while (!this.#closed) {
      try {
        const unsubscribe = await wakeUp.subscribe(() => this.#wake.abort());
        // Closed meanwhile: nobody will unsubscribe later (its failure is of no consequence).
        if (this.#closed)
          await Promise.resolve()
            .then(unsubscribe)
            .catch(() => undefined);
        else this.#unsubscribe = unsubscribe;
        return;
      } catch (error) {
        const retry = !(error instanceof TypeError);
        logEvent(
          this.#config.logger,
          'warn',
          {
            event: 'outbox.relay.subscribe_failed',
            relayId: this.relayId,
            err: error,
            ...(retry ? { retryInMs } : {}),
          },
          retry
            ? 'could not subscribe the outbox relay to wake-ups; polling, and trying again'
            : 'could not subscribe the outbox relay to wake-ups; polling only',
        );
        if (!retry) return;
      }
      await sleep(retryInMs, this.#closing.signal).catch(() => undefined);
      retryInMs = Math.min(retryInMs * 2, MAX_ERROR_BACKOFF_MS);
    }
  }

  /** Waits `ms`, or less when woken. */
  async #idle(ms: number): Promise<void> {
    if (!this.#wake.signal.aborted) {
      try {
        await sleep(ms, this.#wake.signal);
      } catch {
        // Woken early: run the next batch now.
      }
    }
    if (!this.#closed) this.#wake = new AbortController();
  }

  async #purgeIfDue(): Promise<void> {
    const { purgeIntervalMs, store, retainPublishedMs, logger } = this.#config;
    if (purgeIntervalMs === 0 || Date.now() - this.#lastPurgeAt < purgeIntervalMs) return;
    this.#lastPurgeAt = Date.now();
    // One batch per interval: purging never delays publishing by much.
    const purged = await store.purge({
      status: 'published',
      finishedBeforeMs: retainPublishedMs,
      limit: 1_000,
    });
    if (purged > 0) {
      logEvent(
        logger,
        'debug',
        { event: 'outbox.purged', published: purged, relayId: this.relayId },
        'outbox messages purged',
      );
    }
  }

  async #batch(): Promise<RelayBatchResult> {
    const { store, batchSize, leaseMs } = this.#config;
    const owner = `${this.relayId}/${createId()}`;
    const claimed = await store.claim({ owner, leaseMs, limit: batchSize });
    if (claimed.length === 0) return NOTHING;
    if (!isTracingEnabled()) return this.#publish(claimed, owner);
    return withSpan(
      'flowproof.outbox.relay',
      { 'flowproof.outbox.relay_id': this.relayId, 'flowproof.outbox.messages': claimed.length },
      () => this.#publish(claimed, owner),
    );
  }

  async #publish(
    claimed: readonly StoredOutboxMessage[],
    owner: string,
  ): Promise<RelayBatchResult> {
    const { store, publisher, publishTimeoutMs, logger } = this.#config;
    let acked: ReadonlySet<string>;
    let failed: ReadonlyMap<string, unknown> = new Map();
    let failure: unknown;
    try {
      const result = await withTimeout(
        Promise.resolve().then(() => publisher.publish(claimed)),
        publishTimeoutMs,
        'outbox publish',
      );
      const ids = Array.isArray(result)
        ? result
        : (result as { acknowledged?: unknown })?.acknowledged;
      if (!Array.isArray(ids)) {
        throw new TypeError(
          `the publisher's publish() must resolve with an array of ids or { acknowledged, failed }`,
        );
      }
      acked = new Set(ids.filter((id): id is string => typeof id === 'string'));
      const reported = Array.isArray(result) ? undefined : (result as { failed?: unknown }).failed;
      if (reported instanceof Map) failed = reported;
    } catch (error) {
      acked = new Set();
      failure = error;
    }
    const published = claimed.filter((message) => acked.has(message.id)).map((m) => m.id);
    const marked = published.length > 0 ? await store.markPublished(published, owner) : 0;
    if (marked < published.length) {
      // Our claim ran out and another relay took some over: they will be published again.
      logEvent(
        logger,
        'warn',
        {
          event: 'outbox.relay.claim_lost',
          relayId: this.relayId,
          published: published.length,
          recorded: marked,
        },
        'outbox relay published messages after its claim ran out; they may be published twice',
      );
    }
    const { retries, deadLetters } = this.#failures(claimed, acked, failed, failure);
    const retried = retries.length > 0 ? await store.reschedule(retries, owner) : 0;
    const deadLettered = deadLetters.length > 0 ? await store.deadLetter(deadLetters, owner) : 0;
    if (retries.length + deadLetters.length > 0) {
      logEvent(
        logger,
        deadLetters.length > 0 ? 'error' : 'warn',
        {
          event: 'outbox.relay.publish_failed',
          relayId: this.relayId,
          failed: retries.filter((r) => r.countAttempt).map((r) => r.id),
          heldBack: retries.filter((r) => !r.countAttempt).map((r) => r.id),
          deadLettered: deadLetters.map((d) => d.id),
          err: failure,
        },
        'outbox messages not published',
      );
    }
    logEvent(
      logger,
      'debug',
      {
        event: 'outbox.relay.batch',
        relayId: this.relayId,
        claimed: claimed.length,
        published: marked,
      },
      'outbox batch relayed',
    );
    return { claimed: claimed.length, published: marked, retried, deadLettered };
  }

  /**
   * What to do with the messages not acknowledged: per key, the first one failed (retried with
   * backoff, or dead-lettered when out of retries); later ones of that key were held back behind
   * it and go back without counting an attempt.
   */
  #failures(
    claimed: readonly StoredOutboxMessage[],
    acked: ReadonlySet<string>,
    failed: ReadonlyMap<string, unknown>,
    failure: unknown,
  ): { retries: OutboxRetry[]; deadLetters: OutboxDeadLetter[] } {
    const { retry } = this.#config;
    const retries: OutboxRetry[] = [];
    const deadLetters: OutboxDeadLetter[] = [];
    const blockedKeys = new Set<string>();
    for (const message of claimed) {
      if (acked.has(message.id)) continue;
      if (message.key !== null && blockedKeys.has(message.key)) {
        retries.push({ id: message.id, retryInMs: 0, countAttempt: false });
        continue;
      }
      if (message.key !== null) blockedKeys.add(message.key);
      const error =
        failed.get(message.id) ??
        failure ??
        new FlowproofError(
          'OUTBOX_PUBLISH_FAILED',
          `the publisher did not acknowledge message ${message.id}`,
          { details: { messageId: message.id } },
        );
      const attempt = message.attempts + 1;
      if (attempt > retry.retries || !isRetryable(retry, error)) {
        deadLetters.push({ id: message.id, error: errorRecord(error) });
      } else {
        retries.push({
          id: message.id,
          retryInMs: retryDelay(retry, attempt),
          countAttempt: true,
          error: errorRecord(error),
        });
      }
    }
    return { retries, deadLetters };
  }
}
