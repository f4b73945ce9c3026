/**
 * The writers of the outbox proofs: async loops, each owning a few keys, each transaction a
 * business row plus 1..N messages enqueued through `createOutbox` in that transaction, a random
 * delay before the end (so that commits land out of position order), and a share of transactions
 * rolled back instead of committed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PostgresBackend } from '../../../src/adapters/postgres/index.js';
import type { SqliteBackend } from '../../../src/adapters/sqlite/index.js';
import { createId } from '../../../src/core/ids.js';
import type { Outbox } from '../../../src/outbox/index.js';
import { seededRandom } from '../../../src/testing/seeded-random.js';
import type { PostgresWorld, SqliteWorld } from './proof-world.js';
import { type CommittedMessage, type ProofTopics, partitionOf, topicOf } from './proof-world.js';

/** How the writers write. */
export interface WritersPlan {
  /** Writers running at once (async loops; on SQLite, this process's share). */
  readonly writers: number;
  /** Index of the first writer (writers of several processes own distinct keys). */
  readonly firstWriter?: number;
  /** Committed messages in all, shared evenly by the writers. */
  readonly messages: number;
  /** Keys each writer owns. */
  readonly keysPerWriter: number;
  /** At most this many messages per transaction (at least 1). */
  readonly maxPerTransaction: number;
  /** The random delay before COMMIT (or ROLLBACK) is up to this, in milliseconds. */
  readonly maxDelayMs: number;
  /** The share of transactions rolled back (their messages must never be published). */
  readonly rollbackRate: number;
  /** Partitions (topics) the keys are spread over. */
  readonly partitions: number;
  /** Seeds each writer's random choices (writer i: seed + i). */
  readonly seed: number;
  /** Writers go on past their share while this returns true (e.g. until planned kills landed). */
  readonly keepGoing?: () => boolean;
}

/** What the writers did. */
export interface WritersResult {
  readonly committed: CommittedMessage[];
  readonly rolledBack: string[];
  readonly transactions: number;
  readonly rolledBackTransactions: number;
}

type Tx = PostgresBackend | SqliteBackend;

/** One transaction's body: runs `fn` in a transaction of the world, committing or rolling back. */
type RunTransaction = (
  fn: (tx: Tx) => Promise<void>,
  outcome: 'commit' | 'rollback',
) => Promise<void>;

/** Thrown inside a SQLite transaction to roll it back. */
class RollBack extends Error {}

/** Writers over PostgreSQL: each transaction on a pool connection of its own (BEGIN … COMMIT). */
export function runPostgresWriters(
  world: PostgresWorld,
  outbox: Outbox<ProofTopics, PostgresBackend>,
  plan: WritersPlan,
): Promise<WritersResult> {
  const transaction: RunTransaction = async (fn, outcome) => {
    const client = await world.pool.connect();
    let broken: unknown;
    try {
      await client.query('BEGIN');
      await fn(world.backend.withTransactionClient(client));
      await client.query(outcome === 'commit' ? 'COMMIT' : 'ROLLBACK');
    } catch (error) {
      broken = error;
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release(broken instanceof Error ? broken : undefined);
    }
  };
  return runWriters(world.insertOrder, outbox as Outbox<ProofTopics, Tx>, transaction, plan);
}

/** Writers over SQLite: `backend.transaction` (BEGIN IMMEDIATE), rolled back by a throw. */
export function runSqliteWriters(
  world: SqliteWorld,
  outbox: Outbox<ProofTopics, SqliteBackend>,
  plan: WritersPlan,
): Promise<WritersResult> {
  const transaction: RunTransaction = async (fn, outcome) => {
    try {
      await world.backend.transaction(async (tx) => {
        await fn(tx);
        if (outcome === 'rollback') throw new RollBack();
      });
    } catch (error) {
      if (!(error instanceof RollBack)) throw error;
    }
  };
  return runWriters(world.insertOrder, outbox as Outbox<ProofTopics, Tx>, transaction, plan);
}

async function runWriters(
  insertOrder: string,
  outbox: Outbox<ProofTopics, Tx>,
  transaction: RunTransaction,
  plan: WritersPlan,
): Promise<WritersResult> {
  const result = {
    committed: [] as CommittedMessage[],
    rolledBack: [] as string[],
    transactions: 0,
    rolledBackTransactions: 0,
  } satisfies WritersResult;
  const first = plan.firstWriter ?? 0;
  const quota = Math.ceil(plan.messages / plan.writers);
  await Promise.all(
    Array.from({ length: plan.writers }, async (_, i) => {
      const writer = first + i;
      const random = seededRandom(plan.seed + writer);
      const keys = Array.from({ length: plan.keysPerWriter }, (_, k) => `w${writer}-k${k}`);
      const seqs = new Map(keys.map((key) => [key, 0]));
      let written = 0;
      while (written < quota || plan.keepGoing?.()) {
        const n = Math.min(
          Math.max(quota - written, 1),
          1 + Math.floor(random() * plan.maxPerTransaction),
        );
        const outcome = random() < plan.rollbackRate ? 'rollback' : 'commit';
        const delayMs = Math.floor(random() * (plan.maxDelayMs + 1));
        const messages = Array.from({ length: n }, () => {
          const key = keys[Math.floor(random() * keys.length)] as string;
          const seq = (seqs.get(key) ?? 0) + 1;
          seqs.set(key, seq);
          return { id: createId(), key, seq };
        });
        await transaction(async (tx) => {
          await tx.execute(insertOrder, [createId(), writer, n]);
          for (const message of messages) {
            await outbox.enqueue(
              topicOf(partitionOf(message.key, plan.partitions)),
              { key: message.key, seq: message.seq, writer, doomed: outcome === 'rollback' },
              { id: message.id, key: message.key, transaction: tx },
            );
          }
          if (delayMs > 0) await sleep(delayMs);
        }, outcome);
        result.transactions += 1;
        if (outcome === 'rollback') {
          result.rolledBackTransactions += 1;
          result.rolledBack.push(...messages.map((m) => m.id));
          // The numbers go back: the next committed message of the key takes them.
          for (const message of messages) seqs.set(message.key, (seqs.get(message.key) ?? 1) - 1);
        } else {
          result.committed.push(...messages);
          written += n;
        }
      }
    }),
  );
  return result;
}
