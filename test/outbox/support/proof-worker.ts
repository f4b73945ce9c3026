/**
 * The child processes of the outbox proofs (bundled with esbuild, run with `startProcesses`):
 * writers on a shared SQLite file, relays, and consumers. A relay or consumer runs until the
 * parent creates its stop file; with a kill plan it SIGKILLs itself at the n-th event of the
 * planned kind, after writing where it landed to its kill file.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createOutbox, type OutboxStore } from '../../../src/outbox/index.js';
import { startConsumers, startRelay } from './proof-pipeline.js';
import {
  openPostgresWorld,
  openSqliteWorld,
  type PostgresWorld,
  proofTopics,
  type SqliteWorld,
} from './proof-world.js';
import { runSqliteWriters, type WritersPlan, type WritersResult } from './proof-writers.js';

/** Where a run's rows live. */
export type ProofTarget =
  | { readonly backend: 'sqlite'; readonly file: string }
  | { readonly backend: 'postgres'; readonly url: string; readonly schema: string };

/** Where a child kills itself. */
export const KILL_POINTS = [
  // Relay: messages claimed, nothing published yet.
  'relay:claimed',
  // Relay: Redis acknowledged the batch, the store does not know yet.
  'relay:published',
  // Consumer: inside the inbox's transaction, before its commit.
  'consumer:in-transaction',
  // Consumer: the inbox's transaction committed, the entry not acknowledged yet.
  'consumer:handled',
] as const;

/** A kill point. */
export type KillPoint = (typeof KILL_POINTS)[number];

/** Kill at the n-th event of `point`. */
export interface KillPlan {
  readonly point: KillPoint;
  readonly n: number;
}

/** What a relay or consumer child takes. */
export interface ServiceWorkerArgs {
  readonly target: ProofTarget;
  readonly redisUrl: string;
  readonly runId: string;
  /** The relay id, or the consumer's name in its group. */
  readonly name: string;
  readonly partitions: number;
  readonly leaseMs: number;
  readonly claimIdleMs: number;
  readonly stopFile: string;
  readonly kill: KillPlan | null;
  readonly killFile: string;
}

function openWorld(target: ProofTarget, poolMax: number): PostgresWorld | SqliteWorld {
  return target.backend === 'sqlite'
    ? openSqliteWorld(target.file)
    : openPostgresWorld(target.url, target.schema, poolMax);
}

/** Counts events and SIGKILLs this process at the planned one. */
function killSwitch(args: ServiceWorkerArgs): (point: KillPoint) => void {
  let n = 0;
  return (point) => {
    if (args.kill?.point !== point) return;
    n += 1;
    if (n < args.kill.n) return;
    writeFileSync(args.killFile, JSON.stringify({ ...args.kill, at: Date.now() }));
    process.kill(process.pid, 'SIGKILL');
    // Nothing else runs in this process: the signal ends it.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  };
}

async function untilStopped(stopFile: string): Promise<void> {
  while (!existsSync(stopFile)) await sleep(50);
}

/** A relay from the target's outbox to the run's Redis streams. */
export async function relayWorker(args: ServiceWorkerArgs): Promise<null> {
  const world = openWorld(args.target, 3);
  const redis = new Redis(args.redisUrl);
  const kill = killSwitch(args);
  const inner = world.store as OutboxStore<unknown>;
  // The relay's view of the store, with the kill point after a claim (methods forwarded one by
  // one: the store is a class with private fields).
  const store = {
    claim: async (request: Parameters<OutboxStore['claim']>[0]) => {
      const claimed = await inner.claim(request);
      if (claimed.length > 0) kill('relay:claimed');
      return claimed;
    },
    markPublished: (...a: Parameters<OutboxStore['markPublished']>) => inner.markPublished(...a),
    reschedule: (...a: Parameters<OutboxStore['reschedule']>) => inner.reschedule(...a),
    deadLetter: (...a: Parameters<OutboxStore['deadLetter']>) => inner.deadLetter(...a),
    purge: (...a: Parameters<OutboxStore['purge']>) => inner.purge(...a),
  } as unknown as OutboxStore<unknown>;
  const relay = startRelay({
    store,
    redis,
    runId: args.runId,
    relayId: args.name,
    leaseMs: args.leaseMs,
    batchSize: 100,
    wrapPublisher: (publisher) => ({
      async publish(messages) {
        const acked = await publisher.publish(messages);
        if (acked.length > 0) kill('relay:published');
        return acked;
      },
    }),
  });
  try {
    await untilStopped(args.stopFile);
  } finally {
    await relay.close();
    redis.disconnect();
    await world.close();
  }
  return null;
}

/** A consumer of every partition's stream, applying into the target through the inbox. */
export async function consumerWorker(args: ServiceWorkerArgs): Promise<null> {
  const world = openWorld(args.target, 3);
  const redis = new Redis(args.redisUrl);
  const kill = killSwitch(args);
  const consumers = startConsumers({
    world,
    redis,
    runId: args.runId,
    partitions: args.partitions,
    layout: 'shared',
    consumerName: args.name,
    claimIdleMs: args.claimIdleMs,
    // A round of 4 streams × 4 entries stays well under the 1 s takeover delay.
    batchSize: 4,
    onCall: () => kill('consumer:in-transaction'),
    wrapConsumer: (consumer) => ({
      ...consumer,
      async handle(message) {
        const outcome = await consumer.handle(message);
        kill('consumer:handled');
        return outcome;
      },
    }),
  });
  try {
    await untilStopped(args.stopFile);
  } finally {
    await Promise.all(consumers.map((consumer) => consumer.close({ timeoutMs: 5_000 })));
    redis.disconnect();
    await world.close();
  }
  return null;
}

/** What a SQLite writer child takes. */
export interface SqliteWriterArgs extends Omit<WritersPlan, 'firstWriter'> {
  readonly file: string;
}

/** Writers on the shared SQLite file; child `index` owns the keys of writers index×writers…. */
export async function sqliteWriterWorker(
  args: SqliteWriterArgs,
  worker: { readonly index: number },
): Promise<WritersResult> {
  const world = openSqliteWorld(args.file);
  try {
    const outbox = createOutbox({ store: world.store, topics: proofTopics(args.partitions) });
    return await runSqliteWriters(world, outbox, {
      ...args,
      firstWriter: worker.index * args.writers,
    });
  } finally {
    await world.close();
  }
}
