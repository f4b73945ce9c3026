/**
 * Crashes: relay and consumer child processes SIGKILLed while messages flow (PostgreSQL outbox,
 * Redis Streams, the transactional inbox), each at a seeded point — a relay with messages claimed
 * and nothing published, a relay whose batch Redis acknowledged before the store knew, a consumer
 * inside the inbox's transaction, a consumer whose transaction committed before it acknowledged
 * the entry — with a fresh process started after each kill. Short leases (relay lease 1 s,
 * consumer takeover after 1 s idle) make takeovers quick. Then: every committed message applied
 * exactly once (one applied row, the inbox stopping redeliveries), none lost, each key's messages
 * in order in its stream, none of a rolled-back transaction published. Each kill's takeover time
 * (until what the dead process held was published or applied by another) is printed.
 *
 * With two consumers sharing each stream and entries taken over after a crash, the apply order
 * per key is not checked here (it is in no-gaps.postgres.test.ts, one consumer per stream).
 *
 * `OUTBOX_CHAOS_SCALE` (default 1) multiplies messages and kills; `OUTBOX_PROOF_SEED` replays a
 * run (the seed is printed). `npm run chaos:outbox` runs a longer variant.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bundleWorker } from '../support/bundle-worker.js';
import { describeWithPostgres, redisUrl } from '../support/services.js';
import { NO_VIOLATIONS, violations } from './support/proof-checks.js';
import { formatCrashReport, runCrashes } from './support/proof-crash.js';
import { KILL_POINTS } from './support/proof-worker.js';

const SCALE = Number(process.env.OUTBOX_CHAOS_SCALE ?? 1);
const MESSAGES = Math.round(3_000 * SCALE);
const KILLS = Math.max(KILL_POINTS.length, Math.round(6 * SCALE));
const SEED = Number(process.env.OUTBOX_PROOF_SEED ?? Date.now() % 1_000_000);
const TIMEOUT_MS = 150_000 * Math.max(1, SCALE);
const WORKER = fileURLToPath(new URL('./support/proof-worker.ts', import.meta.url));

describeWithPostgres('outbox: relays and consumers SIGKILLed while messages flow', (url) => {
  const dir = mkdtempSync(join(tmpdir(), 'flowproof-outbox-crash-'));
  let worker: string;
  beforeAll(async () => {
    worker = await bundleWorker(WORKER, 'flowproof-outbox-crash');
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    if (worker) rmSync(dirname(worker), { recursive: true, force: true });
  });

  it(
    `${KILLS} kills over ${MESSAGES}+ messages: each applied exactly once, none lost, in order per key in its stream`,
    async () => {
      const redisAt = redisUrl();
      if (!redisAt) throw new Error('this proof needs a Redis server');
      const report = await runCrashes({
        postgresUrl: url,
        redisUrl: redisAt,
        worker,
        dir,
        messages: MESSAGES,
        kills: KILLS,
        seed: SEED,
        leaseMs: 1_000,
        claimIdleMs: 1_000,
        timeoutMs: TIMEOUT_MS - 15_000,
      });
      console.log(formatCrashReport(report));
      expect(report.failures, `seed ${SEED}`).toEqual([]);
      expect(report.verdict.examples, `seed ${SEED}`).toEqual([]);
      expect(violations(report.verdict)).toEqual(NO_VIOLATIONS);
      expect(report.verdict.committed).toBeGreaterThanOrEqual(MESSAGES);
      expect(report.kills.length, `seed ${SEED}: kills that landed`).toBeGreaterThanOrEqual(4);
      for (const point of KILL_POINTS) {
        expect(
          report.kills.some((kill) => kill.point === point),
          `seed ${SEED}: no kill at ${point}`,
        ).toBe(true);
      }
    },
    TIMEOUT_MS,
  );
});
