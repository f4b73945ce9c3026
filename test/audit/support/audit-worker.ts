/**
 * The child processes of the audit proofs (bundled with esbuild, run with `runInProcesses`):
 * concurrent appenders on one chain of a shared SQLite file or PostgreSQL schema. Each runs
 * `loops` concurrent loops of `perLoop` records; with `rollbackEvery`, every n-th record is written
 * with `{ transaction }` inside a transaction that then rolls back.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import pg from 'pg';
import {
  createPostgresAuditStore,
  createPostgresBackend,
} from '../../../src/adapters/postgres/index.js';
import { createSqliteAuditStore, createSqliteBackend } from '../../../src/adapters/sqlite/index.js';
import { type AuditStore, createAuditLog } from '../../../src/audit/index.js';
import type { StorageBackend } from '../../../src/core/storage-backend.js';
import type { WorkerInfo } from '../../../src/testing/index.js';
import { proofEntry } from './audit-proof-world.js';

/** Where the chain lives. */
export type AppendTarget =
  | { readonly backend: 'sqlite'; readonly file: string }
  | { readonly backend: 'postgres'; readonly url: string; readonly schema: string };

/** What an appender process takes. */
export interface AppendArgs {
  readonly target: AppendTarget;
  readonly loops: number;
  readonly perLoop: number;
  /** Every n-th record of a loop is rolled back (0: none). */
  readonly rollbackEvery: number;
  /** How long a rolled-back transaction stays open after its record (milliseconds). */
  readonly holdMs: number;
}

/** What an appender process reports. */
export interface AppendResult {
  /** The sequence numbers of its committed records. */
  readonly committed: number[];
  /** The entry numbers (`metadata.i`) of the records it rolled back. */
  readonly rolledBack: number[];
}

class Rollback extends Error {}

/** Opens the target's store (already migrated by the parent). */
export function openTargetStore(target: AppendTarget, poolMax: number): AuditStore<StorageBackend> {
  if (target.backend === 'sqlite') {
    const database = new Database(target.file);
    database.pragma('journal_mode = WAL');
    const backend = createSqliteBackend({ database, ownsDatabase: true, busyTimeoutMs: 60_000 });
    return createSqliteAuditStore({ backend, ownsBackend: true }) as AuditStore<never>;
  }
  const pool = new pg.Pool({ connectionString: target.url, max: poolMax });
  pool.on('error', () => {});
  const backend = createPostgresBackend({ client: pool, schema: target.schema, ownsClient: true });
  return createPostgresAuditStore({ backend, ownsBackend: true }) as AuditStore<never>;
}

/** Runs the appender loops of one process. */
export async function appendWorker(args: AppendArgs, worker: WorkerInfo): Promise<AppendResult> {
  const store = openTargetStore(args.target, args.loops);
  const audit = createAuditLog({ store });
  const committed: number[] = [];
  const rolledBack: number[] = [];
  try {
    await Promise.all(
      Array.from({ length: args.loops }, async (_, loop) => {
        for (let i = 0; i < args.perLoop; i++) {
          const n = (worker.index * args.loops + loop) * args.perLoop + i;
          if (args.rollbackEvery > 0 && i % args.rollbackEvery === args.rollbackEvery - 1) {
            await store.backend
              .transaction(async (tx) => {
                await audit.record(proofEntry(n), { transaction: tx });
                rolledBack.push(n);
                await sleep(args.holdMs);
                throw new Rollback();
              })
              .catch((error: unknown) => {
                if (!(error instanceof Rollback)) throw error;
              });
          } else {
            committed.push((await audit.record(proofEntry(n))).seq);
          }
        }
      }),
    );
  } finally {
    await audit.close();
    await store.close();
  }
  return { committed, rolledBack };
}
