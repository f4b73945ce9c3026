import type { ErrorRecord } from '../../core/error-record.js';
import { assertStoreOptions } from '../../core/options.js';
import type { MigrationSet } from '../../core/storage-backend.js';
import {
  type NewOutboxMessage,
  OUTBOX_STORE_COMPONENT,
  type OutboxClaimRequest,
  type OutboxDeadLetter,
  type OutboxListQuery,
  type OutboxMessageStatus,
  type OutboxPurgeRequest,
  type OutboxRedriveRequest,
  type OutboxRetry,
  type OutboxStore,
  type OutboxStoreStats,
  type OutboxTopicCounts,
  type StoredOutboxMessage,
} from '../../outbox/outbox-store.js';
import {
  checkClaim,
  checkDeadLetters,
  checkIds,
  checkList,
  checkNewMessages,
  checkPurge,
  checkRedrive,
  checkRetries,
  messageExists,
} from '../outbox-store-input.js';
import type { MemoryBackend } from './memory-backend.js';
import {
  assertMemoryBackend,
  MemoryModuleStore,
  type MemoryStoreState,
} from './memory-module-store.js';

/** Options of {@link createMemoryOutboxStore}. */
export interface MemoryOutboxStoreOptions {
  /** The memory backend holding the messages. */
  readonly backend: MemoryBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link OutboxStore} over a {@link MemoryBackend}. */
export interface MemoryOutboxStore extends OutboxStore<MemoryBackend> {
  /** Always `memory`. */
  readonly kind: 'memory';
  /** The backend. */
  readonly backend: MemoryBackend;
  /**
   * The same store over `backend`, typically the one `backend.transaction()` passes to its
   * callback, so messages enqueued through it commit or roll back with the rest of the
   * transaction.
   *
   * @throws TypeError when `backend` is not a memory backend.
   */
  withBackend(backend: MemoryBackend): MemoryOutboxStore;
}

const MESSAGES = 'outbox_messages';
/** Holds the last position given, under the key `last`; restored with the messages on rollback. */
const POSITIONS = 'outbox_positions';

/** A message as kept in the collection: JSON serialised, so callers never alias stored data. */
interface MessageRow {
  readonly position: number;
  readonly id: string;
  readonly topic: string;
  readonly key: string | null;
  readonly payload: string;
  readonly headers: string;
  readonly status: OutboxMessageStatus;
  readonly attempts: number;
  readonly availableAt: number;
  readonly leaseOwner: string | null;
  /** 0 when not leased. */
  readonly leaseUntil: number;
  readonly lastError: string | null;
  readonly createdAt: number;
  readonly finishedAt: number | null;
}

/**
 * The schema of the memory outbox store (component `outbox`), applied by
 * {@link MemoryOutboxStore.migrate}; exported for applications that run migrations with their own
 * tooling.
 */
export const memoryOutboxStoreMigrations: MigrationSet<MemoryBackend> = {
  component: OUTBOX_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'outbox messages',
      up: (backend) => {
        backend.collection(MESSAGES);
        backend.collection(POSITIONS);
      },
    },
  ],
};

/**
 * Creates an outbox store over an in-memory backend: for tests, examples and single-process
 * tools. Times are the backend's clock. Every write runs under the backend's `exclusive()`, so
 * claims and fenced writes are atomic with respect to each other and to the backend's
 * transactions; a transaction holds the backend until it ends, so a claim never sees a message
 * of a transaction that has not committed.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const backend = createMemoryBackend();
 * const outbox = createMemoryOutboxStore({ backend });
 * await outbox.migrate();
 * await backend.transaction(async (tx) => {
 *   // … the business write on tx …
 *   await outbox.withBackend(tx).enqueue([message]);
 * });
 * ```
 */
export function createMemoryOutboxStore(options: MemoryOutboxStoreOptions): MemoryOutboxStore {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    'memory',
    'memory',
    'createMemoryBackend',
  );
  return new MemoryOutboxStoreImpl(backend, ownsBackend, { migrated: false });
}

class MemoryOutboxStoreImpl extends MemoryModuleStore implements MemoryOutboxStore {
  constructor(backend: MemoryBackend, ownsBackend: boolean, state: MemoryStoreState) {
    super(backend, ownsBackend, state, memoryOutboxStoreMigrations);
  }

  withBackend(backend: MemoryBackend): MemoryOutboxStore {
    assertMemoryBackend(backend);
    return new MemoryOutboxStoreImpl(backend, false, this.state);
  }

  async enqueue(messages: readonly NewOutboxMessage[]): Promise<void> {
    await this.assertMigrated();
    const encoded = checkNewMessages(messages);
    await this.backend.exclusive(() => {
      const rows = this.#messages();
      const taken = encoded.find((m) => rows.has(m.id));
      if (taken !== undefined) throw messageExists(taken.id);
      const positions = this.backend.collection<number>(POSITIONS);
      let position = positions.get('last') ?? 0;
      const now = this.#now();
      for (const message of encoded) {
        position += 1;
        rows.set(message.id, {
          ...message,
          position,
          status: 'pending',
          attempts: 0,
          availableAt: now,
          leaseOwner: null,
          leaseUntil: 0,
          lastError: null,
          createdAt: now,
          finishedAt: null,
        });
      }
      positions.set('last', position);
    });
  }

  async claim(request: OutboxClaimRequest): Promise<readonly StoredOutboxMessage[]> {
    await this.assertMigrated();
    checkClaim(request);
    const { owner, leaseMs, limit } = request;
    return this.backend.exclusive(() => {
      const now = this.#now();
      const rows = this.#messages();
      const blockedKeys = new Set<string>();
      const claimed: StoredOutboxMessage[] = [];
      for (const row of this.#pendingInOrder()) {
        if (claimed.length >= limit) break;
        const candidate =
          row.availableAt <= now && (row.leaseOwner === null || row.leaseUntil <= now);
        if (!candidate) {
          if (row.key !== null) blockedKeys.add(row.key);
          continue;
        }
        if (row.key !== null && blockedKeys.has(row.key)) continue;
        const taken: MessageRow = { ...row, leaseOwner: owner, leaseUntil: now + leaseMs };
        rows.set(row.id, taken);
        claimed.push(toMessage(taken));
      }
      return claimed;
    });
  }

  async markPublished(ids: readonly string[], owner: string): Promise<number> {
    await this.assertMigrated();
    checkIds(ids, owner);
    return this.#fenced(ids, owner, (row, now) => ({
      ...row,
      status: 'published',
      finishedAt: now,
      leaseOwner: null,
      leaseUntil: 0,
    }));
  }

  async reschedule(retries: readonly OutboxRetry[], owner: string): Promise<number> {
    await this.assertMigrated();
    const encoded = checkRetries(retries, owner);
    const byId = new Map(encoded.map((retry) => [retry.id, retry]));
    return this.#fenced([...byId.keys()], owner, (row, now) => {
      const retry = byId.get(row.id);
      if (retry === undefined) return row;
      return {
        ...row,
        availableAt: now + retry.retryInMs,
        leaseOwner: null,
        leaseUntil: 0,
        ...(retry.countAttempt ? { attempts: row.attempts + 1, lastError: retry.error } : {}),
      };
    });
  }

  async deadLetter(entries: readonly OutboxDeadLetter[], owner: string): Promise<number> {
    await this.assertMigrated();
    const encoded = checkDeadLetters(entries, owner);
    const byId = new Map(encoded.map((entry) => [entry.id, entry.error]));
    return this.#fenced([...byId.keys()], owner, (row, now) => ({
      ...row,
      status: 'dead_lettered',
      attempts: row.attempts + 1,
      lastError: byId.get(row.id) ?? null,
      finishedAt: now,
      leaseOwner: null,
      leaseUntil: 0,
    }));
  }

  async get(id: string): Promise<StoredOutboxMessage | undefined> {
    await this.assertMigrated();
    const row = this.#messages().get(id);
    return row === undefined ? undefined : toMessage(row);
  }

  async list(query: OutboxListQuery): Promise<readonly StoredOutboxMessage[]> {
    await this.assertMigrated();
    checkList(query);
    const { status, topic, afterId, limit } = query;
    const rows = [...this.#messages().values()].filter(
      (row) =>
        row.status === status &&
        (topic === undefined || row.topic === topic) &&
        (afterId === undefined || row.id > afterId),
    );
    rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return rows.slice(0, limit).map(toMessage);
  }

  async redrive(request: OutboxRedriveRequest): Promise<readonly string[]> {
    await this.assertMigrated();
    checkRedrive(request);
    const { ids, topic, limit } = request;
    return this.backend.exclusive(() => {
      const now = this.#now();
      const rows = this.#messages();
      const dead = byPosition(
        [...rows.values()].filter(
          (row) =>
            row.status === 'dead_lettered' &&
            (ids !== undefined ? ids.includes(row.id) : topic === undefined || row.topic === topic),
        ),
      ).slice(0, limit);
      for (const row of dead) {
        rows.set(row.id, {
          ...row,
          status: 'pending',
          attempts: 0,
          availableAt: now,
          lastError: null,
          finishedAt: null,
          leaseOwner: null,
          leaseUntil: 0,
        });
      }
      return dead.map((row) => row.id);
    });
  }

  async purge(request: OutboxPurgeRequest): Promise<number> {
    await this.assertMigrated();
    checkPurge(request);
    return this.backend.exclusive(() => {
      const cutoff = this.#now() - request.finishedBeforeMs;
      const rows = this.#messages();
      const done = byPosition(
        [...rows.values()].filter(
          (row) =>
            row.status === request.status && row.finishedAt !== null && row.finishedAt <= cutoff,
        ),
      ).slice(0, request.limit);
      for (const row of done) rows.delete(row.id);
      return done.length;
    });
  }

  async stats(): Promise<OutboxStoreStats> {
    await this.assertMigrated();
    const now = this.#now();
    const topics: Record<string, OutboxTopicCounts> = {};
    let oldestPendingAt: number | null = null;
    for (const row of this.#messages().values()) {
      const counts = topics[row.topic] ?? { pending: 0, published: 0, deadLettered: 0 };
      topics[row.topic] = {
        pending: counts.pending + (row.status === 'pending' ? 1 : 0),
        published: counts.published + (row.status === 'published' ? 1 : 0),
        deadLettered: counts.deadLettered + (row.status === 'dead_lettered' ? 1 : 0),
      };
      if (
        row.status === 'pending' &&
        (oldestPendingAt === null || row.createdAt < oldestPendingAt)
      ) {
        oldestPendingAt = row.createdAt;
      }
    }
    return { now, oldestPendingAt, topics };
  }

  /** Applies `change` to each of `ids` that `owner` still holds (pending, leased to it). */
  #fenced(
    ids: readonly string[],
    owner: string,
    change: (row: MessageRow, now: number) => MessageRow,
  ): Promise<number> {
    return this.backend.exclusive(() => {
      const now = this.#now();
      const rows = this.#messages();
      let changed = 0;
      for (const id of new Set(ids)) {
        const row = rows.get(id);
        if (row === undefined || row.status !== 'pending' || row.leaseOwner !== owner) continue;
        rows.set(id, change(row, now));
        changed += 1;
      }
      return changed;
    });
  }

  #pendingInOrder(): MessageRow[] {
    return byPosition([...this.#messages().values()].filter((row) => row.status === 'pending'));
  }

  #messages(): Map<string, MessageRow> {
    return this.backend.collection<MessageRow>(MESSAGES);
  }

  #now(): number {
    return this.backend.clock.now().getTime();
  }
}

function byPosition(rows: MessageRow[]): MessageRow[] {
  return rows.sort((a, b) => a.position - b.position);
}

function toMessage(row: MessageRow): StoredOutboxMessage {
  return {
    id: row.id,
    topic: row.topic,
    key: row.key,
    payload: JSON.parse(row.payload),
    headers: JSON.parse(row.headers),
    status: row.status,
    attempts: row.attempts,
    availableAt: row.availableAt,
    lastError: row.lastError === null ? null : (JSON.parse(row.lastError) as ErrorRecord),
    createdAt: row.createdAt,
    finishedAt: row.finishedAt,
  };
}
