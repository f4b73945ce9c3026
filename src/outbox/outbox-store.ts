/**
 * The outbox-store port: what a backend implements so that a message is stored in the same
 * transaction as the business write that causes it, and relayed afterwards.
 *
 * A message is one row: its id, topic, key, JSON payload and headers, plus the columns the relay
 * works on (status, attempts, due time, lease). Rows get a **position** when inserted (a sequence
 * that only grows); the relay reads them in position order, and a message is never handed out
 * while an earlier message of the same key is still unpublished — so messages leave in order per
 * key.
 *
 * **Commit-safe reads.** A reader must never hand out a row while a row that will sort before it
 * can still appear (a transaction that took an earlier position and has not committed yet): a
 * cursor that moved past it would skip it, and the per-key order would break. On PostgreSQL the
 * store records each row's transaction id and hands out only rows of transactions older than
 * every transaction still running (`pg_snapshot_xmin`); on SQLite one writer at a time commits
 * rows in position order.
 *
 * Every write a relay makes on claimed messages is **fenced**: it names the claim (`owner`) and
 * does nothing for a message that another claim has taken since.
 *
 * Times the store keeps are epoch milliseconds of the **store's** clock; delays are passed in
 * milliseconds and added to the store's own `now`.
 *
 * Adapters: `createMemoryOutboxStore`, `createSqliteOutboxStore`, `createPostgresOutboxStore`.
 * Certify your own with `describeOutboxStoreConformance` from `flowproof/testing`.
 */
import type { ErrorRecord } from '../core/error-record.js';
import type { MigrationReport, StorageBackend } from '../core/storage-backend.js';

/** The migration component name outbox stores record their schema under. */
export const OUTBOX_STORE_COMPONENT = 'outbox';

/**
 * Where a message is:
 * - `pending`: waiting to be published (or for its next attempt);
 * - `published`: the publisher acknowledged it; purged after the retention window;
 * - `dead_lettered`: it could not be published after its retries; kept with the error until
 *   redriven or purged.
 */
export type OutboxMessageStatus = 'pending' | 'published' | 'dead_lettered';

/** Every status, in lifecycle order. */
export const OUTBOX_MESSAGE_STATUSES: readonly OutboxMessageStatus[] = Object.freeze([
  'pending',
  'published',
  'dead_lettered',
]);

/** A message as the application enqueues it (after validation). */
export interface NewOutboxMessage {
  /** Its id, a ULID unless the application chose one; unique per store. */
  readonly id: string;
  /** The topic, e.g. `order.created`. */
  readonly topic: string;
  /**
   * The ordering key, usually the aggregate's id (`ORD-12345`): messages with the same key are
   * published in order. `null`: no order with any other message.
   */
  readonly key: string | null;
  /**
   * The payload: JSON data only (plain objects, arrays, finite numbers, strings, booleans,
   * `null`), given back deeply equal except for the order of object keys.
   */
  readonly payload: unknown;
  /** String headers, including the flow context (`x-correlation-id`, `traceparent`…). */
  readonly headers: Readonly<Record<string, string>>;
}

/** A message as the store keeps it. */
export interface StoredOutboxMessage extends NewOutboxMessage {
  /** Where it is. */
  readonly status: OutboxMessageStatus;
  /** Failed publish attempts so far (a relay that died holding it does not count). */
  readonly attempts: number;
  /** Not handed out before this time (a retry's backoff). */
  readonly availableAt: number;
  /** The last publish error, or why it was dead-lettered; `null` when none. */
  readonly lastError: ErrorRecord | null;
  /** When it was enqueued. */
  readonly createdAt: number;
  /** When it was published, or dead-lettered; `null` while pending. */
  readonly finishedAt: number | null;
}

/** What a relay asks {@link OutboxStore.claim} for. */
export interface OutboxClaimRequest {
  /**
   * The claim's owner, unique per claim (the relay's id and a fresh ULID): later writes on the
   * claimed messages name it.
   */
  readonly owner: string;
  /** How long the claim lasts from the store's `now`, in milliseconds. */
  readonly leaseMs: number;
  /** At most this many messages. */
  readonly limit: number;
}

/** A failed publish of one claimed message, for {@link OutboxStore.reschedule}. */
export interface OutboxRetry {
  /** The message. */
  readonly id: string;
  /** Hand it out again this many milliseconds after the store's `now` (0: at once). */
  readonly retryInMs: number;
  /**
   * Count a failed attempt and record `error`. `false` for a message given back unpublished
   * because an earlier message of its key failed (it was not tried).
   */
  readonly countAttempt: boolean;
  /** The error, recorded when `countAttempt`. */
  readonly error?: ErrorRecord;
}

/** A claimed message that failed for good, for {@link OutboxStore.deadLetter}. */
export interface OutboxDeadLetter {
  /** The message. */
  readonly id: string;
  /** Why; recorded as its last error. */
  readonly error: ErrorRecord;
}

/** What {@link OutboxStore.list} returns. */
export interface OutboxListQuery {
  /** Only messages in this status. */
  readonly status: OutboxMessageStatus;
  /** Only messages of this topic. */
  readonly topic?: string;
  /** Only messages whose id sorts after this one (the previous page's last id). */
  readonly afterId?: string;
  /** At most this many, ordered by id. */
  readonly limit: number;
}

/** What {@link OutboxStore.redrive} puts back. */
export interface OutboxRedriveRequest {
  /** These dead-lettered messages; others named here are left alone. */
  readonly ids?: readonly string[];
  /** Without `ids`: dead-lettered messages of this topic (all topics when omitted). */
  readonly topic?: string;
  /** At most this many in one call. */
  readonly limit: number;
}

/** What {@link OutboxStore.purge} deletes. */
export interface OutboxPurgeRequest {
  /** Only messages in this status (`published` or `dead_lettered`; the store refuses `pending`). */
  readonly status: Exclude<OutboxMessageStatus, 'pending'>;
  /** Only messages that finished at least this many milliseconds before the store's `now`. */
  readonly finishedBeforeMs: number;
  /** At most this many in one call. */
  readonly limit: number;
}

/** Counts by status for one topic. */
export interface OutboxTopicCounts {
  /** Messages waiting to be published. */
  readonly pending: number;
  /** Messages published and not purged yet. */
  readonly published: number;
  /** Messages in the dead-letter list. */
  readonly deadLettered: number;
}

/** What {@link OutboxStore.stats} reports. */
export interface OutboxStoreStats {
  /** When the store read it (store clock). */
  readonly now: number;
  /** When the oldest pending message was enqueued; `null` when none is pending. */
  readonly oldestPendingAt: number | null;
  /** Counts per topic (topics with no row are absent). */
  readonly topics: Readonly<Record<string, OutboxTopicCounts>>;
}

/**
 * The port. Each operation is atomic on its own and, on the SQL stores, one statement where the
 * engine allows it.
 *
 * @typeParam Tx - what {@link OutboxStore.withBackend} takes: the store's backend bound to a
 * transaction.
 */
export interface OutboxStore<Tx = unknown> {
  /** The backend kind, e.g. `postgres`. */
  readonly kind: string;
  /** The backend the store works on. */
  readonly backend: StorageBackend;
  /** Creates or upgrades the store's tables (component `outbox`). Safe to call concurrently. */
  migrate(): Promise<MigrationReport>;
  /** The store's clock. */
  now(): Promise<Date>;
  /**
   * The same store over `backend`, a backend bound to a transaction (what `backend.transaction()`
   * gives its callback, or a join of the application's own transaction): messages it enqueues
   * commit or roll back with that transaction.
   *
   * @throws TypeError when `backend` is not a backend of the store's kind.
   */
  withBackend(backend: Tx): OutboxStore<Tx>;
  /**
   * Inserts `messages`, in order, all or none (one statement on the SQL stores, so even outside a
   * transaction). A message whose id is already stored, or named twice in the batch, is
   * `OUTBOX_MESSAGE_EXISTS` (`details.messageId`) and nothing is inserted.
   *
   * The store checks every message before writing anything: a payload or header that is not JSON
   * data (see {@link NewOutboxMessage.payload}; also a NUL character or a lone surrogate in a
   * string, which PostgreSQL cannot store), an empty id or topic, or an empty key is a `TypeError`
   * naming the field (`messages[2].payload`), and nothing is inserted.
   */
  enqueue(messages: readonly NewOutboxMessage[]): Promise<void>;
  /**
   * Claims up to `limit` pending messages in position order: due (`availableAt <= now`), not
   * claimed by a live claim, committed safely (see the module's notes), and with no earlier
   * pending message of the same key that is not claimable too. Concurrent claims never return the
   * same message, nor messages of one key to two claims.
   */
  claim(request: OutboxClaimRequest): Promise<readonly StoredOutboxMessage[]>;
  /** Marks the messages `owner` still holds as published; returns how many it marked. */
  markPublished(ids: readonly string[], owner: string): Promise<number>;
  /**
   * Gives claimed messages back as pending, due again after `retryInMs`, ending the claim; returns
   * how many it changed (messages `owner` no longer holds are left alone).
   */
  reschedule(retries: readonly OutboxRetry[], owner: string): Promise<number>;
  /** Moves claimed messages to the dead-letter list with their error; returns how many. */
  deadLetter(entries: readonly OutboxDeadLetter[], owner: string): Promise<number>;
  /** The message, or `undefined`. */
  get(id: string): Promise<StoredOutboxMessage | undefined>;
  /** A page of messages in one status, ordered by id. */
  list(query: OutboxListQuery): Promise<readonly StoredOutboxMessage[]>;
  /**
   * Puts dead-lettered messages back as pending, due now, with no attempts; returns the ids put
   * back.
   */
  redrive(request: OutboxRedriveRequest): Promise<readonly string[]>;
  /** Deletes finished messages in one batch; returns how many. */
  purge(request: OutboxPurgeRequest): Promise<number>;
  /** Backlog and per-topic counts. */
  stats(): Promise<OutboxStoreStats>;
  /** Releases what the store opened (the backend only when it owns it). Idempotent. */
  close(): Promise<void>;
}
