import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { sleep, withTimeout } from '../../core/async.js';
import { FlowproofError } from '../../core/errors.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../../core/logger.js';
import {
  type AppliedMigration,
  assertMigrationSet,
  assertVersionMatches,
  migrationFailed,
  pendingMigrations,
} from '../../core/migrations.js';
import {
  assertFunction,
  assertInteger,
  assertKnownKeys,
  assertNonEmptyString,
  assertOptionsObject,
} from '../../core/options.js';
import type { MigrationReport, MigrationSet, StorageBackend } from '../../core/storage-backend.js';
import type { RedisArgument, RedisClientLike } from './redis-client.js';
import { toRedisError } from './redis-errors.js';

/** Options of {@link createRedisBackend}. */
export interface RedisBackendOptions {
  /**
   * An ioredis client (`new Redis(url)`). Give it no `keyPrefix` of its own: flowproof prefixes
   * its keys with {@link RedisBackendOptions.keyPrefix}, and ioredis would add its prefix on top.
   */
  readonly client: RedisClientLike;
  /**
   * Prefix of every key flowproof writes. Use one prefix per application (or per test) sharing a
   * Redis database; migrations are recorded and locked per prefix.
   * @default 'flowproof:'
   */
  readonly keyPrefix?: string;
  /**
   * Upper bound for one command, in milliseconds, including the time ioredis keeps it queued while
   * it (re)connects: without it, a command sent to an unreachable server may wait forever. A
   * timed-out command is not cancelled: the server may still run it, and its reply is discarded.
   * @default 5000
   */
  readonly timeoutMs?: number;
  /**
   * How long `migrate()` waits for the migration lock another process holds before it gives up
   * with `BACKEND_TIMEOUT`, in milliseconds. Longer than the lock's 30 s expiry by default, so a
   * holder that crashed never makes the others fail.
   * @default 60000
   */
  readonly migrationLockTimeoutMs?: number;
  /**
   * Quit the client in `close()`. Leave it `false` when the application owns the client.
   * @default false
   */
  readonly ownsClient?: boolean;
  /**
   * A pino-compatible logger for what the backend handles on its own but an operator should see:
   * a migration lock that could not be released (a `warn` line; the lock then expires within
   * 30 s, and `migrate()` calls before then wait for it).
   * @default silent
   */
  readonly logger?: Logger;
}

/**
 * A Lua script registered with {@link RedisBackend.script}: run by SHA1 (`EVALSHA`), sent in full
 * (`EVAL`) only when the server does not have it cached yet.
 */
export interface RedisScript {
  /** The script's SHA1 digest, as `EVALSHA` expects it. */
  readonly sha1: string;
  /**
   * Runs the script with `KEYS` and `ARGV`, and resolves with its raw reply. Pass every key the
   * script touches in `keys` (Redis Cluster routes on them).
   *
   * @throws FlowproofError like {@link RedisBackend.command}; an error the script raises is
   * `BACKEND_ERROR`.
   */
  run<T = unknown>(keys: readonly string[], args?: readonly RedisArgument[]): Promise<T>;
}

/**
 * A {@link StorageBackend} over Redis, and the command helpers module stores build on.
 *
 * Redis has no interactive transactions: {@link RedisBackend.transaction} always rejects with
 * `TRANSACTION_UNSUPPORTED`, and module stores make their read-modify-write steps atomic with Lua
 * scripts ({@link RedisBackend.script}) instead.
 */
export interface RedisBackend extends StorageBackend {
  /** Always `redis`. */
  readonly kind: 'redis';
  /** The configured key prefix. */
  readonly keyPrefix: string;
  /**
   * The full name of flowproof key `parts`: the prefix followed by the parts joined with `:`,
   * e.g. `key('idempotency', id)` → `flowproof:idempotency:<id>`. Parts are not escaped: put a
   * part that may contain `:` last.
   *
   * @throws TypeError when no part is given or a part is not a string.
   */
  key(...parts: string[]): string;
  /**
   * Sends one command and resolves with its raw reply (no reply transformation: `HGETALL` gives a
   * flat `[field, value, …]` array).
   *
   * @throws FlowproofError `BACKEND_UNAVAILABLE` (no connection, including a command still queued
   * for one when `timeoutMs` runs out), `BACKEND_TIMEOUT` (connected, but no reply within
   * `timeoutMs`), `BACKEND_MISCONFIGURED` (authentication or permissions), `BACKEND_CLOSED` or
   * `BACKEND_ERROR` (an error reply, with `details.redisCode`, e.g. `WRONGTYPE`).
   * @example
   * ```ts
   * await backend.command('SET', backend.key('greeting'), 'hello', 'PX', 60_000);
   * const value = await backend.command<string | null>('GET', backend.key('greeting'));
   * ```
   */
  command<T = unknown>(name: string, ...args: RedisArgument[]): Promise<T>;
  /**
   * Registers a Lua script; nothing is sent until the first `run()`.
   *
   * @throws TypeError when `lua` is not a non-empty string.
   * @example
   * ```ts
   * const hit = backend.script(
   *   "local n = redis.call('INCR', KEYS[1]) redis.call('PEXPIRE', KEYS[1], ARGV[1]) return n",
   * );
   * const hits = await hit.run<number>([backend.key('hits', clientId)], [60_000]);
   * ```
   */
  script(lua: string): RedisScript;
  /**
   * Always rejects: Redis has no interactive transactions (`MULTI` cannot read in between), so a
   * backend-level transaction cannot be offered. Module stores use Lua scripts for atomicity.
   *
   * @throws FlowproofError `TRANSACTION_UNSUPPORTED` (or `BACKEND_CLOSED` after `close()`).
   */
  transaction<T>(fn: (backend: this) => Promise<T>): Promise<T>;
}

interface Config {
  readonly client: RedisClientLike;
  readonly keyPrefix: string;
  readonly timeoutMs: number;
  readonly migrationLockTimeoutMs: number;
  readonly ownsClient: boolean;
  readonly logger: Logger;
}

/** The migration lock's expiry; renewed while held, so it only matters when the holder dies. */
const LOCK_TTL_MS = 30_000;
const LOCK_RENEW_EVERY_MS = 10_000;
const RELEASE_LOCK_LUA =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
const RENEW_LOCK_LUA =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";

/**
 * Creates a Redis backend over an ioredis client the application owns. Nothing is written to
 * Redis until a module's store calls `migrate()`.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { createRedisBackend } from 'flowproof/adapters/redis';
 *
 * const backend = createRedisBackend({ client: new Redis(process.env.REDIS_URL), keyPrefix: 'shop:' });
 * ```
 */
export function createRedisBackend(options: RedisBackendOptions): RedisBackend {
  assertOptionsObject(options, 'options');
  assertKnownKeys(
    options,
    ['client', 'keyPrefix', 'timeoutMs', 'migrationLockTimeoutMs', 'ownsClient', 'logger'],
    'options',
  );
  const { client } = options;
  if (typeof (client as RedisClientLike | undefined)?.call !== 'function') {
    throw new TypeError('options.client must be an ioredis client (Redis or Cluster)');
  }
  const keyPrefix = options.keyPrefix ?? 'flowproof:';
  if (typeof keyPrefix !== 'string') {
    throw new TypeError(`options.keyPrefix must be a string, got ${typeof keyPrefix}`);
  }
  const timeoutMs = options.timeoutMs ?? 5_000;
  assertInteger(timeoutMs, 'options.timeoutMs', 1, 3_600_000);
  const logger = options.logger ?? silentLogger;
  assertLogger(logger, 'options.logger');
  const migrationLockTimeoutMs = options.migrationLockTimeoutMs ?? 60_000;
  assertInteger(migrationLockTimeoutMs, 'options.migrationLockTimeoutMs', 0, 3_600_000);
  const config: Config = Object.freeze({
    client,
    keyPrefix,
    timeoutMs,
    migrationLockTimeoutMs,
    ownsClient: options.ownsClient ?? false,
    logger,
  });
  return new RedisBackendImpl(config);
}

/** A held migration lock. */
interface MigrationLock {
  /** False once the lock may have expired or passed to another process. */
  held(): boolean;
  /**
   * Stops renewing and deletes the lock if it is still ours. Never throws: resolves `false` when
   * neither attempt got an answer, so the lock may stay until it expires (at most `LOCK_TTL_MS`).
   */
  release(): Promise<boolean>;
}

/**
 * The error for a version whose `HSET` failed after its migration ran. The code stays the
 * backend's (`BACKEND_TIMEOUT`, `BACKEND_UNAVAILABLE`…): it is not the migration that failed, and
 * `MIGRATION_FAILED` promises that nothing of the version was recorded. What the message adds is
 * the state left behind: after a timeout or a lost connection the command is not cancelled (the
 * server may run it when it recovers, ioredis may send it after a reconnect), so nobody knows
 * whether the version was recorded; after an error reply it certainly was not.
 */
function recordingFailed(component: string, version: number, error: unknown): unknown {
  if (!(error instanceof FlowproofError)) return error;
  const unknown = error.code === 'BACKEND_TIMEOUT' || error.code === 'BACKEND_UNAVAILABLE';
  const state = unknown
    ? 'the version may or may not be recorded. Run migrate() again once Redis answers: it is idempotent, and runs the migration again only if the version was not recorded'
    : 'the version was not recorded. Fix the cause, then run migrate() again: it runs this migration again';
  return new FlowproofError(
    error.code,
    `Migration ${version} of ${component} ran, but recording it failed (${error.message}): ${state}`,
    {
      cause: error,
      details: {
        ...error.details,
        component,
        version,
        backend: 'redis',
        recorded: unknown ? 'unknown' : 'no',
      },
    },
  );
}

/** Adds to a failure of migrate() that the migration lock may outlive it. */
function withLingeringLock(error: unknown): unknown {
  if (!(error instanceof FlowproofError)) return error;
  return new FlowproofError(
    error.code,
    `${error.message}. The migration lock could not be released either: it expires within ${LOCK_TTL_MS / 1000} s, and migrate() calls before then wait for it`,
    {
      ...(error.cause === undefined ? {} : { cause: error.cause }),
      details: { ...error.details, lockReleased: false },
    },
  );
}

class RedisBackendImpl implements RedisBackend {
  readonly kind = 'redis' as const;
  readonly #config: Config;
  readonly #releaseLock: RedisScript;
  readonly #renewLock: RedisScript;
  #closed = false;

  constructor(config: Config) {
    this.#config = config;
    this.#releaseLock = this.script(RELEASE_LOCK_LUA);
    this.#renewLock = this.script(RENEW_LOCK_LUA);
  }

  get keyPrefix() {
    return this.#config.keyPrefix;
  }

  key(...parts: string[]): string {
    if (parts.length === 0) throw new TypeError('key() needs at least one part');
    parts.forEach((part, index) => {
      if (typeof part !== 'string') {
        throw new TypeError(`key part ${index} must be a string, got ${typeof part}`);
      }
    });
    return this.#config.keyPrefix + parts.join(':');
  }

  async command<T = unknown>(name: string, ...args: RedisArgument[]): Promise<T> {
    assertNonEmptyString(name, 'name');
    this.#assertOpen();
    const { client, timeoutMs } = this.#config;
    try {
      return (await withTimeout(client.call(name, ...args), timeoutMs, `Redis ${name}`)) as T;
    } catch (error) {
      // Only the command name goes into the message: keys and values may hold personal data.
      throw toRedisError(error, name, client.status);
    }
  }

  script(lua: string): RedisScript {
    assertNonEmptyString(lua, 'lua');
    const sha1 = createHash('sha1').update(lua).digest('hex');
    const run = async <T = unknown>(
      keys: readonly string[],
      args: readonly RedisArgument[] = [],
    ): Promise<T> => {
      if (!Array.isArray(keys) || !Array.isArray(args)) {
        throw new TypeError('script.run(keys, args) takes two arrays');
      }
      try {
        return await this.command<T>('EVALSHA', sha1, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof FlowproofError) || error.details.redisCode !== 'NOSCRIPT')
          throw error;
        // Not cached on this server yet (new server, restart, SCRIPT FLUSH): send it; EVAL caches it.
        return this.command<T>('EVAL', lua, keys.length, ...keys, ...args);
      }
    };
    return Object.freeze({ sha1, run });
  }

  async now(): Promise<Date> {
    const reply = await this.command<unknown>('TIME');
    const [seconds, micros] = Array.isArray(reply) ? reply.map(Number) : [];
    if (!Number.isInteger(seconds) || !Number.isInteger(micros)) {
      throw new FlowproofError('BACKEND_ERROR', 'Redis TIME returned an unexpected reply', {
        details: { backend: 'redis' },
      });
    }
    return new Date((seconds as number) * 1000 + Math.floor((micros as number) / 1000));
  }

  async transaction<T>(fn: (backend: this) => Promise<T>): Promise<T> {
    assertFunction(fn, 'fn');
    this.#assertOpen();
    throw new FlowproofError(
      'TRANSACTION_UNSUPPORTED',
      'The Redis backend has no transactions: Redis cannot read inside MULTI, so flowproof stores use Lua scripts for atomic steps',
      { details: { backend: 'redis' } },
    );
  }

  async migrate(set: MigrationSet<this>): Promise<MigrationReport> {
    assertMigrationSet(set);
    this.#assertOpen();
    const { component } = set;
    const versionsKey = this.key('migrations', component);
    const lock = await this.#acquireMigrationLock();
    let report: MigrationReport;
    try {
      const pending = pendingMigrations(set, await this.#appliedMigrations(component));
      const from = set.migrations.length - pending.length;
      for (const migration of pending) {
        try {
          await migration.up(this);
        } catch (error) {
          throw migrationFailed(component, migration.version, error, 'redis');
        }
        if (!lock.held()) {
          // Another process may have taken the lock and be applying this version too.
          throw new FlowproofError(
            'MIGRATION_FAILED',
            `Migration ${migration.version} of ${component} ran, but the migration lock could not be kept while it ran, so it was not recorded; check the data, then run migrate() again`,
            { details: { component, version: migration.version, backend: 'redis' } },
          );
        }
        try {
          await this.command('HSET', versionsKey, String(migration.version), migration.name);
        } catch (error) {
          throw recordingFailed(component, migration.version, error);
        }
      }
      report = {
        component,
        from,
        to: set.migrations.length,
        applied: pending.map((m) => m.version),
      };
    } catch (error) {
      throw (await this.#release(lock, component)) ? error : withLingeringLock(error);
    }
    // The migrations are applied and recorded: a lock that could not be released does not undo
    // that, it only makes the next migrate() wait for its expiry (and is logged).
    await this.#release(lock, component);
    return report;
  }

  async schemaVersion(component: string): Promise<number> {
    assertNonEmptyString(component, 'component');
    const applied = await this.#appliedMigrations(component);
    return applied.reduce((max, row) => Math.max(max, row.version), 0);
  }

  async assertSchemaVersion(component: string, expected: number): Promise<void> {
    assertVersionMatches(component, await this.schemaVersion(component), expected);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#config.ownsClient) return;
    const { client, timeoutMs } = this.#config;
    if (typeof client.quit === 'function') {
      try {
        await withTimeout(client.quit(), timeoutMs, 'Redis QUIT');
        return;
      } catch {
        // The connection is already gone or cannot drain: drop it below.
      }
    }
    client.disconnect?.();
  }

  /** Releases `lock`, logging a warning when it could not be: it lingers until it expires. */
  async #release(lock: MigrationLock, component: string): Promise<boolean> {
    const released = await lock.release();
    if (!released) {
      logEvent(
        this.#config.logger,
        'warn',
        {
          backend: 'redis',
          component,
          lockKey: this.key('migrations-lock'),
          expiresWithinMs: LOCK_TTL_MS,
        },
        `The Redis migration lock could not be released; it expires within ${LOCK_TTL_MS / 1000} s, and migrate() calls before then wait for it`,
      );
    }
    return released;
  }

  /** Reads the versions recorded for `component` (hash field = version, value = name). */
  async #appliedMigrations(component: string): Promise<AppliedMigration[]> {
    const reply = await this.command<unknown>('HGETALL', this.key('migrations', component));
    const flat = Array.isArray(reply) ? reply.map(String) : [];
    const applied: AppliedMigration[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const field = flat[i] as string;
      if (!/^[1-9][0-9]{0,8}$/.test(field)) {
        throw new FlowproofError(
          'MIGRATION_FAILED',
          `The ${component} migration record holds an unexpected field "${field}"`,
          { details: { component, backend: 'redis' } },
        );
      }
      applied.push({ version: Number(field), name: flat[i + 1] as string });
    }
    return applied.sort((a, b) => a.version - b.version);
  }

  /**
   * Takes this key prefix's migration lock (`SET NX PX`), retrying until
   * `migrationLockTimeoutMs`, and keeps renewing it until released.
   */
  async #acquireMigrationLock(): Promise<MigrationLock> {
    const key = this.key('migrations-lock');
    const token = randomBytes(16).toString('hex');
    const started = performance.now();
    let confirmedAt = started;
    let delay = 10;
    for (;;) {
      confirmedAt = performance.now();
      if ((await this.command('SET', key, token, 'NX', 'PX', LOCK_TTL_MS)) === 'OK') break;
      const waited = performance.now() - started;
      const remaining = this.#config.migrationLockTimeoutMs - waited;
      if (remaining <= 0) {
        throw new FlowproofError(
          'BACKEND_TIMEOUT',
          `Another process held the Redis migration lock for more than ${this.#config.migrationLockTimeoutMs} ms`,
          {
            details: {
              backend: 'redis',
              timeoutMs: this.#config.migrationLockTimeoutMs,
              waitedMs: Math.round(waited),
            },
          },
        );
      }
      // Jittered back-off so racing processes do not retry in lockstep.
      await sleep(Math.min(remaining, delay * (0.5 + Math.random())));
      delay = Math.min(delay * 2, 200);
    }

    let lost = false;
    const renew = async () => {
      const attemptedAt = performance.now();
      try {
        const renewed = await this.#renewLock.run([key], [token, LOCK_TTL_MS]);
        if (Number(renewed) === 1) confirmedAt = attemptedAt;
        else lost = true;
      } catch {
        // Transient: the next tick tries again; held() turns false once the expiry has passed.
      }
    };
    const timer = setInterval(() => void renew(), LOCK_RENEW_EVERY_MS);
    timer.unref();
    return {
      held: () => !lost && performance.now() - confirmedAt < LOCK_TTL_MS,
      release: async () => {
        clearInterval(timer);
        try {
          await this.#releaseLock.run([key], [token]);
          return true;
        } catch {
          // Usually a timeout: the server stalled, and the EVALSHA still runs when it recovers,
          // unless it is refused with NOSCRIPT (a new or restarted server) with nobody left to
          // send the script. So retry once with the script in full: even if this times out too,
          // it stays queued on the connection and frees the lock as soon as the server answers.
        }
        try {
          await this.command('EVAL', RELEASE_LOCK_LUA, 1, key, token);
          return true;
        } catch {
          // Left to its expiry (LOCK_TTL_MS): the backstop for a holder that died.
          return false;
        }
      },
    };
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new FlowproofError('BACKEND_CLOSED', 'This Redis backend was closed', {
        details: { backend: 'redis' },
      });
    }
  }
}
