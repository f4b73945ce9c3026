/**
 * No gaps under concurrency, on SQLite with several processes: 4 writer child processes on one
 * SQLite file (WAL, flowproof's SQLite backend over better-sqlite3) run transactions of one
 * business row plus 1..6 messages enqueued in it, with a random delay inside the transaction and
 * about 5% rolled back; a relay in another child process publishes to Redis Streams while they
 * write; this process applies the messages into the same file through the transactional inbox
 * (`createIdempotency` over the SQLite idempotency store). Then the same checks as on PostgreSQL:
 * nothing lost, nothing applied twice, per-key order in the streams and in apply order (one
 * consumer per partition's stream, as there), nothing of a rolled-back transaction published.
 *
 * SQLite commits one writer at a time, and a row's position (its rowid) is taken under the write
 * lock, so commits follow positions; the writers' delays inside their transactions make them wait
 * for each other (busy timeout) rather than interleave.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ProcessResult, startProcesses } from '../../src/testing/index.js';
import { bundleWorker } from '../support/bundle-worker.js';
import { describeWithRedis } from '../support/services.js';
import { checkRun, NO_VIOLATIONS, violations } from './support/proof-checks.js';
import { startConsumers, waitFor } from './support/proof-pipeline.js';
import type { ServiceWorkerArgs, SqliteWriterArgs } from './support/proof-worker.js';
import {
  dropStreams,
  openSqliteWorld,
  readStreams,
  type SqliteWorld,
  streamKeyOf,
  topicOf,
} from './support/proof-world.js';
import type { WritersResult } from './support/proof-writers.js';

const SCALE = Number(process.env.OUTBOX_PROOF_SCALE ?? 0.1);
const WRITER_PROCESSES = 4;
const MESSAGES = Math.max(400, Math.round(10_000 * SCALE));
const PARTITIONS = 4;
const SEED = Number(process.env.OUTBOX_PROOF_SEED ?? Date.now() % 1_000_000);
const TIMEOUT_MS = 120_000 + MESSAGES * 20;
const WORKER = fileURLToPath(new URL('./support/proof-worker.ts', import.meta.url));

describeWithRedis('outbox: no gaps with writer processes on one SQLite file', (redisAt) => {
  const runId = `sqlite-${process.pid}-${Date.now().toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), 'flowproof-outbox-sqlite-'));
  const file = join(dir, 'outbox.db');
  let world: SqliteWorld;
  let redis: Redis;
  let worker: string;

  beforeAll(async () => {
    world = openSqliteWorld(file);
    await world.prepare();
    redis = new Redis(redisAt);
    worker = await bundleWorker(WORKER, 'flowproof-outbox-proof');
  });
  afterAll(async () => {
    await dropStreams(redis, runId).catch(() => {});
    redis?.disconnect();
    await world?.close();
    rmSync(dir, { recursive: true, force: true });
    if (worker) rmSync(dirname(worker), { recursive: true, force: true });
  });

  it(
    `${MESSAGES} messages from ${WRITER_PROCESSES} writer processes and a relay process: none lost, duplicated, out of order per key, or published from a rollback`,
    async () => {
      const started = Date.now();
      const stopFile = join(dir, 'stop');
      const [relay] = startProcesses<null, ServiceWorkerArgs>({
        module: worker,
        exportName: 'relayWorker',
        args: {
          target: { backend: 'sqlite', file },
          redisUrl: redisAt,
          runId,
          name: 'relay',
          partitions: PARTITIONS,
          leaseMs: 5_000,
          claimIdleMs: 30_000,
          stopFile,
          kill: null,
          killFile: join(dir, 'relay-kill.json'),
        },
        timeoutMs: TIMEOUT_MS,
      });
      let handlerCalls = 0;
      const consumers = startConsumers({
        world,
        redis,
        runId,
        partitions: PARTITIONS,
        layout: 'per-partition',
        consumerName: 'applier',
        claimIdleMs: 30_000,
        batchSize: 64,
        onCall: () => {
          handlerCalls += 1;
        },
      });
      const stop = async () => {
        writeFileSync(stopFile, '');
        await Promise.all(consumers.map((consumer) => consumer.close()));
      };
      let written: WritersResult[];
      let writtenAt: number;
      try {
        const writers = await Promise.all(
          startProcesses<WritersResult, SqliteWriterArgs>({
            module: worker,
            exportName: 'sqliteWriterWorker',
            count: WRITER_PROCESSES,
            args: {
              file,
              writers: 1,
              messages: Math.ceil(MESSAGES / WRITER_PROCESSES),
              keysPerWriter: 6,
              maxPerTransaction: 6,
              maxDelayMs: 10,
              rollbackRate: 0.05,
              partitions: PARTITIONS,
              seed: SEED,
            },
            timeoutMs: TIMEOUT_MS,
          }).map((handle) => handle.result),
        );
        written = writers.map((result) => writerResult(result));
        writtenAt = Date.now();
        await waitFor(
          `applied (seed ${SEED})`,
          () => world.appliedCount(),
          written.reduce((sum, w) => sum + w.committed.length, 0),
          TIMEOUT_MS - (writtenAt - started) - 20_000,
        );
      } finally {
        await stop();
      }
      const committed = written.flatMap((w) => w.committed);
      expect(await relay!.result).toMatchObject({ status: 'fulfilled' });
      const drainedAt = Date.now();
      const verdict = checkRun({
        committed,
        rolledBack: written.flatMap((w) => w.rolledBack),
        outboxRows: await world.outboxRows(),
        stream: await readStreams(
          redis,
          Array.from({ length: PARTITIONS }, (_, p) => streamKeyOf(runId)(topicOf(p))),
        ),
        applied: await world.applied(),
        applyOrder: true,
      });
      const transactions = written.reduce((sum, w) => sum + w.transactions, 0);
      const rolledBackTransactions = written.reduce((sum, w) => sum + w.rolledBackTransactions, 0);
      console.log(
        `outbox no-gaps proof (SQLite, ${WRITER_PROCESSES} writer processes): ${JSON.stringify({
          seed: SEED,
          messages: verdict.committed,
          transactions,
          rolledBackTransactions,
          writeSeconds: (writtenAt - started) / 1000,
          totalSeconds: (drainedAt - started) / 1000,
          handlerCalls,
          ...violations(verdict),
        })}`,
      );
      expect(verdict.examples, `seed ${SEED}`).toEqual([]);
      expect(violations(verdict)).toEqual(NO_VIOLATIONS);
      expect(verdict.committed).toBeGreaterThanOrEqual(MESSAGES);
      expect(rolledBackTransactions).toBeGreaterThan(0);
      expect(handlerCalls).toBeGreaterThanOrEqual(verdict.applied);
    },
    TIMEOUT_MS,
  );
});

function writerResult(result: ProcessResult<WritersResult>): WritersResult {
  if (result.status !== 'fulfilled') {
    throw new Error(`writer ${result.index} ended ${JSON.stringify(result)} (seed ${SEED})`);
  }
  return result.value;
}
