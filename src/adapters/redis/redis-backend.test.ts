/**
 * The Redis backend against a real server: `FLOWPROOF_TEST_REDIS_URL` when set (the global setup
 * sets it), else a private `redis-server` started here. Skipped when neither is available.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordingLogger } from '../../../test/support/logger.js';
import { sleep } from '../../core/async.js';
import type { FlowproofError } from '../../core/errors.js';
import type { MigrationSet } from '../../core/storage-backend.js';
import {
  createRedisBackend,
  type RedisBackend,
  type RedisBackendOptions,
  type RedisClientLike,
} from './index.js';

const givenUrl = process.env.FLOWPROOF_TEST_REDIS_URL || undefined;
const canStartServer =
  givenUrl === undefined && spawnSync('redis-server', ['--version']).status === 0;
const describeRedis = givenUrl !== undefined || canStartServer ? describe : describe.skip;

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

/** Starts a throw-away `redis-server` with `extraArgs`; resolves once it answers PING. */
async function startPrivateServer(
  extraArgs: readonly string[] = [],
): Promise<{ url: string; server: ChildProcess }> {
  const port = await freePort();
  const server = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      ...extraArgs,
    ],
    { cwd: tmpdir(), stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  probe.on('error', () => {});
  const deadline = Date.now() + 10_000;
  try {
    for (;;) {
      try {
        await probe.call('PING');
        return { url, server };
      } catch (error) {
        if (Date.now() > deadline) {
          server.kill('SIGTERM');
          throw error;
        }
        await sleep(50);
      }
    }
  } finally {
    probe.disconnect();
  }
}

async function stopPrivateServer(server: ChildProcess | undefined): Promise<void> {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await once(server, 'exit');
  }
}

describeRedis('Redis backend', () => {
  let url = givenUrl ?? '';
  let server: ChildProcess | undefined;
  const clients: Redis[] = [];
  const backends: RedisBackend[] = [];

  /** A new ioredis connection, disconnected after the suite. */
  const connect = (options: RedisOptions = {}): Redis => {
    const client = new Redis(url, { maxRetriesPerRequest: 1, ...options });
    client.on('error', () => {});
    clients.push(client);
    return client;
  };
  const uniquePrefix = () => `fptest_${randomBytes(6).toString('hex')}:`;
  /** A backend on a shared connection and a fresh key prefix (unless one is given). */
  let shared: Redis;
  const open = (options: Partial<RedisBackendOptions> = {}): RedisBackend => {
    const backend = createRedisBackend({ client: shared, keyPrefix: uniquePrefix(), ...options });
    backends.push(backend);
    return backend;
  };

  beforeAll(async () => {
    if (givenUrl === undefined) ({ url, server } = await startPrivateServer());
    shared = connect();
  });

  afterAll(async () => {
    await Promise.all(backends.map((backend) => backend.close()));
    for (const client of clients) client.disconnect();
    await stopPrivateServer(server);
  });

  describe('configuration and keys', () => {
    it('prefixes keys with the key prefix, flowproof: by default', async () => {
      const defaults = createRedisBackend({ client: shared });
      backends.push(defaults);
      expect(defaults.kind).toBe('redis');
      expect(defaults.keyPrefix).toBe('flowproof:');
      expect(defaults.key('idempotency', 'abc')).toBe('flowproof:idempotency:abc');

      const prefix = uniquePrefix();
      const backend = open({ keyPrefix: prefix });
      expect(backend.key('a', 'b', 'c')).toBe(`${prefix}a:b:c`);
      await backend.command('SET', backend.key('greeting'), 'hello');
      expect(await shared.get(`${prefix}greeting`)).toBe('hello');
      expect(await backend.command('GET', backend.key('greeting'))).toBe('hello');
    });

    it('rejects invalid options and keys with a TypeError', () => {
      expect(() => createRedisBackend({} as RedisBackendOptions)).toThrow(TypeError);
      expect(() => createRedisBackend({ client: shared, timeoutMs: 0 })).toThrow(TypeError);
      expect(() =>
        createRedisBackend({ client: shared, keyPrefix: 1 as unknown as string }),
      ).toThrow(TypeError);
      const backend = open();
      expect(() => backend.key()).toThrow(TypeError);
      expect(() => backend.key('a', 1 as unknown as string)).toThrow(TypeError);
      expect(() => backend.script('')).toThrow(TypeError);
    });

    it('accepts an ioredis client as RedisClientLike', () => {
      const client: RedisClientLike = shared;
      expect(typeof client.call).toBe('function');
    });
  });

  describe('commands', () => {
    it('maps an error reply to BACKEND_ERROR with the reply code', async () => {
      const backend = open();
      await backend.command('SET', backend.key('string'), 'x');
      await expect(backend.command('HGET', backend.key('string'), 'field')).rejects.toMatchObject({
        code: 'BACKEND_ERROR',
        details: { backend: 'redis', redisCode: 'WRONGTYPE' },
      });
    });

    it('turns a command without a reply in time into BACKEND_TIMEOUT', async () => {
      // BLPOP blocks only its own connection, so use a dedicated one.
      const backend = open({ client: connect(), timeoutMs: 200 });
      const started = Date.now();
      await expect(backend.command('BLPOP', backend.key('empty-list'), 2)).rejects.toMatchObject({
        code: 'BACKEND_TIMEOUT',
      });
      expect(Date.now() - started).toBeLessThan(1_500);
    });

    it('turns a command queued for an unreachable server into BACKEND_UNAVAILABLE, never a hang', async () => {
      const port = await freePort();
      const closed = `redis://127.0.0.1:${port}`;
      // ioredis' defaults: the offline queue keeps the command for a long time of reconnecting.
      const queued = new Redis(closed, { lazyConnect: true });
      const failFast = new Redis(closed, { lazyConnect: true, maxRetriesPerRequest: 1 });
      const noQueue = new Redis(closed, { lazyConnect: true, enableOfflineQueue: false });
      for (const client of [queued, failFast, noQueue]) {
        client.on('error', () => {});
        clients.push(client);
        const backend = open({ client, timeoutMs: 300 });
        const started = Date.now();
        await expect(backend.command('PING')).rejects.toMatchObject({
          code: 'BACKEND_UNAVAILABLE',
          details: { backend: 'redis' },
        });
        expect(Date.now() - started).toBeLessThan(2_000);
        await expect(backend.now()).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
      }
    });

    it('maps failed authentication to BACKEND_MISCONFIGURED', async () => {
      const client = connect({
        username: `fp-nobody-${randomBytes(4).toString('hex')}`,
        password: 'wrong',
        lazyConnect: true,
      });
      const backend = open({ client, timeoutMs: 2_000 });
      await expect(backend.command('PING')).rejects.toMatchObject({
        code: 'BACKEND_MISCONFIGURED',
      });
    });
  });

  it('reads the store clock with TIME', async () => {
    const backend = open();
    const now = await backend.now();
    expect(now).toBeInstanceOf(Date);
    expect(Math.abs(now.getTime() - Date.now())).toBeLessThan(2_000);
  });

  describe('scripts', () => {
    it('runs a script by SHA1 and falls back to EVAL after SCRIPT FLUSH', async () => {
      const backend = open();
      const lua = `-- ${randomBytes(4).toString('hex')}
local n = redis.call('INCRBY', KEYS[1], ARGV[1]) return n`;
      const script = backend.script(lua);
      expect(script.sha1).toBe(createHash('sha1').update(lua).digest('hex'));
      const key = backend.key('counter');

      expect(await shared.call('SCRIPT', 'EXISTS', script.sha1)).toEqual([0]);
      expect(await script.run([key], [2])).toBe(2);
      expect(await shared.call('SCRIPT', 'EXISTS', script.sha1)).toEqual([1]);
      expect(await script.run([key], [3])).toBe(5);

      await shared.call('SCRIPT', 'FLUSH');
      expect(await script.run<number>([key], [4])).toBe(9);
      expect(await shared.call('SCRIPT', 'EXISTS', script.sha1)).toEqual([1]);
    });

    it('reports an error raised by the script as BACKEND_ERROR', async () => {
      const backend = open();
      const script = backend.script("return redis.error_reply('FAILED on purpose')");
      await expect(script.run([])).rejects.toMatchObject({
        code: 'BACKEND_ERROR',
        details: { backend: 'redis' },
      });
    });
  });

  describe('migrations', () => {
    /** Two migrations; each counts its runs with INCR on `counter:<version>`. */
    const countingSet = (delayMs = 0): MigrationSet<RedisBackend> => ({
      component: 'counting',
      migrations: [1, 2].map((version) => ({
        version,
        name: `migration ${version}`,
        up: async (backend: RedisBackend) => {
          await backend.command('INCR', backend.key('counter', String(version)));
          if (delayMs > 0) await sleep(delayMs);
        },
      })),
    });
    const runs = async (backend: RedisBackend, version: number) =>
      Number(await shared.get(backend.key('counter', String(version))));

    it('migrates a fresh store, records versions in a hash, then has nothing to do', async () => {
      const backend = open();
      expect(await backend.schemaVersion('counting')).toBe(0);
      await expect(backend.assertSchemaVersion('counting', 2)).rejects.toMatchObject({
        code: 'SCHEMA_OUTDATED',
      });

      expect(await backend.migrate(countingSet())).toEqual({
        component: 'counting',
        from: 0,
        to: 2,
        applied: [1, 2],
      });
      expect(await shared.hgetall(backend.key('migrations', 'counting'))).toEqual({
        '1': 'migration 1',
        '2': 'migration 2',
      });
      expect(await shared.exists(backend.key('migrations-lock'))).toBe(0);

      expect(await backend.migrate(countingSet())).toEqual({
        component: 'counting',
        from: 2,
        to: 2,
        applied: [],
      });
      expect(await runs(backend, 1)).toBe(1);
      expect(await runs(backend, 2)).toBe(1);
      expect(await backend.schemaVersion('counting')).toBe(2);
      await backend.assertSchemaVersion('counting', 2);
      expect(await backend.schemaVersion('another-component')).toBe(0);
    });

    it('applies each version exactly once across 8 concurrent migrate() calls on 8 connections', async () => {
      const keyPrefix = uniquePrefix();
      const racers = Array.from({ length: 8 }, () => open({ client: connect(), keyPrefix }));
      const reports = await Promise.all(racers.map((backend) => backend.migrate(countingSet(50))));
      expect(reports.flatMap((report) => report.applied).sort()).toEqual([1, 2]);
      const first = racers[0] as RedisBackend;
      expect(await runs(first, 1)).toBe(1);
      expect(await runs(first, 2)).toBe(1);
      expect(await first.schemaVersion('counting')).toBe(2);
      expect(await shared.exists(first.key('migrations-lock'))).toBe(0);
    });

    it('refuses a schema newer than the code with SCHEMA_TOO_NEW', async () => {
      const backend = open();
      await backend.migrate(countingSet());
      await shared.hset(backend.key('migrations', 'counting'), '3', 'from newer code');
      await expect(backend.migrate(countingSet())).rejects.toMatchObject({
        code: 'SCHEMA_TOO_NEW',
      });
      await expect(backend.assertSchemaVersion('counting', 2)).rejects.toMatchObject({
        code: 'SCHEMA_TOO_NEW',
      });
      expect(await shared.exists(backend.key('migrations-lock'))).toBe(0);
    });

    it('refuses a rewritten history with MIGRATION_FAILED', async () => {
      const backend = open();
      await backend.migrate(countingSet());
      const renamed = countingSet();
      const rewritten = {
        ...renamed,
        migrations: [renamed.migrations[0], { ...renamed.migrations[1], name: 'renamed' }],
      } as MigrationSet<RedisBackend>;
      await expect(backend.migrate(rewritten)).rejects.toMatchObject({ code: 'MIGRATION_FAILED' });
    });

    it('reports a throwing migration as MIGRATION_FAILED, does not record it and releases the lock', async () => {
      const backend = open();
      await backend.migrate(countingSet());
      const base = countingSet();
      const failing: MigrationSet<RedisBackend> = {
        component: 'counting',
        migrations: [
          ...base.migrations,
          {
            version: 3,
            name: 'fails',
            up: () => {
              throw new Error('boom');
            },
          },
        ],
      };
      const started = Date.now();
      await expect(backend.migrate(failing)).rejects.toMatchObject({
        code: 'MIGRATION_FAILED',
        details: { component: 'counting', version: 3 },
      });
      expect(await backend.schemaVersion('counting')).toBe(2);
      expect(await shared.hexists(backend.key('migrations', 'counting'), '3')).toBe(0);
      expect(await shared.exists(backend.key('migrations-lock'))).toBe(0);
      // The lock was released: a corrected migration runs at once, not after the lock expires.
      const fixed: MigrationSet<RedisBackend> = {
        component: 'counting',
        migrations: [...base.migrations, { version: 3, name: 'fails', up: () => {} }],
      };
      expect((await backend.migrate(fixed)).applied).toEqual([3]);
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it('wraps a flowproof error a migration throws in MIGRATION_FAILED, keeping its code', async () => {
      const backend = open();
      const set: MigrationSet<RedisBackend> = {
        component: 'counting',
        migrations: [
          {
            version: 1,
            name: 'needs another component',
            // SCHEMA_OUTDATED here would tell the caller to "run migrate()", which it is doing.
            up: (b) => b.assertSchemaVersion('not-migrated', 1),
          },
        ],
      };
      const error = await backend.migrate(set).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'MIGRATION_FAILED',
        details: {
          component: 'counting',
          version: 1,
          backend: 'redis',
          causeCode: 'SCHEMA_OUTDATED',
        },
        cause: { code: 'SCHEMA_OUTDATED' },
      });
      expect(await backend.schemaVersion('counting')).toBe(0);
      expect(await shared.exists(backend.key('migrations-lock'))).toBe(0);
    });

    it('gives up with BACKEND_TIMEOUT when another process keeps the lock', async () => {
      const backend = open({ migrationLockTimeoutMs: 300 });
      const lockKey = backend.key('migrations-lock');
      await shared.set(lockKey, 'someone-else', 'PX', 30_000);
      const started = Date.now();
      await expect(backend.migrate(countingSet())).rejects.toMatchObject({
        code: 'BACKEND_TIMEOUT',
      });
      expect(Date.now() - started).toBeLessThan(2_000);
      // A lock held by someone else is left alone.
      expect(await shared.get(lockKey)).toBe('someone-else');
      expect(await backend.schemaVersion('counting')).toBe(0);
      await shared.del(lockKey);
      expect((await backend.migrate(countingSet())).applied).toEqual([1, 2]);
    });

    it('rejects a malformed migration set with a TypeError', async () => {
      const backend = open();
      const gap = { component: 'counting', migrations: [{ version: 2, name: 'x', up: () => {} }] };
      await expect(backend.migrate(gap)).rejects.toBeInstanceOf(TypeError);
    });
  });

  describe('migrations when the server stops answering (a client that never replies)', () => {
    /**
     * A stand-in for a server that stalls: `SET NX` takes the lock and `HGETALL` answers, but
     * the commands named in `stalled` never get a reply. A real stall is tested below, with
     * `DEBUG SLEEP`, on a server started for it.
     */
    const stallingClient = (stalled: ReadonlySet<string>) => {
      const calls: string[] = [];
      const client: RedisClientLike = {
        status: 'ready',
        call: (command: string) => {
          calls.push(command);
          if (stalled.has(command)) return new Promise<never>(() => {});
          if (command === 'SET') return Promise.resolve('OK');
          if (command === 'HGETALL') return Promise.resolve([]);
          return Promise.resolve(1);
        },
      };
      return { client, calls };
    };
    const oneMigration: MigrationSet<RedisBackend> = {
      component: 'counting',
      migrations: [{ version: 1, name: 'first', up: () => {} }],
    };

    it('says the version may or may not be recorded, and that the lock was left to expire', async () => {
      const { client, calls } = stallingClient(new Set(['HSET', 'EVALSHA', 'EVAL']));
      const backend = createRedisBackend({ client, timeoutMs: 50 });
      const error = await backend.migrate(oneMigration).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'BACKEND_TIMEOUT',
        details: {
          component: 'counting',
          version: 1,
          backend: 'redis',
          recorded: 'unknown',
          lockReleased: false,
        },
      });
      const { message } = error as Error;
      expect(message).toMatch(/may or may not be recorded/);
      expect(message).toMatch(/run migrate\(\) again/i);
      expect(message).toMatch(/lock .*expires within 30 s/);
      // The release was tried twice, the second time with the script in full (EVAL): a timed-out
      // EVALSHA may have been refused with NOSCRIPT with nobody left to send the script.
      expect(calls.filter((c) => c === 'EVALSHA' || c === 'EVAL')).toEqual(['EVALSHA', 'EVAL']);
    });

    it('says the version was not recorded when recording it got an error reply', async () => {
      const { client } = stallingClient(new Set());
      const refusing: RedisClientLike = {
        status: 'ready',
        call: (command, ...args) =>
          command === 'HSET'
            ? Promise.reject(
                Object.assign(new Error('OOM command not allowed when used memory > maxmemory'), {
                  name: 'ReplyError',
                }),
              )
            : client.call(command, ...args),
      };
      const backend = createRedisBackend({ client: refusing, timeoutMs: 50 });
      const error = await backend.migrate(oneMigration).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'BACKEND_ERROR',
        details: { component: 'counting', version: 1, redisCode: 'OOM', recorded: 'no' },
      });
      expect((error as Error).message).toMatch(/was not recorded/);
      expect((error as FlowproofError).details).not.toHaveProperty('lockReleased');
    });

    it('leaves a MIGRATION_FAILED as it is, adding that the lock was left to expire', async () => {
      const { client } = stallingClient(new Set(['EVALSHA', 'EVAL']));
      const backend = createRedisBackend({ client, timeoutMs: 50 });
      const failing: MigrationSet<RedisBackend> = {
        component: 'counting',
        migrations: [
          {
            version: 1,
            name: 'first',
            up: () => {
              throw new Error('boom');
            },
          },
        ],
      };
      const error = await backend.migrate(failing).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'MIGRATION_FAILED',
        details: { component: 'counting', version: 1, backend: 'redis', lockReleased: false },
        cause: { message: 'boom' },
      });
      expect((error as Error).message).toMatch(/lock .*expires within 30 s/);
    });

    it('still reports success when only the lock release times out, and logs a warning', async () => {
      const { client, calls } = stallingClient(new Set(['EVALSHA', 'EVAL']));
      const logger = recordingLogger();
      const backend = createRedisBackend({ client, timeoutMs: 50, logger, keyPrefix: 'app:' });
      expect(await backend.migrate(oneMigration)).toEqual({
        component: 'counting',
        from: 0,
        to: 1,
        applied: [1],
      });
      expect(calls).toContain('HSET');
      expect(logger.lines).toEqual([
        {
          level: 'warn',
          fields: {
            backend: 'redis',
            component: 'counting',
            lockKey: 'app:migrations-lock',
            expiresWithinMs: 30_000,
          },
          message: expect.stringMatching(/migration lock could not be released/),
        },
      ]);
    });

    it('logs a lock left behind by a failed migrate() too, and nothing when it was released', async () => {
      const logger = recordingLogger();
      const stalling = stallingClient(new Set(['HSET', 'EVALSHA', 'EVAL']));
      const failing = createRedisBackend({ client: stalling.client, timeoutMs: 50, logger });
      await expect(failing.migrate(oneMigration)).rejects.toMatchObject({
        details: { lockReleased: false },
      });
      expect(logger.lines.map((line) => line.level)).toEqual(['warn']);
      const healthy = createRedisBackend({ client: stallingClient(new Set()).client, logger });
      await healthy.migrate(oneMigration);
      expect(logger.lines).toHaveLength(1);
    });

    it('checks the logger option', () => {
      const { client } = stallingClient(new Set());
      expect(() => createRedisBackend({ client, logger: {} as never })).toThrow(/options.logger/);
    });
  });

  it('refuses transaction() with TRANSACTION_UNSUPPORTED', async () => {
    const backend = open();
    let ran = false;
    await expect(
      backend.transaction(async () => {
        ran = true;
      }),
    ).rejects.toMatchObject({ code: 'TRANSACTION_UNSUPPORTED' });
    expect(ran).toBe(false);
  });

  describe('close()', () => {
    it('is idempotent, leaves an injected client open and fails later calls with BACKEND_CLOSED', async () => {
      const client = connect();
      await client.ping();
      const backend = open({ client });
      const script = backend.script('return 1');
      await backend.close();
      await backend.close();
      expect(client.status).toBe('ready');
      for (const call of [
        () => backend.command('PING'),
        () => backend.now(),
        () => backend.schemaVersion('counting'),
        () => backend.assertSchemaVersion('counting', 1),
        () => backend.migrate({ component: 'c', migrations: [{ version: 1, name: 'x', up() {} }] }),
        () => backend.transaction(async () => undefined),
        () => script.run([]),
      ]) {
        await expect(call()).rejects.toMatchObject({ code: 'BACKEND_CLOSED' });
      }
    });

    it('quits the client when it owns it', async () => {
      const client = connect();
      await client.ping();
      const backend = open({ client, ownsClient: true });
      await backend.close();
      await backend.close();
      await expect(client.ping()).rejects.toThrow();
      expect(['end', 'close']).toContain(client.status);
    });
  });
});

/** `DEBUG SLEEP` freezes the whole server; it needs a private one started with the command on. */
const describeStall =
  spawnSync('redis-server', ['--version']).status === 0 ? describe : describe.skip;

describeStall('Redis backend: migrate() while the server stalls (DEBUG SLEEP)', () => {
  let url = '';
  let server: ChildProcess | undefined;
  const clients: Redis[] = [];
  const connect = (): Redis => {
    const client = new Redis(url, { maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    ({ url, server } = await startPrivateServer(['--enable-debug-command', 'yes']));
  });
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await stopPrivateServer(server);
  });

  it('says what state it leaves, and the lock does not outlive the stall', async () => {
    const keyPrefix = `fpstall_${randomBytes(6).toString('hex')}:`;
    const client = connect();
    const backend = createRedisBackend({ client, keyPrefix, timeoutMs: 200 });
    const observer = connect();
    await observer.ping();
    const sleeper = connect();
    await sleeper.ping();
    let runs = 0;
    const set: MigrationSet<RedisBackend> = {
      component: 'stall',
      migrations: [
        {
          version: 1,
          name: 'first',
          up: async () => {
            runs += 1;
            // The server freezes for 1 s right after the migration ran: recording it (HSET, sent
            // ~100 ms in) and both release attempts (~300 ms, ~500 ms) time out, but they stay
            // queued on the connection and run once the server wakes.
            void sleeper.call('DEBUG', 'SLEEP', '1').catch(() => {});
            await sleep(100);
          },
        },
      ],
    };
    const error = await backend.migrate(set).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'BACKEND_TIMEOUT',
      details: { component: 'stall', version: 1, recorded: 'unknown', lockReleased: false },
    });
    expect((error as Error).message).toMatch(/may or may not be recorded.*run migrate\(\) again/i);

    // Answered once the server woke and ran what this connection had queued before it.
    await client.ping();
    // The late HSET landed, and the release sent in full (EVAL) removed the lock: it does not
    // linger for its 30 s expiry.
    expect(await observer.hgetall(`${keyPrefix}migrations:stall`)).toEqual({ '1': 'first' });
    expect(await observer.exists(`${keyPrefix}migrations-lock`)).toBe(0);
    const started = Date.now();
    expect(await backend.migrate(set)).toEqual({ component: 'stall', from: 1, to: 1, applied: [] });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(runs).toBe(1);
  });
});
