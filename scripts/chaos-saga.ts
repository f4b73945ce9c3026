/**
 * `npm run chaos:saga [-- --runs 2000] [--backend sqlite|postgres|both] [--batch 20]
 * [--first-seed N] [--seed N]`: the saga fault-injection harness (test/saga/fault-injection),
 * longer than in CI. Runs batches of random sagas whose runner is SIGKILLed at a persistence point
 * and resumed by another process, checks every saga, and prints the kill coverage table and any
 * broken invariant with the seed that replays its cycle (`--seed N` runs that one cycle).
 *
 * PostgreSQL: FLOWPROOF_TEST_POSTGRES_URL, else a throw-away server is started as for the tests.
 * Exits 1 when an invariant broke or a kind of persistence point was never hit.
 */
import { parseArgs } from 'node:util';
import { type ChaosReport, formatReport, runChaos } from '../test/saga/fault-injection/harness.js';
import { KILL_POINTS } from '../test/saga/fault-injection/plan.js';
import startServices from '../test/setup/services.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '2000' },
    backend: { type: 'string', default: 'both' },
    batch: { type: 'string', default: '20' },
    'first-seed': { type: 'string' },
    seed: { type: 'string' },
  },
});

const integer = (value: string | undefined, name: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`--${name} must be a positive integer`);
  return n;
};
const batch = integer(values.batch, 'batch');
const backends =
  values.backend === 'both' ? (['sqlite', 'postgres'] as const) : [values.backend ?? ''];
for (const backend of backends) {
  if (backend !== 'sqlite' && backend !== 'postgres') {
    throw new TypeError('--backend must be sqlite, postgres or both');
  }
}
let seeds: number[];
if (values.seed !== undefined) {
  seeds = [integer(values.seed, 'seed')];
} else {
  const first =
    values['first-seed'] !== undefined
      ? integer(values['first-seed'], 'first-seed')
      : 1 + Math.floor(Math.random() * 1_000_000);
  const cycles = Math.ceil(integer(values.runs, 'runs') / batch);
  seeds = Array.from({ length: cycles }, (_, i) => first + i);
  console.log(`cycles ${cycles} of ${batch} sagas, seeds ${first}..${first + cycles - 1}`);
}

let stopServices: (() => Promise<void>) | undefined;
let postgresUrl = process.env.FLOWPROOF_TEST_POSTGRES_URL;
if (backends.includes('postgres') && !postgresUrl) {
  stopServices = await startServices({ provide: () => {} } as never);
  postgresUrl = process.env.FLOWPROOF_TEST_POSTGRES_URL;
  if (!postgresUrl) throw new Error('no PostgreSQL server could be started');
}

const reports: ChaosReport[] = [];
try {
  for (const backend of backends as readonly ('sqlite' | 'postgres')[]) {
    const report = await runChaos({
      backend,
      ...(backend === 'postgres' && postgresUrl ? { postgresUrl } : {}),
      seeds,
      batch,
      log: (line) => console.log(`[${backend}] ${line}`),
    });
    console.log(formatReport(report));
    reports.push(report);
  }
} finally {
  await stopServices?.();
}
const failed = reports.some(
  (report) =>
    report.violations.length > 0 ||
    (seeds.length >= KILL_POINTS.length && KILL_POINTS.some((p) => !report.coverage[p])),
);
console.log(failed ? 'FAILED' : 'all invariants held');
process.exit(failed ? 1 : 0);
