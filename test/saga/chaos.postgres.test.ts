/**
 * Chaos on PostgreSQL: runner processes against a private server that the file may restart, with
 * the faults that queue-based engines are known to mishandle: a runner killed mid-step, runners
 * killed again and again, a PostgreSQL restart (fast and immediate) mid-run, the runners'
 * connections terminated with `pg_terminate_backend`, and a pool too small for the work. In every
 * case the runners left alive keep going without help, every saga ends as designed, no effect is
 * committed twice, no call is made without its recorded intent and no two calls for one step are
 * in flight at once.
 *
 * `CHAOS_SCALE` (default 1) multiplies the number of sagas (`npm run chaos:saga-pg` runs 4×).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SagaLog } from '../../src/saga/saga-log.js';
import type { ProcessHandle } from '../../src/testing/index.js';
import { findPostgresBin } from '../setup/services.js';
import {
  checkScenario,
  openSchema,
  type PlannedSaga,
  planSagas,
  runnerArgs,
  type ScenarioOutcome,
  startRunner,
} from './support/chaos-harness.js';
import { type EffectService, startEffectService } from './support/effect-service.js';
import { type PrivatePostgres, startPrivatePostgres } from './support/private-postgres.js';
import type { RunnerArgs, RunnerReport } from './support/saga-runner.js';

const SCALE = Number(process.env.CHAOS_SCALE ?? 1);
/** The failover measurement's lease and poll. */
const LEASE_MS = 1_000;
const POLL_MS = 100;
/**
 * The other scenarios' lease: long enough that a runner starved by a loaded CI machine keeps its
 * sagas, so that what they exercise is the fault injected (every saga heartbeats each third of
 * the lease; a short lease on a starved machine is the crash test's subject).
 */
const CHAOS_LEASE_MS = 3_000;

const describeChaos = (name: string, fn: () => void) =>
  findPostgresBin()
    ? describe(name, fn)
    : describe.skip(`${name} (skipped: no PostgreSQL binaries for a private server)`, fn);

describeChaos('saga chaos on PostgreSQL (private server)', () => {
  let server: PrivatePostgres;
  let service: EffectService;
  beforeAll(async () => {
    const started = await startPrivatePostgres();
    if (!started) throw new Error('no PostgreSQL binaries');
    server = started;
    service = await startEffectService();
  }, 90_000);
  afterAll(async () => {
    await service?.close();
    await server?.destroy();
  });

  /** Runners of one scenario: the initial ones, their replacements, and those killed. */
  interface Scene {
    readonly plan: readonly PlannedSaga[];
    readonly runners: ProcessHandle<RunnerReport>[];
    readonly killed: Set<ProcessHandle<RunnerReport>>;
    spawn(overrides: Partial<RunnerArgs>): ProcessHandle<RunnerReport>;
    /** Resolves once the service saw `fraction` of the calls a calm run makes. */
    progress(fraction: number): Promise<void>;
  }

  async function scenario(
    name: string,
    plan: readonly PlannedSaga[],
    initial: readonly Partial<RunnerArgs>[],
    chaos: (scene: Scene) => Promise<void>,
  ): Promise<ScenarioOutcome & { seconds: number; reports: RunnerReport[] }> {
    service.reset();
    const schema = `chaos_${name}`;
    const { store, close } = await openSchema(server.url, schema);
    const began = Date.now();
    let next = 0;
    // A calm run calls the service about 4 times per saga (5 for a flaky one, 8 for a declined).
    const calmCalls = plan.length * 4;
    const scene: Scene = {
      plan,
      runners: [],
      killed: new Set(),
      spawn(overrides) {
        const handle = startRunner(
          runnerArgs({
            postgresUrl: server.url,
            schema,
            serviceUrl: service.url,
            runnerId: `chaos-${name}-${next++}`,
            expectedTotal: plan.length,
            leaseMs: CHAOS_LEASE_MS,
            pollIntervalMs: POLL_MS,
            poolMax: 8,
            backendTimeoutMs: 5_000,
            deadlineMs: 90_000 * SCALE,
            startBatch: 1_000,
            ...overrides,
          }),
        );
        scene.runners.push(handle);
        return handle;
      },
      async progress(fraction) {
        const deadline = Date.now() + 60_000;
        while (service.calls.length < calmCalls * fraction) {
          if (Date.now() > deadline) throw new Error(`${name}: no progress to ${fraction}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      },
    };
    try {
      const first = initial.map((overrides) => scene.spawn(overrides));
      // Every saga exists before the chaos starts: what the test checks is what was started.
      await Promise.all(
        first.map((handle, i) =>
          handle.waitForMessage(
            (m) =>
              (m as { type?: string }).type ===
              ((initial[i]!.start?.length ?? 0) > 0 ? 'started' : 'running'),
            60_000,
          ),
        ),
      );
      await chaos(scene);
      const results = await Promise.all(scene.runners.map((r) => r.result));
      const reports: RunnerReport[] = [];
      results.forEach((result, i) => {
        if (scene.killed.has(scene.runners[i]!)) return;
        // A runner the test did not kill stayed up and finished by itself.
        expect(result, JSON.stringify(result)).toMatchObject({
          status: 'fulfilled',
          value: { timedOut: false },
        });
        if (result.status === 'fulfilled') reports.push(result.value);
      });
      const outcome = await checkScenario(store, service, plan);
      expect(outcome.violations).toEqual([]);
      return { ...outcome, seconds: (Date.now() - began) / 1000, reports };
    } finally {
      for (const runner of scene.runners) runner.kill();
      await close();
    }
  }

  const share = (plan: readonly PlannedSaga[], runners: number, r: number) =>
    plan.filter((_, n) => n % runners === r);

  function summary(name: string, outcome: ScenarioOutcome & { seconds: number }, extra = '') {
    console.info(
      `[chaos] ${name}: ${outcome.seconds.toFixed(1)} s, ${JSON.stringify(outcome.statuses)}, ${outcome.unknownAttempts} unknown outcomes, ${outcome.replays} replays${extra}`,
    );
  }

  it(
    'runner killed with SIGKILL mid-step: its sagas move to another runner within lease + one poll',
    async () => {
      const plan = planSagas('crash', 20 * SCALE, { holdMs: 300, declineEvery: 10 });
      let killedAt = 0;
      let victim = '';
      const outcome = await scenario(
        'crash',
        plan,
        // Each survivor has room for every saga: the measure is failover, not the concurrency cap.
        [0, 1, 2].map((r) => ({
          leaseMs: LEASE_MS,
          concurrency: plan.length,
          ...(r === 0 ? { start: plan } : {}),
        })),
        async ({ runners, killed }) => {
          const runner = runners[0]!;
          victim = 'chaos-crash-0';
          // Kill it while its sagas are mid-call.
          const deadline = Date.now() + 30_000;
          while (service.calls.filter((c) => c.runner === victim).length < plan.length) {
            if (Date.now() > deadline) throw new Error('runner 0 made no calls');
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          killedAt = Date.now();
          runner.kill('SIGKILL');
          killed.add(runner);
        },
      );
      // For each saga it held: when another runner claimed it (the claim closes the attempts the
      // dead runner left open, as SAGA_RUNNER_LOST, at once), and when it first called a step.
      const claimedAfter = new Map<string, number>();
      for (const saga of outcome.sagas) {
        for (const record of (saga.log as SagaLog).steps) {
          for (const attempt of [...record.attempts, ...(record.compensation?.attempts ?? [])]) {
            if (attempt.error?.code !== 'SAGA_RUNNER_LOST' || attempt.endedAt! < killedAt) continue;
            const ms = attempt.endedAt! - killedAt;
            claimedAfter.set(saga.id, Math.min(ms, claimedAfter.get(saga.id) ?? ms));
          }
        }
      }
      const calledAfter = new Map<string, number>();
      for (const call of service.calls) {
        const saga = call.key.split('/')[1]!;
        if (call.at >= killedAt && call.runner !== victim && !calledAfter.has(saga)) {
          calledAfter.set(saga, call.at - killedAt);
        }
      }
      const claims = [...claimedAfter.values()].sort((a, b) => a - b);
      const firstCalls = [...calledAfter.values()].sort((a, b) => a - b);
      expect(claims.length).toBeGreaterThan(0);
      const stats = (values: number[]) =>
        `min ${values[0]} / median ${values[Math.floor(values.length / 2)]} / max ${values.at(-1)} ms`;
      summary(
        'runner crash',
        outcome,
        `; ${claims.length} sagas taken over: claimed ${stats(claims)}, first step call ${stats(firstCalls)} after the kill (lease ${LEASE_MS} ms, poll ${POLL_MS} ms)`,
      );
      // The bound is lease + one poll (with its jitter); the margin covers a loaded CI machine.
      expect(claims.at(-1)!).toBeLessThan(LEASE_MS + POLL_MS * 1.25 + 1_000);
      expect(outcome.unknownAttempts).toBeGreaterThan(0);
      expect(outcome.statuses.completed! + (outcome.statuses.compensated ?? 0)).toBe(plan.length);
    },
    120_000 * SCALE,
  );

  it(
    'runners killed again and again: the others and their replacements finish every saga',
    async () => {
      const plan = planSagas('kills', 45 * SCALE, { holdMs: 60, flakyEvery: 5, declineEvery: 10 });
      const outcome = await scenario(
        'kills',
        plan,
        [0, 1, 2].map((r) => ({ start: share(plan, 3, r) })),
        async (scene) => {
          for (const fraction of [0.1, 0.3, 0.5, 0.7]) {
            await scene.progress(fraction);
            const alive = scene.runners.filter((r) => !scene.killed.has(r));
            const victim = alive[Math.floor(Math.random() * alive.length)]!;
            victim.kill('SIGKILL');
            scene.killed.add(victim);
            // What a supervisor does: a new process, which finds the work through its poll.
            scene.spawn({});
          }
        },
      );
      summary('repeated kills (4 SIGKILLs)', outcome);
      expect(outcome.statuses.completed! + (outcome.statuses.compensated ?? 0)).toBe(plan.length);
    },
    150_000 * SCALE,
  );

  it(
    'PostgreSQL restarted mid-run (fast, then immediate): runners reconnect and finish',
    async () => {
      const plan = planSagas('restart', 30 * SCALE, {
        holdMs: 60,
        flakyEvery: 5,
        declineEvery: 10,
      });
      const downtimes: string[] = [];
      const outcome = await scenario(
        'restart',
        plan,
        [0, 1, 2].map((r) => ({ start: share(plan, 3, r) })),
        async (scene) => {
          for (const [fraction, mode, downMs] of [
            [0.2, 'fast', 1_500],
            [0.55, 'immediate', 1_000],
          ] as const) {
            await scene.progress(fraction);
            const stoppedAt = Date.now();
            await server.stop(mode);
            await new Promise((resolve) => setTimeout(resolve, downMs));
            await server.start();
            downtimes.push(`${mode} ${Date.now() - stoppedAt} ms`);
          }
        },
      );
      summary('PostgreSQL restarts', outcome, `; down: ${downtimes.join(', ')}`);
      const interrupted = outcome.reports.reduce(
        (n, r) => n + (r.events['saga.run_interrupted'] ?? 0) + (r.events['saga.poll_failed'] ?? 0),
        0,
      );
      // The runners did see the outage, and came through it.
      expect(interrupted).toBeGreaterThan(0);
    },
    150_000 * SCALE,
  );

  it(
    'pg_terminate_backend of the runners connections, again and again',
    async () => {
      const plan = planSagas('terminate', 30 * SCALE, {
        holdMs: 40,
        flakyEvery: 5,
        declineEvery: 10,
      });
      let terminated = 0;
      const outcome = await scenario(
        'terminate',
        plan,
        [0, 1, 2].map((r) => ({ start: share(plan, 3, r) })),
        async (scene) => {
          const admin = new pg.Client({ connectionString: server.url });
          await admin.connect();
          try {
            await scene.progress(0.1);
            const until = Date.now() + 6_000;
            while (Date.now() < until && service.calls.length < plan.length * 4 * 0.8) {
              const { rows } = await admin.query<{ ok: boolean }>(
                `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
                WHERE application_name LIKE 'chaos-terminate-%'`,
              );
              terminated += rows.filter((r) => r.ok).length;
              await new Promise((resolve) => setTimeout(resolve, 200));
            }
          } finally {
            await admin.end();
          }
        },
      );
      summary('pg_terminate_backend', outcome, `; ${terminated} backends terminated`);
      expect(terminated).toBeGreaterThan(0);
    },
    150_000 * SCALE,
  );

  it(
    'pool exhaustion: 2 connections per runner, 50 sagas at once, 250 ms backend timeout',
    async () => {
      const plan = planSagas('pool', 50 * SCALE, { holdMs: 10, flakyEvery: 5, declineEvery: 10 });
      const tight = { poolMax: 2, backendTimeoutMs: 250 };
      const outcome = await scenario(
        'pool',
        plan,
        [{ ...tight, start: plan }, tight],
        async () => {},
      );
      const timeouts = outcome.reports.reduce(
        (n, r) =>
          n +
          (r.events['saga.run_interrupted'] ?? 0) +
          (r.events['saga.heartbeat_failed'] ?? 0) +
          (r.events['saga.poll_failed'] ?? 0),
        0,
      );
      summary('pool exhaustion', outcome, `; ${timeouts} interrupted runs / failed beats / polls`);
    },
    150_000 * SCALE,
  );
});
