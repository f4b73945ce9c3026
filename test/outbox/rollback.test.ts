/**
 * Rollback: a message enqueued in a transaction that rolls back is never published, on SQLite and
 * on PostgreSQL, with a relay running throughout (polling every 20 ms, so it looks at the table
 * many times while each transaction is open). Writers run transactions of 1..4 messages, hold
 * them open 0–100 ms, and roll back half of them; afterwards the streams hold exactly the
 * committed messages, in order per key, and the outbox table holds none of the rolled-back ones.
 * On SQLite the relay is another process (as it would be in production: one process never waits
 * for its own open transaction).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOutbox } from '../../src/outbox/index.js';
import { startProcesses } from '../../src/testing/index.js';
import { bundleWorker } from '../support/bundle-worker.js';
import { postgresUrl, redisUrl } from '../support/services.js';
import { checkRun, type RunVerdict } from './support/proof-checks.js';
import { startRelay, waitFor } from './support/proof-pipeline.js';
import type { ServiceWorkerArgs } from './support/proof-worker.js';
import {
  dropStreams,
  openPostgresWorld,
  openSqliteWorld,
  type PostgresWorld,
  proofTopics,
  readStreams,
  type SqliteWorld,
  streamKeyOf,
  topicOf,
} from './support/proof-world.js';
import {
  runPostgresWriters,
  runSqliteWriters,
  type WritersPlan,
  type WritersResult,
} from './support/proof-writers.js';

const PARTITIONS = 2;
const SEED = Number(process.env.OUTBOX_PROOF_SEED ?? Date.now() % 1_000_000);
const PLAN: WritersPlan = {
  writers: 3,
  messages: 90,
  keysPerWriter: 2,
  maxPerTransaction: 4,
  maxDelayMs: 100,
  rollbackRate: 0.5,
  partitions: PARTITIONS,
  seed: SEED,
};
const WORKER = fileURLToPath(new URL('./support/proof-worker.ts', import.meta.url));
const TITLE = 'outbox: a rolled-back transaction never publishes its messages';
const servers = (fn: () => void) =>
  postgresUrl() && redisUrl()
    ? describe(TITLE, fn)
    : describe.skip(`${TITLE} (skipped: PostgreSQL or Redis server not available)`, fn);

/** Waits until every committed message is published, then checks the streams and the table. */
async function verdictOf(
  world: PostgresWorld | SqliteWorld,
  redis: Redis,
  runId: string,
  written: WritersResult,
): Promise<RunVerdict> {
  await waitFor(
    `published (seed ${SEED})`,
    async () => (await world.outboxRows()).filter((row) => row.status === 'published').length,
    written.committed.length,
    30_000,
  );
  return checkRun({
    committed: written.committed,
    rolledBack: written.rolledBack,
    outboxRows: await world.outboxRows(),
    stream: await readStreams(
      redis,
      Array.from({ length: PARTITIONS }, (_, p) => streamKeyOf(runId)(topicOf(p))),
    ),
    applyOrder: false,
  });
}

function expectNeverPublished(verdict: RunVerdict, written: WritersResult) {
  expect(verdict.examples, `seed ${SEED}`).toEqual([]);
  expect(written.rolledBackTransactions).toBeGreaterThan(5);
  expect(verdict.rolledBackSeen).toBe(0);
  expect(verdict.unpublished).toBe(0);
  expect(verdict.streamEntries).toBe(written.committed.length);
}

servers(() => {
  const runId = `rollback-${process.pid}-${Date.now().toString(36)}`;
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(redisUrl() as string);
  });
  afterAll(async () => {
    await dropStreams(redis, `${runId}-pg`).catch(() => {});
    await dropStreams(redis, `${runId}-sqlite`).catch(() => {});
    redis?.disconnect();
  });

  it('PostgreSQL, a relay polling throughout', async () => {
    const schema = `outbox_rollback_${process.pid}_${Date.now().toString(36)}`;
    const world = openPostgresWorld(postgresUrl() as string, schema, 8);
    try {
      await world.prepare();
      const relay = startRelay({
        store: world.store,
        redis,
        runId: `${runId}-pg`,
        relayId: 'relay',
        leaseMs: 5_000,
      });
      let written: WritersResult;
      try {
        const outbox = createOutbox({ store: world.store, topics: proofTopics(PARTITIONS) });
        written = await runPostgresWriters(world, outbox, PLAN);
        expectNeverPublished(await verdictOf(world, redis, `${runId}-pg`, written), written);
      } finally {
        await relay.close();
      }
    } finally {
      await world.drop().catch(() => {});
      await world.close();
    }
  });

  it('SQLite, a relay process polling throughout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowproof-outbox-rollback-'));
    const file = join(dir, 'outbox.db');
    const world = openSqliteWorld(file);
    const worker = await bundleWorker(WORKER, 'flowproof-outbox-rollback');
    const stopFile = join(dir, 'stop');
    try {
      await world.prepare();
      const [relay] = startProcesses<null, ServiceWorkerArgs>({
        module: worker,
        exportName: 'relayWorker',
        args: {
          target: { backend: 'sqlite', file },
          redisUrl: redisUrl() as string,
          runId: `${runId}-sqlite`,
          name: 'relay',
          partitions: PARTITIONS,
          leaseMs: 5_000,
          claimIdleMs: 30_000,
          stopFile,
          kill: null,
          killFile: join(dir, 'kill.json'),
        },
        timeoutMs: 60_000,
      });
      try {
        const outbox = createOutbox({ store: world.store, topics: proofTopics(PARTITIONS) });
        const written = await runSqliteWriters(world, outbox, PLAN);
        expectNeverPublished(await verdictOf(world, redis, `${runId}-sqlite`, written), written);
      } finally {
        writeFileSync(stopFile, '');
        expect(await relay!.result).toMatchObject({ status: 'fulfilled' });
      }
    } finally {
      await world.close();
      rmSync(dir, { recursive: true, force: true });
      rmSync(dirname(worker), { recursive: true, force: true });
    }
  });
});
