/**
 * The fault-injection harness for sagas. Each cycle (one seed): a child runner starts a batch of
 * random sagas against a SQL store and the fake service and SIGKILLs itself at a planned
 * persistence point while the others are mid-flight; a fresh child resumes the batch (killed once
 * more in some cycles, then resumed again) until every saga is finished or dead-lettered. The
 * parent then checks, from the store and the service's records, that:
 *
 * - every saga ended `completed`, `compensated`, `failed` or `compensation_failed`, the last two
 *   with a reason;
 * - each step's effect and each compensation used its own key only, and was committed at most
 *   once (the service counts commits per key; a transactional step's row exists at most once);
 * - a completed step's recorded output is the service's stored answer for its key (or its row
 *   exists); a transactional step that did not complete left no row;
 * - an undo came only for a started step with a compensation, and told `completed` only for an
 *   effect that was committed; a compensated saga undid every started step that has a
 *   compensation; a completed saga undid nothing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { createSagas, type SagaState } from '../../../src/saga/index.js';
import { startProcesses } from '../../../src/testing/index.js';
import { bundleWorker } from '../../support/bundle-worker.js';
import { type ChaosTarget, openChaosStore } from './chaos-store.js';
import { type FakeService, startFakeService } from './fake-service.js';
import {
  type CyclePlan,
  cyclePlan,
  effectKey,
  KILL_POINTS,
  type KillPlan,
  type SagaPlan,
  undoKey,
} from './plan.js';
import { READ_ONLY_HOOKS, sagaDefinition } from './saga-definitions.js';
import type { ChaosWorkerArgs, ChaosWorkerResult, KillHit } from './worker.js';

/** Options of {@link runChaos}. */
export interface ChaosOptions {
  /** `sqlite`, or `postgres` with the server's URL. */
  readonly backend: 'sqlite' | 'postgres';
  readonly postgresUrl?: string;
  /** The cycles' seeds (each cycle one batch). */
  readonly seeds: readonly number[];
  /** Sagas per cycle. @default 20 */
  readonly batch?: number;
  /** Whether some steps are transactional. @default true */
  readonly transactional?: boolean;
  /** The runners' lease. @default 600 */
  readonly leaseMs?: number;
  /** Progress lines (a cycle's outcome). */
  readonly log?: (line: string) => void;
}

/** One broken invariant, with the seed that replays its cycle. */
export interface Violation {
  readonly seed: number;
  readonly saga: string;
  readonly message: string;
}

/** What a run found. */
export interface ChaosReport {
  readonly backend: string;
  readonly cycles: number;
  readonly sagas: number;
  /** Children started (runners killed or finishing). */
  readonly processes: number;
  /** Kills that landed, by persistence point. */
  readonly coverage: Readonly<Record<string, number>>;
  /** Final statuses, counted. */
  readonly statuses: Readonly<Record<string, number>>;
  readonly violations: readonly Violation[];
  readonly durationMs: number;
}

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
const WAIT_MS = 60_000;

/** Runs the cycles of `options.seeds` and checks every saga. Never throws on a violation. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const batch = options.batch ?? 20;
  const transactional = options.transactional ?? true;
  const leaseMs = options.leaseMs ?? 600;
  const dir = mkdtempSync(join(tmpdir(), 'flowproof-saga-faults-'));
  const target: ChaosTarget =
    options.backend === 'sqlite'
      ? { backend: 'sqlite', file: join(dir, 'sagas.db') }
      : {
          backend: 'postgres',
          url: requirePostgres(options.postgresUrl),
          schema: `saga_faults_${process.pid}_${Date.now().toString(36)}`,
        };
  const opened = openChaosStore(target);
  const service = await startFakeService();
  const worker = await bundleWorker(WORKER, 'flowproof-saga-faults');
  const coverage: Record<string, number> = Object.fromEntries(KILL_POINTS.map((p) => [p, 0]));
  const statuses: Record<string, number> = {};
  const violations: Violation[] = [];
  let processes = 0;
  let sagaCount = 0;
  try {
    await opened.prepare();
    for (const seed of options.seeds) {
      const plan = cyclePlan(seed, { batch, transactional });
      sagaCount += plan.sagas.length;
      planService(service, plan);
      const run = async (kill: KillPlan | null, role: string) => {
        processes += 1;
        const runStarted = Date.now();
        const killFile = join(dir, `kill-${seed}-${role}.json`);
        const args: ChaosWorkerArgs = {
          target,
          serviceUrl: service.url,
          seed,
          batch,
          transactional,
          kill,
          killFile,
          leaseMs,
          waitMs: WAIT_MS,
        };
        const [child] = startProcesses<ChaosWorkerResult, ChaosWorkerArgs>({
          module: worker,
          exportName: 'chaosWorker',
          args,
          timeoutMs: WAIT_MS + 30_000,
        });
        const result = await child!.result;
        const hit = existsSync(killFile)
          ? (JSON.parse(readFileSync(killFile, 'utf8')) as KillHit)
          : undefined;
        if (hit) coverage[hit.point] = (coverage[hit.point] ?? 0) + 1;
        timings.push(`${role} ${((Date.now() - runStarted) / 1000).toFixed(1)} s`);
        const killed = result.status === 'exited' && result.signal === 'SIGKILL' && hit;
        if (!killed && result.status !== 'fulfilled') {
          violations.push({
            seed,
            saga: '*',
            message: `the ${role} runner ended ${JSON.stringify(result)}`,
          });
        }
        return hit;
      };
      const timings: string[] = [];
      const hits = [await run(plan.kill, 'start')];
      if (plan.repeatKill) hits.push(await run(plan.repeatKill, 'resume-killed'));
      await run(null, 'resume');
      const found = await checkCycle(plan, opened, service);
      for (const state of found.states) statuses[state] = (statuses[state] ?? 0) + 1;
      violations.push(...found.violations);
      const outcome =
        found.violations.length === 0 ? 'ok' : `${found.violations.length} VIOLATIONS`;
      options.log?.(
        `seed ${seed}: ${plan.sagas.length} sagas, killed at ${hits.map(describeHit).join(', then ')}; ${outcome} (${timings.join(', ')})`,
      );
    }
  } finally {
    await service.close();
    await opened.drop().catch(() => {});
    await opened.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(dirname(worker), { recursive: true, force: true });
  }
  return {
    backend: options.backend,
    cycles: options.seeds.length,
    sagas: sagaCount,
    processes,
    coverage,
    statuses,
    violations,
    durationMs: Date.now() - started,
  };
}

/** The coverage table and the outcome, as printed after each backend's run. */
export function formatReport(report: ChaosReport): string {
  const lines = [
    `${report.backend}: ${report.sagas} sagas in ${report.cycles} cycles, ${report.processes} runner processes, ${(report.durationMs / 1000).toFixed(1)} s`,
    `  final statuses: ${Object.entries(report.statuses)
      .map(([status, n]) => `${status} ${n}`)
      .join(', ')}`,
    '  kills by persistence point:',
    ...KILL_POINTS.map((point) => `    ${point.padEnd(28)} ${report.coverage[point] ?? 0}`),
  ];
  for (const v of report.violations) {
    lines.push(`  VIOLATION (replay: --seed ${v.seed}) ${v.saga}: ${v.message}`);
  }
  return lines.join('\n');
}

function describeHit(hit: KillHit | undefined): string {
  return hit ? `${hit.point} #${hit.n} (${hit.saga}${hit.step ? `/${hit.step}` : ''})` : 'nothing';
}

function requirePostgres(url: string | undefined): string {
  if (!url) throw new TypeError('options.postgresUrl is required for the postgres backend');
  return url;
}

function planService(service: FakeService, plan: CyclePlan): void {
  for (const saga of plan.sagas) {
    for (const step of saga.steps) {
      if (step.effect.mode !== 'ok')
        service.plan(effectKey(saga, step), { ...step.effect, phase: 'effect' });
      if (step.undo.mode !== 'ok')
        service.plan(undoKey(saga, step), { ...step.undo, phase: 'undo' });
    }
  }
}

async function checkCycle(
  plan: CyclePlan,
  opened: ReturnType<typeof openChaosStore>,
  service: FakeService,
): Promise<{ states: string[]; violations: Violation[] }> {
  const definitions = plan.sagas.map((saga) => sagaDefinition(saga, READ_ONLY_HOOKS));
  const sagas = createSagas({ store: opened.store, sagas: definitions as never });
  const rows = await opened.effectRows();
  const states: string[] = [];
  const violations: Violation[] = [];
  try {
    for (const saga of plan.sagas) {
      const state = await sagas.get(saga.id);
      states.push(state?.status ?? 'missing');
      for (const message of checkSaga(saga, state, service, rows)) {
        violations.push({ seed: plan.seed, saga: saga.id, message });
      }
    }
  } finally {
    await sagas.close();
  }
  // Keys the service saw that no step of the batch owns.
  const prefixes = plan.sagas.map((saga) => `${saga.id}/`);
  const owned = new Set(
    plan.sagas.flatMap((saga) => saga.steps.flatMap((s) => [effectKey(saga, s), undoKey(saga, s)])),
  );
  for (const key of service.keys.keys()) {
    if (prefixes.some((prefix) => key.startsWith(prefix)) && !owned.has(key)) {
      violations.push({
        seed: plan.seed,
        saga: key,
        message: `the service saw a foreign key ${key}`,
      });
    }
  }
  for (const request of service.malformed.splice(0)) {
    violations.push({ seed: plan.seed, saga: '*', message: `malformed request ${request}` });
  }
  return { states, violations };
}

/** A step's record in a violation's message: its status, attempts and compensation. */
function describeRecord(record: SagaState['steps'][number] | undefined): string {
  if (!record) return 'no record';
  const attempts = record.attempts.map((a) => a.outcome ?? 'open').join(',');
  const compensation = record.compensation
    ? `, compensation ${record.compensation.status} [${record.compensation.attempts.map((a) => a.outcome ?? 'open').join(',')}]`
    : ', no compensation';
  return `step ${record.status} [${attempts}]${compensation}`;
}

/** The invariants of one saga; each broken one is a message. */
export function checkSaga(
  saga: SagaPlan,
  state: SagaState | undefined,
  service: FakeService,
  rows: ReadonlyMap<string, number>,
): string[] {
  const problems: string[] = [];
  if (!state) return ['the saga does not exist'];
  const { status } = state;
  if (status === 'running' || status === 'compensating') {
    problems.push(`the saga is still ${status}`);
  }
  if ((status === 'failed' || status === 'compensation_failed') && !state.error?.message) {
    problems.push(`the saga is ${status} without a reason`);
  }
  if (status === 'compensated' && !state.failure?.message) {
    problems.push('the saga is compensated without the failure that made it compensate');
  }
  for (const step of saga.steps) {
    const key = effectKey(saga, step);
    const record = state.steps.find((s) => s.step === step.name);
    const started = record !== undefined && record.attempts.length > 0;
    const effect = service.keys.get(key);
    const undo = service.keys.get(undoKey(saga, step));
    const at = `step ${step.name}`;
    // The engine's calls name the step apart from the key: one key per step and phase.
    for (const call of [...(effect?.calls ?? []), ...(undo?.calls ?? [])]) {
      if (call.saga !== saga.id || call.step !== step.name) {
        problems.push(`${at}: key ${call.key} used by ${call.saga}/${call.step}`);
      }
    }
    const committed = step.transactional ? (rows.get(key) ?? 0) : (effect?.commits ?? 0);
    if (committed > 1) problems.push(`${at}: effect committed ${committed} times`);
    if ((undo?.commits ?? 0) > 1) problems.push(`${at}: undo committed ${undo!.commits} times`);
    if (committed > 0 && !started) problems.push(`${at}: effect committed without a started step`);
    if ((effect?.calls.length ?? 0) > 0 && !started) {
      problems.push(`${at}: effect called without a recorded intent`);
    }
    if (step.transactional && record?.status !== 'completed' && committed > 0) {
      problems.push(`${at}: a transactional step that did not complete left its row`);
    }
    if (record?.status === 'completed') {
      if (committed !== 1)
        problems.push(`${at}: completed, but its effect committed ${committed} times`);
      if (!step.transactional && !isDeepStrictEqual(record.output, effect?.response?.body)) {
        problems.push(
          `${at}: recorded output ${JSON.stringify(record.output)} is not the service's answer ${JSON.stringify(effect?.response?.body)}`,
        );
      }
    }
    if (undo && undo.calls.length > 0) {
      if (!step.compensate) problems.push(`${at}: undone without a compensation`);
      if (!started) problems.push(`${at}: undone, but never started`);
      if (step.transactional && committed === 0) {
        problems.push(`${at}: a transactional step undone although it never committed`);
      }
      if (undo.calls.some((call) => call.effectKey !== key)) {
        problems.push(`${at}: undo named another effect key`);
      }
      if (undo.calls.some((call) => call.outcome === 'completed') && committed !== 1) {
        problems.push(`${at}: undo told 'completed' for an effect that was not committed`);
      }
    }
    const undone = (undo?.commits ?? 0) === 1;
    if (status === 'completed') {
      if (record?.status !== 'completed')
        problems.push(`${at}: saga completed, step ${record?.status}`);
      if (undo) problems.push(`${at}: saga completed, but an undo was sent`);
    }
    if (status === 'compensated' && step.compensate) {
      const owesUndo = started && !(step.transactional && committed === 0);
      if (owesUndo && !undone)
        problems.push(
          `${at}: saga compensated, step started but not undone (${describeRecord(record)}, effect committed ${committed} times)`,
        );
      if (record?.compensation && record.compensation.status !== 'completed') {
        problems.push(`${at}: saga compensated, compensation ${record.compensation.status}`);
      }
    }
  }
  if (status === 'failed') {
    const step = saga.steps.find((s) => s.name === state.error?.step);
    if (step?.onFailure !== 'dead-letter') {
      problems.push(`failed at ${state.error?.step}, which compensates instead of dead-lettering`);
    }
  }
  if (status === 'compensation_failed' && state.error?.phase !== 'compensate') {
    problems.push(
      `compensation_failed, but its reason is not a compensation: ${JSON.stringify(state.error)}`,
    );
  }
  return problems;
}
