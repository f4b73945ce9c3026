/**
 * What the outbox proofs share: the topics and their payload, the partition of a key, the tables
 * the writers and the consumers write (business rows, applied rows), the PostgreSQL and SQLite
 * worlds opened the same way by the test process and by its child processes, the consumer's
 * handler, and the reading back of what reached the Redis streams.
 */
import Database from 'better-sqlite3';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { z } from 'zod';
import {
  createPostgresBackend,
  createPostgresIdempotencyStore,
  createPostgresOutboxStore,
  type PostgresBackend,
  type PostgresOutboxStore,
} from '../../../src/adapters/postgres/index.js';
import {
  createSqliteBackend,
  createSqliteIdempotencyStore,
  createSqliteOutboxStore,
  type SqliteBackend,
  type SqliteOutboxStore,
} from '../../../src/adapters/sqlite/index.js';
import type { IdempotencyStore } from '../../../src/idempotency/idempotency-store.js';
import type { MessageHandler } from '../../../src/outbox/index.js';

/** The payload every proof message carries. */
export const proofPayload = z.object({
  /** The ordering key (also the message's key). */
  key: z.string(),
  /** The key's sequence number: 1, 2, 3… in commit order, per key. */
  seq: z.number().int().positive(),
  /** The writer that enqueued it. */
  writer: z.number().int().nonnegative(),
  /** Enqueued in a transaction that rolls back: must never be published. */
  doomed: z.boolean(),
});

/** A proof payload. */
export type ProofPayload = z.infer<typeof proofPayload>;

/** The topic of partition `p`: each partition is a topic, hence a stream of its own. */
export const topicOf = (partition: number): string => `proof.p${partition}`;

/** Topic schemas of the proofs: every topic carries a {@link ProofPayload}. */
export type ProofTopics = Record<string, typeof proofPayload>;

/** The topics of `partitions` partitions, for `createOutbox` and `createMessageConsumer`. */
export function proofTopics(partitions: number): ProofTopics {
  return Object.fromEntries(
    Array.from({ length: partitions }, (_, p) => [topicOf(p), proofPayload]),
  );
}

/** The partition of `key`: every message of one key goes to one partition (one stream). */
export function partitionOf(key: string, partitions: number): number {
  let hash = 0;
  for (let i = 0; i < key.length; i += 1) hash = (Math.imul(hash, 31) + key.charCodeAt(i)) >>> 0;
  return hash % partitions;
}

/** The streams of one run: a prefix of its own, so runs never read each other's entries. */
export const streamKeyOf =
  (runId: string) =>
  (topic: string): string =>
    `proof:${runId}:${topic}`;

/** A committed message as its writer saw it commit. */
export interface CommittedMessage {
  readonly id: string;
  readonly key: string;
  readonly seq: number;
}

/** An applied row, in the order the consumers committed them (per partition). */
export interface AppliedRow {
  readonly applySeq: number;
  readonly messageId: string;
  readonly key: string;
  readonly seq: number;
  readonly deliveries: number;
  readonly createdAt: number;
  readonly appliedAt: number;
}

/** An outbox row as the checks read it. */
export interface OutboxRow {
  readonly id: string;
  readonly status: string;
  readonly finishedAt: number | null;
}

/** A stream entry, decoded, in stream order. */
export interface StreamEntry {
  readonly stream: string;
  readonly id: string;
  readonly key: string;
  readonly seq: number;
  readonly doomed: boolean;
}

const ORDERS = 'proof_orders';
const APPLIED = 'proof_applied';

/** What both SQL worlds offer. */
interface World<B extends PostgresBackend | SqliteBackend, S> {
  readonly backend: B;
  readonly store: S;
  readonly idempotencyStore: IdempotencyStore<B>;
  /** `INSERT` of a business row: id, writer, messages. */
  readonly insertOrder: string;
  /** Creates the outbox, inbox and proof tables. */
  prepare(): Promise<void>;
  /** Every applied row, in apply order. */
  applied(): Promise<AppliedRow[]>;
  /** How many distinct messages were applied. */
  appliedCount(): Promise<number>;
  /** The outbox rows: id, status, when published (store clock, epoch ms). */
  outboxRows(): Promise<OutboxRow[]>;
  close(): Promise<void>;
}

/** A PostgreSQL world: a schema of its own in the test server. */
export interface PostgresWorld extends World<PostgresBackend, PostgresOutboxStore> {
  readonly pool: pg.Pool;
  /** Drops the schema. */
  drop(): Promise<void>;
}

/** A SQLite world: one file in WAL mode, shared by processes. */
export type SqliteWorld = World<SqliteBackend, SqliteOutboxStore>;

/** The applied row's `INSERT` (message id, key, seq, deliveries, created at), `p` a placeholder. */
const insertApplied = (table: string, p: (n: number) => string) =>
  `INSERT INTO ${table} (message_id, msg_key, seq, deliveries, created_at) VALUES (${[1, 2, 3, 4, 5].map(p).join(', ')})`;

function toApplied(row: Record<string, unknown>): AppliedRow {
  return {
    applySeq: Number(row.apply_seq),
    messageId: String(row.message_id),
    key: String(row.msg_key),
    seq: Number(row.seq),
    deliveries: Number(row.deliveries),
    createdAt: Number(row.created_at),
    appliedAt: Number(row.applied_at),
  };
}

/** The reads both worlds share (the statements are the same on both engines). */
function readers(backend: PostgresBackend | SqliteBackend) {
  const applied = backend.table(APPLIED);
  return {
    async applied(): Promise<AppliedRow[]> {
      const rows = await backend.query(`SELECT * FROM ${applied} ORDER BY apply_seq`);
      return rows.map(toApplied);
    },
    async appliedCount(): Promise<number> {
      const [row] = await backend.query<{ n: number | string }>(
        `SELECT count(DISTINCT message_id) AS n FROM ${applied}`,
      );
      return Number(row?.n ?? 0);
    },
    async outboxRows(): Promise<OutboxRow[]> {
      const rows = await backend.query<{ id: string; status: string; finished_at: unknown }>(
        `SELECT id, status, finished_at FROM ${backend.table('outbox_messages')}`,
      );
      return rows.map(({ id, status, finished_at }) => ({
        id,
        status,
        finishedAt: finished_at === null ? null : Number(finished_at),
      }));
    },
  };
}

/** Opens the PostgreSQL world of `schema` over a pool of `poolMax` connections. */
export function openPostgresWorld(url: string, schema: string, poolMax: number): PostgresWorld {
  const pool = new pg.Pool({ connectionString: url, max: poolMax });
  // A connection dropped by the server at the end of a run is not the run's failure.
  pool.on('error', () => {});
  const backend = createPostgresBackend({ client: pool, schema });
  const store = createPostgresOutboxStore({ backend });
  const idempotencyStore = createPostgresIdempotencyStore({ backend });
  const orders = backend.table(ORDERS);
  const applied = backend.table(APPLIED);
  return {
    pool,
    backend,
    store,
    idempotencyStore,
    insertOrder: `INSERT INTO ${orders} (id, writer, messages) VALUES ($1, $2, $3)`,
    async prepare() {
      await store.migrate();
      await idempotencyStore.migrate();
      await backend.execute(
        `CREATE TABLE IF NOT EXISTS ${orders} (id text PRIMARY KEY, writer int NOT NULL, messages int NOT NULL)`,
      );
      // No unique constraint on message_id: a duplicate must be counted, not refused.
      await backend.execute(
        `CREATE TABLE IF NOT EXISTS ${applied} (
           apply_seq bigserial PRIMARY KEY, message_id text NOT NULL, msg_key text NOT NULL,
           seq int NOT NULL, deliveries int NOT NULL, created_at bigint NOT NULL,
           applied_at bigint NOT NULL DEFAULT (extract(epoch from clock_timestamp()) * 1000)::bigint)`,
      );
    },
    ...readers(backend),
    async drop() {
      await backend.execute(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
    close: () => pool.end(),
  };
}

/** Opens the SQLite world of `file` (WAL, a long busy timeout: writers hold the lock a while). */
export function openSqliteWorld(file: string): SqliteWorld {
  const database = new Database(file);
  database.pragma('journal_mode = WAL');
  const backend = createSqliteBackend({ database, ownsDatabase: true, busyTimeoutMs: 60_000 });
  const store = createSqliteOutboxStore({ backend });
  const idempotencyStore = createSqliteIdempotencyStore({ backend });
  const orders = backend.table(ORDERS);
  const applied = backend.table(APPLIED);
  return {
    backend,
    store,
    idempotencyStore,
    insertOrder: `INSERT INTO ${orders} (id, writer, messages) VALUES (?, ?, ?)`,
    async prepare() {
      await store.migrate();
      await idempotencyStore.migrate();
      await backend.execute(
        `CREATE TABLE IF NOT EXISTS ${orders} (id TEXT PRIMARY KEY, writer INTEGER NOT NULL, messages INTEGER NOT NULL)`,
      );
      await backend.execute(
        `CREATE TABLE IF NOT EXISTS ${applied} (
           apply_seq INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL,
           msg_key TEXT NOT NULL, seq INTEGER NOT NULL, deliveries INTEGER NOT NULL,
           created_at INTEGER NOT NULL,
           applied_at INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)))`,
      );
    },
    ...readers(backend),
    close: () => backend.close(),
  };
}

/**
 * The consumers' handler: one applied row, written through the inbox's transaction so that the
 * row and the inbox record commit together. `onCall` counts invocations (a rolled-back one
 * included).
 */
export function applyHandler(
  kind: 'postgres' | 'sqlite',
  onCall: (message: { id: string }) => void | Promise<void>,
): MessageHandler<ProofPayload> {
  const p = kind === 'postgres' ? (n: number) => `$${n}` : () => '?';
  return async (message, { transaction }) => {
    await onCall(message);
    const tx = transaction as PostgresBackend | SqliteBackend;
    await tx.execute(insertApplied(tx.table(APPLIED), p), [
      message.id,
      message.payload.key,
      message.payload.seq,
      message.deliveries,
      message.createdAt,
    ]);
  };
}

/** Every entry of `streams`, decoded, each stream in its order. */
export async function readStreams(
  redis: Redis,
  streams: readonly string[],
): Promise<StreamEntry[]> {
  const entries: StreamEntry[] = [];
  for (const stream of streams) {
    let start = '-';
    for (;;) {
      const page = (await redis.xrange(stream, start, '+', 'COUNT', 5000)) as [string, string[]][];
      for (const [entryId, flat] of page) {
        if (entryId === start) continue;
        const fields = new Map<string, string>();
        for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i]!, flat[i + 1]!);
        const payload = JSON.parse(fields.get('payload') ?? 'null') as ProofPayload;
        entries.push({
          stream,
          id: fields.get('id') ?? '',
          key: payload.key,
          seq: payload.seq,
          doomed: payload.doomed,
        });
      }
      if (page.length < 5000) break;
      start = page.at(-1)![0];
    }
  }
  return entries;
}

/** Deletes the streams (and the publisher's de-duplication keys) of run `runId`. */
export async function dropStreams(redis: Redis, runId: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `proof:${runId}:*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}
