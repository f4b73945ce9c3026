/**
 * The process SIGKILLed at every persistence point of an erasure: resumed and completed, exactly
 * one receipt per location, no location skipped.
 *
 * A child process (fixtures/erasure-worker.ts) opens the retention, audit and saga stores on one
 * SQLite file (or one PostgreSQL schema), the application's SQLite file and its data map (six
 * locations, `after` constraints, one `retain`, one `unsupported`), requests the erasure of a
 * subject with no grace period and drives it to its end. Every write of the three stores and
 * every handler effect is a numbered persistence point. A clean child counts them (N); then, for
 * every n in 1..N, before and after: a child killed right there, then a fresh child (the saga
 * lease is short, so its runner takes over what the dead one held) that finishes the erasure.
 * After each pair, the checks of fixtures/erasure-checks.ts.
 *
 * CI: every point on SQLite; on PostgreSQL (when available) one point in `RETENTION_PG_STRIDE`
 * (default 3; 1 with `RETENTION_PROOF_SCALE` ≥ 2, as `npm run proof:retention` runs it);
 * `RETENTION_SQLITE_STRIDE` thins the SQLite cases the same way (default 1: every point).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProcessResult, startProcesses } from '../../src/testing/index.js';
import { bundleWorker } from '../support/bundle-worker.js';
import { describeWithPostgres } from '../support/services.js';
import { erasureProblems } from './fixtures/erasure-checks.js';
import type { ErasureWorkerArgs, ErasureWorkerResult } from './fixtures/erasure-worker.js';
import {
  type KillAt,
  type KillHit,
  OTHER,
  type StoreTarget,
  SUBJECT,
  seedApplication,
} from './fixtures/erasure-world.js';

const SCALE = Number(process.env.RETENTION_PROOF_SCALE ?? 1);
const SQLITE_STRIDE = Number(process.env.RETENTION_SQLITE_STRIDE ?? 1);
const PG_STRIDE = Number(process.env.RETENTION_PG_STRIDE ?? (SCALE >= 2 ? 1 : 3));
const LEASE_MS = 300;
const PARALLEL = 5;
const WORKER = fileURLToPath(new URL('./fixtures/erasure-worker.ts', import.meta.url));

/** How one kill-and-resume case went. */
interface CaseOutcome {
  readonly kill: KillAt | null;
  /** Where the kill landed, or null when the child passed fewer points and finished. */
  readonly hit: KillHit | null;
  readonly problems: readonly string[];
  readonly ms: number;
}

/** A case's stores: a fresh SQLite file or PostgreSQL schema. */
type TargetFor = (dir: string, name: string) => StoreTarget;

let worker: string;
const root = mkdtempSync(join(tmpdir(), 'flowproof-erasure-crash-'));

beforeAll(async () => {
  worker = await bundleWorker(WORKER, 'flowproof-retention-erasure');
});
afterAll(() => {
  if (worker) rmSync(dirname(worker), { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
});

async function runChild(
  args: ErasureWorkerArgs,
  killAt: KillAt | null,
): Promise<ProcessResult<ErasureWorkerResult>> {
  const [child] = startProcesses<ErasureWorkerResult, ErasureWorkerArgs>({
    module: worker,
    exportName: 'erasureWorker',
    args,
    env: { KILL_AT: killAt === null ? '' : `${killAt.n}:${killAt.when}` },
    timeoutMs: 60_000,
  });
  if (child === undefined) throw new Error('no child started');
  return child.result;
}

/** A child killed at `kill` (none: a clean run), then a fresh one that finishes; then the checks. */
async function runCase(
  targetFor: TargetFor,
  name: string,
  kill: KillAt | null,
): Promise<CaseOutcome & { readonly points?: readonly string[] }> {
  const started = Date.now();
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const appFile = join(dir, 'app.db');
  seedApplication(appFile, [SUBJECT, OTHER]);
  const args: ErasureWorkerArgs = {
    target: targetFor(dir, name),
    appFile,
    killFile: join(dir, 'kill.json'),
    leaseMs: LEASE_MS,
  };
  const problems: string[] = [];
  let points: readonly string[] | undefined;
  let hit: KillHit | null = null;
  try {
    if (kill !== null) {
      const killed = await runChild(args, kill);
      if (existsSync(args.killFile)) {
        hit = JSON.parse(readFileSync(args.killFile, 'utf8')) as KillHit;
        if (killed.status !== 'exited' || killed.signal !== 'SIGKILL') {
          problems.push(`the killed child ended ${JSON.stringify(killed)}`);
        }
      } else if (killed.status !== 'fulfilled') {
        problems.push(`the child to kill ended ${JSON.stringify(killed)}`);
      }
    }
    const resumed = await runChild(args, null);
    if (resumed.status !== 'fulfilled') {
      problems.push(`the resuming child ended ${JSON.stringify(resumed)}`);
    } else {
      points = resumed.value.points;
    }
    problems.push(...(await erasureProblems(args.target, appFile)));
  } catch (error) {
    problems.push(`the case failed: ${(error as Error).stack ?? String(error)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    kill,
    hit,
    problems,
    ms: Date.now() - started,
    ...(points === undefined ? {} : { points }),
  };
}

/** Runs `cases` `PARALLEL` at a time. */
async function runAll(
  targetFor: TargetFor,
  prefix: string,
  cases: readonly KillAt[],
): Promise<CaseOutcome[]> {
  const outcomes: CaseOutcome[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      for (let i = next++; i < cases.length; i = next++) {
        const kill = cases[i] as KillAt;
        outcomes.push(await runCase(targetFor, `${prefix}-${kill.n}-${kill.when}`, kill));
      }
    }),
  );
  return outcomes.sort((a, b) => (a.kill?.n ?? 0) - (b.kill?.n ?? 0));
}

/**
 * Every `stride`-th point × before/after. The count varies a little between runs (two drivers of
 * one request in a process may both mark a location or start its saga, and only one wins), so
 * the plan goes a few points past the clean run's; a kill a child never reaches is a clean run.
 */
function killPlan(points: number, stride: number): KillAt[] {
  const plan: KillAt[] = [];
  for (let n = 1; n <= points + 4; n += stride) {
    plan.push({ n, when: 'before' }, { n, when: 'after' });
  }
  return plan;
}

function summarize(backend: string, points: readonly string[], outcomes: readonly CaseOutcome[]) {
  const landed = outcomes.filter((o) => o.hit !== null);
  const byKind: Record<string, number> = {};
  for (const o of landed) {
    const kind = (o.hit?.label ?? '').replace(/^claim:/, '');
    byKind[kind] = (byKind[kind] ?? 0) + 1;
  }
  const total = outcomes.reduce((s, o) => s + o.ms, 0);
  console.log(
    `[retention erasure crash, ${backend}] ${points.length} persistence points; ${outcomes.length} kill/resume cases (${landed.length} kills landed), ${(total / 1000).toFixed(1)} s of case time, ${(total / Math.max(1, outcomes.length) / 1000).toFixed(2)} s a case; kills by point: ${JSON.stringify(byKind)}`,
  );
}

function verdict(outcomes: readonly CaseOutcome[]): string[] {
  return outcomes.flatMap((o) =>
    o.problems.map(
      (p) => `${o.kill?.n}:${o.kill?.when} (${o.hit?.label ?? 'not reached'}): ${p.split('\n')[0]}`,
    ),
  );
}

describe('retention: an erasure SIGKILLed at every persistence point', () => {
  it('SQLite file: resumed and completed, one receipt per location, none skipped', async () => {
    const sqlite: TargetFor = (dir) => ({ kind: 'sqlite', file: join(dir, 'retention.db') });
    const clean = await runCase(sqlite, 'sqlite-clean', null);
    expect(clean.problems).toEqual([]);
    const points = clean.points ?? [];
    expect(points.length).toBeGreaterThan(20);
    const outcomes = await runAll(sqlite, 'sqlite', killPlan(points.length, SQLITE_STRIDE));
    summarize('sqlite', points, outcomes);
    expect(verdict(outcomes)).toEqual([]);
    // Most points are reached on every run; a few depend on how concurrent locations interleave.
    expect(outcomes.filter((o) => o.hit !== null).length).toBeGreaterThan(
      (points.length / SQLITE_STRIDE) * 1.5,
    );
  }, 900_000);
});

describeWithPostgres(
  'retention: an erasure SIGKILLed at every persistence point on PostgreSQL',
  (url) => {
    it(`PostgreSQL: resumed and completed at ${PG_STRIDE === 1 ? 'every point' : `one point in ${PG_STRIDE}`}`, async () => {
      const admin = new pg.Pool({ connectionString: url, max: 2 });
      const schemas: string[] = [];
      const postgres: TargetFor = (_dir, name) => {
        const schema = `rproof_${process.pid}_${name.replace(/[^a-z0-9]/g, '_')}`;
        schemas.push(schema);
        return { kind: 'postgres', url, schema };
      };
      try {
        const clean = await runCase(postgres, 'pg-clean', null);
        expect(clean.problems).toEqual([]);
        const points = clean.points ?? [];
        const outcomes = await runAll(postgres, 'pg', killPlan(points.length, PG_STRIDE));
        summarize('postgres', points, outcomes);
        expect(verdict(outcomes)).toEqual([]);
      } finally {
        for (const schema of schemas)
          await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.end();
      }
    }, 900_000);
  },
);
