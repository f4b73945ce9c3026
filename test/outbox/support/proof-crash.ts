/**
 * The crash run of the outbox proofs, on PostgreSQL and Redis Streams: writers in this process
 * commit messages steadily while two relay child processes publish them and two consumer child
 * processes apply them through the transactional inbox. Relays and consumers SIGKILL themselves
 * at planned points (seeded: which point, at which occurrence), one at a time per role; a fresh
 * process replaces each one killed, and the survivors take over what it held once its lease
 * (relay) or its entries' idle time (consumer) runs out.
 *
 * Measured per kill: what the killed process held (the messages its live claim covered; the
 * stream entries pending for it) and how long until the last of them was published (relay) or
 * applied (consumer) by another process, from the moment of the kill.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createOutbox } from '../../../src/outbox/index.js';
import { type ProcessHandle, startProcesses } from '../../../src/testing/index.js';
import { seededRandom } from '../../../src/testing/seeded-random.js';
import { checkRun, type RunVerdict } from './proof-checks.js';
import { CONSUMER_NAME, waitFor } from './proof-pipeline.js';
import { KILL_POINTS, type KillPlan, type ServiceWorkerArgs } from './proof-worker.js';
import {
  dropStreams,
  openPostgresWorld,
  proofTopics,
  readStreams,
  streamKeyOf,
  topicOf,
} from './proof-world.js';
import { runPostgresWriters } from './proof-writers.js';

/** Options of {@link runCrashes}. */
export interface CrashOptions {
  readonly postgresUrl: string;
  readonly redisUrl: string;
  /** The bundled worker module (`proof-worker.ts`). */
  readonly worker: string;
  /** A scratch directory (stop and kill files). */
  readonly dir: string;
  /** Committed messages at least (the writers go on until the planned kills landed). */
  readonly messages: number;
  /** Kills planned: relays and consumers alternately, every kill point used before any twice. */
  readonly kills: number;
  readonly seed: number;
  /** The relays' lease. */
  readonly leaseMs: number;
  /** The consumers' takeover delay (XAUTOCLAIM min idle time). */
  readonly claimIdleMs: number;
  /** Gives up after this long. */
  readonly timeoutMs: number;
}

/** One kill that landed. */
export interface KillRecord extends KillPlan {
  readonly process: string;
  /** When it died (epoch ms). */
  readonly at: number;
  /** Messages (relay) or stream entries (consumer) it held when it died. */
  readonly held: number;
  /**
   * How long after the kill the last of them was published (relay) or applied (consumer) by
   * another process; `null` when it left none unfinished.
   */
  readonly takeoverMs: number | null;
}

/** What a crash run found. */
export interface CrashReport {
  readonly seed: number;
  readonly verdict: RunVerdict;
  readonly kills: readonly KillRecord[];
  /** Processes started (relays and consumers, replacements included). */
  readonly processes: number;
  /** Children that ended otherwise than killed at their plan or stopped (should be none). */
  readonly failures: readonly string[];
  /** Messages applied on a later delivery than their first (taken over from a dead consumer). */
  readonly redelivered: number;
  readonly transactions: number;
  readonly durationMs: number;
}

type Role = 'relay' | 'consumer';
const PARTITIONS = 4;

/** The kill plans of a run, from its seed. */
export function planKills(
  seed: number,
  kills: number,
): { relay: KillPlan[]; consumer: KillPlan[] } {
  const random = seededRandom(seed);
  const points = [...KILL_POINTS];
  // Every point first, in a seeded order, then seeded picks.
  for (let i = points.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [points[i], points[j]] = [points[j]!, points[i]!];
  }
  const plans = { relay: [] as KillPlan[], consumer: [] as KillPlan[] };
  for (let i = 0; i < kills; i += 1) {
    const point = points[i] ?? (KILL_POINTS[Math.floor(random() * KILL_POINTS.length)] as never);
    const role: Role = point.startsWith('relay') ? 'relay' : 'consumer';
    // Relays count batches, consumers count messages.
    const n = 1 + Math.floor(random() * (role === 'relay' ? 10 : 150));
    plans[role].push({ point, n });
  }
  return plans;
}

/** Runs the crash scenario and checks the outcome. Never throws on a violation. */
export async function runCrashes(options: CrashOptions): Promise<CrashReport> {
  const started = Date.now();
  const runId = `crash-${process.pid}-${Date.now().toString(36)}`;
  const schema = `outbox_crash_${runId.replaceAll('-', '_')}`;
  const world = openPostgresWorld(options.postgresUrl, schema, 20);
  const redis = new Redis(options.redisUrl);
  const streams = Array.from({ length: PARTITIONS }, (_, p) => streamKeyOf(runId)(topicOf(p)));
  const plans = planKills(options.seed, options.kills);
  const planned = plans.relay.length + plans.consumer.length;
  const stopFile = join(options.dir, `stop-${runId}`);
  const kills: { record: Omit<KillRecord, 'takeoverMs'>; heldIds: string[] }[] = [];
  const failures: string[] = [];
  let processes = 0;
  let stopping = false;

  const spawn = (role: Role, name: string, kill: KillPlan | null): ProcessHandle<null> => {
    processes += 1;
    const [child] = startProcesses<null, ServiceWorkerArgs>({
      module: options.worker,
      exportName: role === 'relay' ? 'relayWorker' : 'consumerWorker',
      args: {
        target: { backend: 'postgres', url: options.postgresUrl, schema },
        redisUrl: options.redisUrl,
        runId,
        name,
        partitions: PARTITIONS,
        leaseMs: options.leaseMs,
        claimIdleMs: options.claimIdleMs,
        stopFile,
        kill,
        killFile: join(options.dir, `kill-${runId}-${name}.json`),
      },
      timeoutMs: options.timeoutMs,
    });
    return child!;
  };

  /** What `name` held when it died: message ids. */
  const heldBy = async (role: Role, name: string): Promise<string[]> => {
    if (role === 'relay') {
      const rows = await world.backend.query<{ id: string }>(
        `SELECT id FROM ${world.backend.table('outbox_messages')}
          WHERE status = 'pending' AND lease_owner LIKE $1`,
        [`${name}/%`],
      );
      return rows.map((row) => row.id);
    }
    const ids: string[] = [];
    for (const stream of streams) {
      const pending = (await redis.xpending(stream, CONSUMER_NAME, '-', '+', 10_000, name)) as [
        string,
        ...unknown[],
      ][];
      for (const [entryId] of pending) {
        const [entry] = (await redis.xrange(stream, entryId, entryId)) as [string, string[]][];
        const fields = entry?.[1] ?? [];
        const at = fields.indexOf('id');
        if (at >= 0 && at % 2 === 0) ids.push(fields[at + 1]!);
      }
    }
    return ids;
  };

  /** One slot: a process of `role`, replaced each time it is killed, until the run stops. */
  const slot = async (role: Role, slotName: string, takesKills: boolean) => {
    for (let generation = 0; ; generation += 1) {
      const name = `${slotName}-${generation}`;
      const plan = takesKills ? (plans[role].shift() ?? null) : null;
      const child = spawn(role, name, plan);
      const result = await child.result;
      const killFile = join(options.dir, `kill-${runId}-${name}.json`);
      if (result.status === 'exited' && result.signal === 'SIGKILL' && existsSync(killFile)) {
        const hit = JSON.parse(readFileSync(killFile, 'utf8')) as KillPlan & { at: number };
        const heldIds = await heldBy(role, name);
        kills.push({
          record: { process: name, point: hit.point, n: hit.n, at: hit.at, held: heldIds.length },
          heldIds,
        });
      } else if (result.status !== 'fulfilled') {
        failures.push(`${name} ended ${JSON.stringify(result)}`);
      }
      if (stopping || result.status === 'fulfilled') return;
    }
  };

  let verdict: RunVerdict;
  let transactions = 0;
  let redelivered = 0;
  try {
    await world.prepare();
    const slots = [
      slot('relay', 'relay-a', true),
      slot('relay', 'relay-b', false),
      slot('consumer', 'consumer-a', true),
      slot('consumer', 'consumer-b', false),
    ];
    const deadline = started + options.timeoutMs;
    let written: Awaited<ReturnType<typeof runPostgresWriters>>;
    try {
      const outbox = createOutbox({ store: world.store, topics: proofTopics(PARTITIONS) });
      written = await runPostgresWriters(world, outbox, {
        writers: 8,
        messages: options.messages,
        keysPerWriter: 4,
        maxPerTransaction: 5,
        maxDelayMs: 60,
        rollbackRate: 0.05,
        partitions: PARTITIONS,
        seed: options.seed,
        keepGoing: () => kills.length < planned && Date.now() < deadline - 60_000,
      });
      transactions = written.transactions;
      await waitFor(
        `applied (seed ${options.seed})`,
        () => world.appliedCount(),
        written.committed.length,
        Math.max(10_000, deadline - Date.now() - 10_000),
      );
    } finally {
      stopping = true;
      writeFileSync(stopFile, '');
      await Promise.all(slots);
    }
    const [outboxRows, stream, applied] = await Promise.all([
      world.outboxRows(),
      readStreams(redis, streams),
      world.applied(),
    ]);
    verdict = checkRun({
      committed: written.committed,
      rolledBack: written.rolledBack,
      outboxRows,
      stream,
      applied,
      applyOrder: false,
    });
    redelivered = applied.filter((row) => row.deliveries > 1).length;
    const publishedAt = new Map(outboxRows.map((row) => [row.id, row.finishedAt]));
    const appliedAt = new Map(applied.map((row) => [row.messageId, row.appliedAt]));
    return {
      seed: options.seed,
      verdict,
      kills: kills.map(({ record, heldIds }) => {
        // Left for others: what was not published (applied) yet when it died. A consumer killed
        // after its commit held an entry it had applied itself.
        const done = heldIds
          .map((id) => (record.point.startsWith('relay') ? publishedAt.get(id) : appliedAt.get(id)))
          .map((t) => t ?? Number.POSITIVE_INFINITY)
          .filter((t) => t > record.at);
        return { ...record, takeoverMs: done.length === 0 ? null : Math.max(...done) - record.at };
      }),
      processes,
      failures,
      redelivered,
      transactions,
      durationMs: Date.now() - started,
    };
  } finally {
    await dropStreams(redis, runId).catch(() => {});
    redis.disconnect();
    await world.drop().catch(() => {});
    await world.close();
  }
}

/** The report as printed: figures, then one line per kill. */
export function formatCrashReport(report: CrashReport): string {
  const { verdict } = report;
  return [
    `outbox crash proof: seed ${report.seed}, ${verdict.committed} messages (${report.transactions} transactions), ${report.kills.length} kills, ${report.processes} relay/consumer processes, ${(report.durationMs / 1000).toFixed(1)} s; lost ${verdict.lost}, unpublished ${verdict.unpublished}, duplicated ${verdict.duplicated}, stream duplicates ${verdict.streamDuplicates}, stream out of order ${verdict.streamOutOfOrder}, rolled back seen ${verdict.rolledBackSeen}; messages applied on a redelivery ${report.redelivered}`,
    ...report.kills.map(
      (k) =>
        `  killed ${k.process} at ${k.point} #${k.n}: held ${k.held}, taken over in ${k.takeoverMs === null ? '-' : `${k.takeoverMs} ms`}`,
    ),
    ...report.failures.map((f) => `  FAILURE ${f}`),
    ...verdict.examples.map((e) => `  VIOLATION (replay: seed ${report.seed}) ${e}`),
  ].join('\n');
}
