/**
 * What the chaos and multi-runner tests share: a schema per scenario, runner processes, the plan
 * of sagas, and the checks that hold after any scenario: every saga exists and ended as designed
 * (or dead-lettered with a reason), every effect committed at most once, completed steps and
 * compensations committed exactly once, no call without a recorded intent, no two calls for one
 * key in flight at once.
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  createPostgresBackend,
  createPostgresSagaStore,
} from '../../../src/adapters/postgres/index.js';
import type { SagaLog } from '../../../src/saga/saga-log.js';
import type { SagaStatus, SagaStore, StoredSaga } from '../../../src/saga/saga-store.js';
import { type ProcessHandle, startProcesses } from '../../../src/testing/index.js';
import type { ChaosInput } from './chaos-saga.js';
import type { EffectService } from './effect-service.js';
import type { RunnerArgs, RunnerReport } from './saga-runner.js';

/** One saga of a scenario. */
export interface PlannedSaga {
  readonly id: string;
  readonly input: ChaosInput;
}

/** `count` sagas named `<prefix>-<n>`: every `flakyEvery`-th fails once in `reserve`, every `declineEvery`-th is declined in `ship`. */
export function planSagas(
  prefix: string,
  count: number,
  options: { holdMs: number; flakyEvery?: number; declineEvery?: number },
): PlannedSaga[] {
  return Array.from({ length: count }, (_, n) => ({
    id: `${prefix}-${String(n).padStart(4, '0')}`,
    input: {
      holdMs: options.holdMs,
      ...(options.flakyEvery && n % options.flakyEvery === 1 ? { flaky: true } : {}),
      ...(options.declineEvery && n % options.declineEvery === 2 ? { decline: true } : {}),
    },
  }));
}

/** A migrated saga store on `schema` for the test process, with its pool. */
export async function openSchema(
  postgresUrl: string,
  schema: string,
): Promise<{ store: SagaStore; close(): Promise<void> }> {
  const pool = new pg.Pool({ connectionString: postgresUrl, max: 4 });
  pool.on('error', () => {});
  const backend = createPostgresBackend({ client: pool, schema });
  await backend.execute(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  const store = createPostgresSagaStore({ backend });
  await store.migrate();
  return { store, close: () => pool.end() };
}

const RUNNER_MODULE = fileURLToPath(new URL('./saga-runner.ts', import.meta.url));

/** Starts one runner process. */
export function startRunner(args: RunnerArgs): ProcessHandle<RunnerReport> {
  const [handle] = startProcesses<RunnerReport, RunnerArgs>({
    module: RUNNER_MODULE,
    exportName: 'sagaRunner',
    args,
    execArgv: ['--import', 'tsx'],
    timeoutMs: args.deadlineMs + 30_000,
  });
  return handle!;
}

/** Defaults of a runner in these tests: lease 1 s, poll 100 ms. */
export function runnerArgs(
  base: Pick<RunnerArgs, 'postgresUrl' | 'schema' | 'serviceUrl' | 'runnerId' | 'expectedTotal'> &
    Partial<RunnerArgs>,
): RunnerArgs {
  return {
    leaseMs: 1_000,
    pollIntervalMs: 100,
    concurrency: 32,
    holdLimitMs: 0,
    poolMax: 5,
    backendTimeoutMs: 2_000,
    start: [],
    startBatch: 10,
    startPauseMs: 20,
    awaitBatch: false,
    deadlineMs: 90_000,
    ...base,
  };
}

/** What a scenario ended with. */
export interface ScenarioOutcome {
  /** Sagas by final status. */
  readonly statuses: Partial<Record<SagaStatus, number>>;
  /** Calls the service answered from an earlier commit (a retry after an unknown outcome). */
  readonly replays: number;
  /** Attempts closed as `unknown` (a runner lost mid-call). */
  readonly unknownAttempts: number;
  /** Everything that broke a rule, as sentences; empty when all held. */
  readonly violations: readonly string[];
  /** The sagas as stored at the end. */
  readonly sagas: readonly StoredSaga[];
}

/** Every saga in the store, a page at a time. */
async function loadAll(store: SagaStore): Promise<StoredSaga[]> {
  const all: StoredSaga[] = [];
  let afterId: string | undefined;
  for (;;) {
    const page = await store.list({ limit: 500, ...(afterId ? { afterId } : {}) });
    all.push(...page);
    if (page.length < 500) return all;
    afterId = page.at(-1)!.id;
  }
}

/** Checks the rules after a scenario. */
export async function checkScenario(
  store: SagaStore,
  service: EffectService,
  plan: readonly PlannedSaga[],
): Promise<ScenarioOutcome> {
  const violations: string[] = [];
  const statuses: Partial<Record<SagaStatus, number>> = {};
  let unknownAttempts = 0;
  const sagas = await loadAll(store);
  const stored = new Map(sagas.map((s) => [s.id, s]));
  const expectedKeys = new Set<string>();
  for (const { id, input } of plan) {
    const saga = stored.get(id);
    if (!saga) {
      violations.push(`saga ${id} was lost`);
      continue;
    }
    stored.delete(id);
    statuses[saga.status] = (statuses[saga.status] ?? 0) + 1;
    const log = saga.log as SagaLog;
    const designed = input.decline ? 'compensated' : 'completed';
    if (saga.status !== designed) {
      if (saga.status === 'failed' || saga.status === 'compensation_failed') {
        if (!log.error?.message) violations.push(`saga ${id} dead-lettered without a reason`);
      } else {
        violations.push(`saga ${id} ended ${saga.status}, not ${designed}`);
      }
    }
    for (const record of log.steps) {
      const key = `chaos-order/${id}/${record.step}`;
      unknownAttempts += record.attempts.filter((a) => a.outcome === 'unknown').length;
      checkKey(key, record.status, record.attempts, service, violations);
      expectedKeys.add(key);
      const effect = service.records.get(key);
      const compensation = record.compensation;
      if (compensation) {
        unknownAttempts += compensation.attempts.filter((a) => a.outcome === 'unknown').length;
        checkKey(
          `${key}/compensate`,
          compensation.status,
          compensation.attempts,
          service,
          violations,
        );
        expectedKeys.add(`${key}/compensate`);
      } else if (saga.status === 'compensated' && (effect?.commits ?? 0) > 0) {
        violations.push(`${key} committed but saga ${id} compensated without undoing it`);
      }
    }
  }
  for (const id of stored.keys()) violations.push(`saga ${id} exists but was never started`);
  for (const key of service.records.keys()) {
    if (!expectedKeys.has(key)) violations.push(`${key} was called without a recorded intent`);
  }
  const replays = service.calls.filter((c) => c.result === 'replay').length;
  return { statuses, replays, unknownAttempts, violations, sagas };
}

function checkKey(
  key: string,
  status: string,
  attempts: SagaLog['steps'][number]['attempts'],
  service: EffectService,
  violations: string[],
): void {
  const effect = service.records.get(key);
  const calls = effect?.calls ?? 0;
  const commits = effect?.commits ?? 0;
  if (calls > attempts.length) {
    violations.push(`${key} was called ${calls} times for ${attempts.length} recorded attempts`);
  }
  if (commits > 1) violations.push(`${key} committed ${commits} times`);
  if ((effect?.overlaps ?? 0) > 0) {
    violations.push(`${key} had ${effect!.overlaps} calls overlapping another call`);
  }
  if (status === 'completed' && commits !== 1) {
    violations.push(`${key} is recorded completed but committed ${commits} times`);
  }
  const done = attempts.findIndex((a) => a.outcome === 'completed');
  if (done >= 0 && done < attempts.length - 1) {
    violations.push(`${key} was attempted again after it completed`);
  }
}
