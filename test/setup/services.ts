/**
 * Vitest globalSetup: starts a throw-away PostgreSQL and Redis server for the test run.
 *
 * - `FLOWPROOF_TEST_POSTGRES_URL` / `FLOWPROOF_TEST_REDIS_URL` already set: that server is used
 *   and nothing is started.
 * - Otherwise the binaries are looked up (PostgreSQL: PATH, then /usr/lib/postgresql/<v>/bin, the
 *   highest version first; Redis: `redis-server` on PATH) and a private server is started on a
 *   free loopback port, with its data in a temp dir. Both die with the run.
 * - A missing binary or a server that fails to start prints a loud warning and the tests that
 *   need it are skipped, unless `FLOWPROOF_REQUIRE_SERVICES=1`, in which case the run fails.
 *
 * Tests read the URLs with `inject('postgresUrl')` / `inject('redisUrl')` (empty string when
 * unavailable), or through the helpers in `test/support/services.ts`; the URLs are also put in
 * `process.env.FLOWPROOF_TEST_POSTGRES_URL` / `FLOWPROOF_TEST_REDIS_URL`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  accessSync,
  chownSync,
  constants,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
    redisUrl: string;
  }
}

const POSTGRES_START_TIMEOUT_MS = 30_000;
const REDIS_START_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;
/** A server can lose the race for the port picked by `freePort()`; try again a few times. */
const START_ATTEMPTS = 3;
const TEST_DATABASE = 'flowproof_test';

interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  /** Signal for an orderly but quick shutdown (PostgreSQL: SIGINT = "fast shutdown"). */
  readonly stopSignal: NodeJS.Signals;
  /** Signal for the synchronous `process.on('exit')` path, where we cannot wait. */
  readonly exitSignal: NodeJS.Signals;
}

/** The service can't be had at all here (as opposed to failing to start): no retries. */
class ServiceUnavailable extends Error {
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(detail);
  }
}

const services: Service[] = [];
const tempDirs: string[] = [];

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const required = process.env.FLOWPROOF_REQUIRE_SERVICES === '1';
  process.on('exit', killEverythingSync);

  let postgresUrl = '';
  let redisUrl = '';
  const problems: string[] = [];
  try {
    postgresUrl = await resolveService('PostgreSQL', 'FLOWPROOF_TEST_POSTGRES_URL', startPostgres);
  } catch (error) {
    problems.push(warn('PostgreSQL', error, required));
  }
  try {
    redisUrl = await resolveService('Redis', 'FLOWPROOF_TEST_REDIS_URL', startRedis);
  } catch (error) {
    problems.push(warn('Redis', error, required));
  }

  if (required && problems.length > 0) {
    await teardown();
    throw new Error(
      `FLOWPROOF_REQUIRE_SERVICES=1 but a required test service is unavailable:\n  ${problems.join('\n  ')}`,
    );
  }

  process.env.FLOWPROOF_TEST_POSTGRES_URL = postgresUrl;
  process.env.FLOWPROOF_TEST_REDIS_URL = redisUrl;
  project.provide('postgresUrl', postgresUrl);
  project.provide('redisUrl', redisUrl);
  return teardown;
}

async function resolveService(
  name: string,
  envVar: string,
  start: () => Promise<string>,
): Promise<string> {
  const fromEnv = process.env[envVar];
  if (fromEnv) return fromEnv;
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      const url = await start();
      process.stderr.write(`[services] ${name} started for this run: ${url}\n`);
      return url;
    } catch (error) {
      if (error instanceof ServiceUnavailable) throw error;
      lastError = error;
      process.stderr.write(`[services] ${name} failed to start (attempt ${attempt}): ${error}\n`);
    }
  }
  throw lastError;
}

function warn(name: string, error: unknown, required: boolean): string {
  const reason = error instanceof ServiceUnavailable ? error.reason : 'failed to start';
  const detail = error instanceof Error ? error.message : String(error);
  const bar = '!'.repeat(100);
  process.stderr.write(
    [
      '',
      bar,
      required
        ? `!!! ${name} ${reason}: the run FAILS (FLOWPROOF_REQUIRE_SERVICES=1) !!!`
        : `!!! ${name} ${reason}: real-${name} tests will be SKIPPED !!!`,
      ...detail.split('\n').map((line) => `!!!   ${line}`),
      ...(required ? [] : ['!!! Set FLOWPROOF_REQUIRE_SERVICES=1 to make this an error.']),
      bar,
      '',
      '',
    ].join('\n'),
  );
  return `${name}: ${reason}: ${detail}`;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/** The directory holding `initdb` and `postgres` (PATH, then the newest /usr/lib/postgresql/<v>/bin). */
export function findPostgresBin(): string | undefined {
  const hasBoth = (dir: string) =>
    isExecutable(join(dir, 'initdb')) && isExecutable(join(dir, 'postgres'));
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && hasBoth(dir)) return dir;
  }
  let versions: string[] = [];
  try {
    versions = readdirSync('/usr/lib/postgresql');
  } catch {
    return undefined;
  }
  versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a) || b.localeCompare(a));
  return versions.map((v) => join('/usr/lib/postgresql', v, 'bin')).find(hasBoth);
}

async function startPostgres(): Promise<string> {
  const bin = findPostgresBin();
  if (!bin) {
    throw new ServiceUnavailable(
      'binaries not found',
      'no initdb/postgres on PATH or in /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)',
    );
  }
  // PostgreSQL refuses to run as root: run it as the `postgres` user, which must own the dir.
  const asUser = process.getuid?.() === 0 ? postgresUser() : undefined;
  const dir = makeTempDir('flowproof-pg-', asUser);
  const dataDir = join(dir, 'data');
  const spawnOptions = { cwd: dir, ...(asUser ?? {}) };

  // C.UTF-8 gives deterministic collation with UTF-8 character classes; plain C is the fallback
  // for systems without that locale.
  let initdbError: unknown;
  for (const locale of ['C.UTF-8', 'C']) {
    try {
      await run(
        join(bin, 'initdb'),
        [
          '-D',
          dataDir,
          '-A',
          'trust',
          '-U',
          'postgres',
          '--no-sync',
          '-E',
          'UTF8',
          `--locale=${locale}`,
        ],
        spawnOptions,
      );
      initdbError = undefined;
      break;
    } catch (error) {
      initdbError = error;
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  if (initdbError) throw initdbError;

  const port = await freePort();
  const log = new OutputTail();
  // A direct child (not `pg_ctl start`, and not via `runuser`, which does not pass SIGINT on),
  // so that the signals we send reach the postmaster itself.
  const child = spawn(
    join(bin, 'postgres'),
    [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=300',
    ],
    { ...spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  log.attach(child);
  const service: Service = {
    name: 'PostgreSQL',
    child,
    stopSignal: 'SIGINT',
    exitSignal: 'SIGQUIT',
  };
  services.push(service);

  const baseUrl = `postgres://postgres@127.0.0.1:${port}`;
  try {
    await waitUntil('PostgreSQL', child, log, POSTGRES_START_TIMEOUT_MS, async () => {
      const client = new pg.Client({ connectionString: `${baseUrl}/postgres` });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.query('SELECT 1');
      } finally {
        await client.end().catch(() => {});
      }
    });
    const client = new pg.Client({ connectionString: `${baseUrl}/postgres` });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${TEST_DATABASE}`);
    } finally {
      await client.end();
    }
  } catch (error) {
    await stopService(service);
    throw error;
  }
  return `${baseUrl}/${TEST_DATABASE}`;
}

/** The `postgres` user's ids, to run the server as when this process is root. */
export function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) =>
    Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new ServiceUnavailable(
      'cannot be run as root',
      'running as root, and there is no `postgres` user to run PostgreSQL as',
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Redis

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

async function startRedis(): Promise<string> {
  const redisServer = findOnPath('redis-server');
  if (!redisServer) {
    throw new ServiceUnavailable(
      'binary (redis-server) not found',
      'no redis-server on PATH (Debian: apt-get install redis-server)',
    );
  }
  const dir = makeTempDir('flowproof-redis-');
  const port = await freePort();
  const log = new OutputTail();
  const child = spawn(
    redisServer,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  log.attach(child);
  const service: Service = { name: 'Redis', child, stopSignal: 'SIGTERM', exitSignal: 'SIGKILL' };
  services.push(service);

  const url = `redis://127.0.0.1:${port}`;
  try {
    await waitUntil('Redis', child, log, REDIS_START_TIMEOUT_MS, async () => {
      const client = new Redis(url, {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        connectTimeout: 1_000,
      });
      client.on('error', () => {});
      try {
        await client.connect();
        const pong = await client.ping();
        if (pong !== 'PONG') throw new Error(`unexpected PING answer ${pong}`);
      } finally {
        client.disconnect();
      }
    });
  } catch (error) {
    await stopService(service);
    throw error;
  }
  return url;
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A temp dir, owned by `owner` when given; under /tmp when `owner` can't reach os.tmpdir(). */
function makeTempDir(prefix: string, owner?: { uid: number; gid: number }): string {
  let base = tmpdir();
  if (owner && !isTraversableByOthers(base)) base = '/tmp';
  const dir = mkdtempSync(join(base, prefix));
  tempDirs.push(dir);
  if (owner) chownSync(dir, owner.uid, owner.gid);
  return dir;
}

function isTraversableByOthers(dir: string): boolean {
  // Every ancestor must be world-executable for another user to reach `dir`.
  const parts = dir.split('/').filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const path = `/${parts.slice(0, i).join('/')}`;
    try {
      if ((statSync(path).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** Binds port 0 on loopback, reads the port the kernel picked and releases it. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('could not get a free port');
  return address.port;
}

/** Keeps the last few KiB a child printed, to explain a failed start. */
class OutputTail {
  #text = '';
  attach(child: ChildProcess): void {
    const append = (chunk: Buffer) => {
      this.#text = (this.#text + chunk.toString('utf8')).slice(-8_192);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
  }
  toString(): string {
    return this.#text.trim();
  }
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; uid?: number; gid?: number },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = new OutputTail();
    log.attach(child);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} exited with ${signal ?? code}:\n${log}`));
    });
  });
}

async function waitUntil(
  name: string,
  child: ChildProcess,
  log: OutputTail,
  timeoutMs: number,
  probe: () => Promise<void>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (spawnError) throw spawnError;
    if (hasExited(child)) {
      throw new Error(`${name} exited with ${child.signalCode ?? child.exitCode}:\n${log}`);
    }
    try {
      await probe();
      return;
    } catch (error) {
      lastError = error;
    }
    await sleep(100);
  }
  throw new Error(
    `${name} did not accept connections within ${timeoutMs} ms (${lastError}):\n${log}`,
  );
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function stopService(service: Service): Promise<void> {
  const { child } = service;
  const index = services.indexOf(service);
  if (index >= 0) services.splice(index, 1);
  if (child.pid === undefined || hasExited(child)) return;
  const exited = once(child, 'exit');
  child.kill(service.stopSignal);
  const timer = setTimeout(() => {
    process.stderr.write(`[services] ${service.name} did not stop in time; killing it\n`);
    child.kill('SIGKILL');
  }, STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

async function teardown(): Promise<void> {
  await Promise.all([...services].map(stopService));
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  process.off('exit', killEverythingSync);
}

/** Last resort when the run ends without teardown (crash, `process.exit`): no waiting possible. */
function killEverythingSync(): void {
  for (const { child, exitSignal } of services.splice(0)) {
    if (child.pid !== undefined && !hasExited(child)) child.kill(exitSignal);
  }
  for (const dir of tempDirs.splice(0)) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // The server may still be writing into it while it dies; leave the rest to the OS.
    }
  }
}
