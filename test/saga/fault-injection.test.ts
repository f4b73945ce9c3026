/**
 * Sagas survive SIGKILL at every persistence point, on SQLite and PostgreSQL: ~200 random sagas
 * per backend, in batches that a child runner starts and dies in, and fresh children resume (see
 * fault-injection/harness.ts for the invariants). A failing cycle prints its seed; replay it with
 * `npm run chaos:saga -- --backend <backend> --seed <seed>`.
 *
 * FLOWPROOF_SAGA_FAULTS_SEED moves the seeds (default 1): CI runs the same cycles every time, a
 * longer search runs `npm run chaos:saga`.
 */
import { describe, expect, it } from 'vitest';
import { describeWithPostgres } from '../support/services.js';
import { type ChaosReport, formatReport, runChaos } from './fault-injection/harness.js';
import { KILL_POINTS } from './fault-injection/plan.js';

const CYCLES = 10;
const BATCH = 20;
const FIRST_SEED = Number(process.env.FLOWPROOF_SAGA_FAULTS_SEED ?? 1);
const seeds = Array.from({ length: CYCLES }, (_, i) => FIRST_SEED + i);
const TIMEOUT_MS = 240_000;

function expectSound(report: ChaosReport) {
  console.log(formatReport(report));
  expect(report.violations).toEqual([]);
  expect(report.sagas).toBeGreaterThanOrEqual(200);
  const finished = Object.entries(report.statuses)
    .filter(([status]) => !['running', 'compensating', 'missing'].includes(status))
    .reduce((sum, [, n]) => sum + n, 0);
  expect(finished).toBe(report.sagas);
  for (const point of KILL_POINTS) {
    expect(report.coverage[point], `no kill landed at ${point}`).toBeGreaterThan(0);
  }
}

describe('saga fault injection: sqlite', () => {
  it(
    `${CYCLES * BATCH} random sagas, a runner SIGKILLed at every kind of persistence point, all end completed, compensated or dead-lettered; effects and undos at most once per key`,
    async () => {
      expectSound(await runChaos({ backend: 'sqlite', seeds, batch: BATCH }));
    },
    TIMEOUT_MS,
  );
});

describeWithPostgres('saga fault injection: postgres', (url) => {
  it(
    `${CYCLES * BATCH} random sagas, a runner SIGKILLed at every kind of persistence point, all end completed, compensated or dead-lettered; effects and undos at most once per key`,
    async () => {
      expectSound(await runChaos({ backend: 'postgres', postgresUrl: url, seeds, batch: BATCH }));
    },
    TIMEOUT_MS,
  );
});
