/**
 * A saga runner process for the chaos and multi-runner tests (started through
 * `src/testing/multi-process.ts` with `--import tsx`). It opens its own `pg.Pool`, starts the
 * runner (`startRunner`), starts its share of the sagas (retrying a start the store refused: a
 * start is idempotent by id), and stays up until every saga in its schema is finished or
 * dead-lettered, whatever happens to PostgreSQL meanwhile. It is never restarted by the test:
 * only killed, when a scenario kills it.
 */
import pg from 'pg';
import {
  createPostgresBackend,
  createPostgresSagaStore,
} from '../../../src/adapters/postgres/index.js';
import { sleep } from '../../../src/core/async.js';
import type { Logger } from '../../../src/core/logger.js';
import { createSagas } from '../../../src/saga/index.js';
import type { WorkerInfo } from '../../../src/testing/index.js';
import { type ChaosInput, chaosSaga, configureEffects } from './chaos-saga.js';

/** What the test gives a runner. */
export interface RunnerArgs {
  readonly postgresUrl: string;
  readonly schema: string;
  readonly serviceUrl: string;
  /** The runner's id, also the pool's `application_name` (so a test can find its backends). */
  readonly runnerId: string;
  readonly leaseMs: number;
  readonly pollIntervalMs: number;
  readonly concurrency: number;
  readonly holdLimitMs: number;
  readonly poolMax: number;
  /** The backend's `timeoutMs` (checkout and statement). */
  readonly backendTimeoutMs: number;
  /** Sagas this runner starts: id and input. */
  readonly start: readonly { readonly id: string; readonly input: ChaosInput }[];
  /** Starts at most this many sagas, then waits `startPauseMs` (and, with `awaitBatch`, until they are done). */
  readonly startBatch: number;
  readonly startPauseMs: number;
  readonly awaitBatch: boolean;
  /** Sagas the whole scenario has: the runner stays up until this many exist and are done. */
  readonly expectedTotal: number;
  /** Gives up (and says so) after this long. */
  readonly deadlineMs: number;
}

/** What a runner returns when every saga is done. */
export interface RunnerReport {
  readonly runnerId: string;
  readonly timedOut: boolean;
  /** Starts the store refused and that were tried again. */
  readonly startRetries: number;
  /** Engine events by name (`saga.run_interrupted`, `saga.lease_lost`, `saga.poll_failed`…). */
  readonly events: Record<string, number>;
  /** Errors the pool emitted for idle connections (a restart, a terminated backend). */
  readonly poolErrors: number;
}

const ACTIVE = ['running', 'compensating'];

/** The worker function. */
export async function sagaRunner(args: RunnerArgs, worker: WorkerInfo): Promise<RunnerReport> {
  const began = Date.now();
  configureEffects(args.serviceUrl, args.runnerId);
  const pool = new pg.Pool({
    connectionString: args.postgresUrl,
    max: args.poolMax,
    application_name: args.runnerId,
  });
  let poolErrors = 0;
  // An idle connection that the server dropped is reported here; pg's pool replaces it.
  pool.on('error', () => {
    poolErrors += 1;
  });
  const backend = createPostgresBackend({
    client: pool,
    schema: args.schema,
    timeoutMs: args.backendTimeoutMs,
  });
  const store = createPostgresSagaStore({ backend });
  const events: Record<string, number> = {};
  const sagas = createSagas({
    store,
    sagas: [chaosSaga],
    runnerId: args.runnerId,
    leaseMs: args.leaseMs,
    pollIntervalMs: args.pollIntervalMs,
    concurrency: args.concurrency,
    holdLimitMs: args.holdLimitMs,
    logger: countingLogger(events),
  });
  sagas.startRunner();
  worker.report({ type: 'running', runnerId: args.runnerId });

  let startRetries = 0;
  for (let i = 0; i < args.start.length; i += args.startBatch) {
    const batch = args.start.slice(i, i + args.startBatch);
    await Promise.all(
      batch.map(async ({ id, input }) => {
        for (;;) {
          try {
            await sagas.start(chaosSaga, input, { id });
            if (args.awaitBatch) await sagas.wait(id);
            return;
          } catch {
            startRetries += 1;
            await sleep(50);
          }
        }
      }),
    );
    worker.report({ type: 'started', count: Math.min(i + args.startBatch, args.start.length) });
    if (args.startPauseMs > 0) await sleep(args.startPauseMs);
  }

  const table = `"${args.schema}"."flowproof_saga_runs"`;
  let timedOut = false;
  for (;;) {
    if (Date.now() - began > args.deadlineMs) {
      timedOut = true;
      break;
    }
    try {
      const { rows } = await pool.query<{ total: string; active: string }>(
        `SELECT count(*) AS total, count(*) FILTER (WHERE status = ANY($1)) AS active FROM ${table}`,
        [ACTIVE],
      );
      if (Number(rows[0]!.total) >= args.expectedTotal && Number(rows[0]!.active) === 0) break;
    } catch {
      // PostgreSQL is restarting or the connection was terminated: ask again.
    }
    await sleep(200);
  }
  await sagas.close({ timeoutMs: 2_000 });
  await pool.end().catch(() => {});
  return { runnerId: args.runnerId, timedOut, startRetries, events, poolErrors };
}

function countingLogger(events: Record<string, number>): Logger {
  const count = (fields: Record<string, unknown>) => {
    const event = typeof fields.event === 'string' ? fields.event : 'other';
    events[event] = (events[event] ?? 0) + 1;
  };
  const logger: Logger = {
    debug: () => {},
    info: count,
    warn: count,
    error: count,
    child: () => logger,
  };
  return logger;
}
