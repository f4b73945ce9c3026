/**
 * Three runner processes, 500 sagas on PostgreSQL. Each runner starts a third of them; one saga in
 * five fails once in `reserve` and, with a hold limit of 0, is released for its retry, which any
 * of the three runners may claim; one in ten is declined and compensates. Every saga must finish,
 * no step may run twice at once, and nothing may be called without its recorded intent.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPostgres } from '../support/services.js';
import {
  checkScenario,
  openSchema,
  planSagas,
  runnerArgs,
  startRunner,
} from './support/chaos-harness.js';
import { type EffectService, startEffectService } from './support/effect-service.js';

/** `CHAOS_SCALE` (default 1) multiplies the number of sagas (`npm run chaos:saga-pg` runs 4×). */
const SCALE = Number(process.env.CHAOS_SCALE ?? 1);
const SAGAS = 500 * SCALE;

describeWithPostgres('sagas: 3 runner processes, 500 sagas on PostgreSQL', (postgresUrl) => {
  let service: EffectService;
  beforeAll(async () => {
    service = await startEffectService();
  });
  afterAll(async () => {
    await service?.close();
  });

  it(
    'finishes every saga, each step effect once, never two calls of a step at once',
    async () => {
      const schema = 'saga_multi_runner';
      const { store, close } = await openSchema(postgresUrl, schema);
      try {
        const plan = planSagas('mr', SAGAS, { holdMs: 2, flakyEvery: 5, declineEvery: 10 });
        const began = Date.now();
        const runners = [0, 1, 2].map((r) =>
          startRunner(
            runnerArgs({
              postgresUrl,
              schema,
              serviceUrl: service.url,
              runnerId: `mr-runner-${r}`,
              expectedTotal: plan.length,
              start: plan.filter((_, n) => n % 3 === r),
              // Each runner keeps about `concurrency` of its own sagas in flight at a time.
              startBatch: 24,
              startPauseMs: 0,
              awaitBatch: true,
              // The default lease: on a loaded machine a short one can lapse while a runner is
              // starved, which is the chaos file's subject, not this one's.
              leaseMs: 30_000,
              poolMax: 8,
              backendTimeoutMs: 5_000,
              deadlineMs: 100_000 * SCALE,
            }),
          ),
        );
        const results = await Promise.all(runners.map((r) => r.result));
        const seconds = (Date.now() - began) / 1000;
        const outcome = await checkScenario(store, service, plan);
        for (const result of results) {
          expect(result, JSON.stringify(result)).toMatchObject({
            status: 'fulfilled',
            value: { timedOut: false },
          });
        }
        expect(outcome.violations).toEqual([]);
        expect(outcome.statuses).toEqual({ completed: SAGAS * 0.9, compensated: SAGAS * 0.1 });
        // Nobody crashed: no attempt had an unknown outcome, so no call was a replay.
        expect(outcome.unknownAttempts).toBe(0);
        expect(outcome.replays).toBe(0);
        // The released retries really moved between runners.
        const runnersBySaga = new Map<string, Set<string>>();
        for (const call of service.calls) {
          const saga = call.key.split('/')[1]!;
          const set = runnersBySaga.get(saga) ?? new Set<string>();
          set.add(call.runner);
          runnersBySaga.set(saga, set);
        }
        const moved = [...runnersBySaga.values()].filter((set) => set.size > 1).length;
        expect(moved).toBeGreaterThan(0);
        console.info(
          `[multi-runner] ${SAGAS} sagas × 3 runners in ${seconds.toFixed(1)} s; ${moved} sagas ran on more than one runner`,
        );
      } finally {
        await close();
      }
    },
    150_000 * SCALE,
  );
});
