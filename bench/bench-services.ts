/**
 * The servers a benchmark suite talks to: those named by `FLOWPROOF_BENCH_POSTGRES_URL` /
 * `FLOWPROOF_BENCH_REDIS_URL`, otherwise throwaway ones started with the test suite's global setup
 * (a URL is `undefined` when its binaries are missing).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import setupServices from '../test/setup/services.js';

/** What {@link benchServices} gives a suite. */
export interface BenchServices {
  /** The PostgreSQL server, if there is one. */
  readonly postgresUrl: string | undefined;
  /** The Redis server, if there is one. */
  readonly redisUrl: string | undefined;
  /** Stops the servers that were started for the suite (none when both URLs were given). */
  readonly stop: () => Promise<void>;
}

const TEST_URL_VARIABLES = ['FLOWPROOF_TEST_POSTGRES_URL', 'FLOWPROOF_TEST_REDIS_URL'] as const;

/**
 * Finds or starts the servers. The test setup announces the servers it started in
 * `FLOWPROOF_TEST_*_URL`, and takes such a variable, when set, as a server to use instead of
 * starting one: the variables are put back as they were at once, so that a later suite of the same
 * run starts servers of its own rather than reaching for stopped ones.
 */
export async function benchServices(): Promise<BenchServices> {
  const postgresUrl = process.env.FLOWPROOF_BENCH_POSTGRES_URL || undefined;
  const redisUrl = process.env.FLOWPROOF_BENCH_REDIS_URL || undefined;
  if (postgresUrl && redisUrl) return { postgresUrl, redisUrl, stop: async () => {} };
  const saved = TEST_URL_VARIABLES.map((name) => [name, process.env[name]] as const);
  const stop = await setupServices({ provide: () => {} } as never);
  const started = {
    postgresUrl: process.env.FLOWPROOF_TEST_POSTGRES_URL || undefined,
    redisUrl: process.env.FLOWPROOF_TEST_REDIS_URL || undefined,
  };
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  return {
    postgresUrl: postgresUrl ?? started.postgresUrl,
    redisUrl: redisUrl ?? started.redisUrl,
    stop,
  };
}

/** Closes in reverse order (clients before the servers they talk to), each at best effort. */
export async function closeAll(
  closers: readonly (() => Promise<unknown> | unknown)[],
): Promise<void> {
  for (const close of [...closers].reverse()) {
    try {
      await close();
    } catch {
      // Closing is best effort: the process exits after the run.
    }
  }
}

/**
 * A SQLite database in a file of a fresh temporary directory, in WAL mode with
 * `synchronous = NORMAL`, the usual setting for an application database: commits survive a crash
 * of the process, and no fsync waits on each one. Closed and deleted by `closers`.
 */
export function openSqliteFile(
  closers: (() => Promise<unknown> | unknown)[],
  prefix: string,
): Database.Database {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  closers.push(() => rmSync(dir, { recursive: true, force: true }));
  const database = new Database(join(dir, 'bench.db'));
  closers.push(() => database.close());
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  return database;
}
