/**
 * Idempotency: (a) each store against its raw primitive (Redis `SET NX PX` + `SET`; PostgreSQL
 * `INSERT … ON CONFLICT DO NOTHING` + `UPDATE`), sequential and with 64 concurrent callers; (b)
 * against `@aws-lambda-powertools/idempotency` with its Redis persistence layer on the same Redis,
 * for new keys, duplicates, and each library's in-process cache of completed results.
 *
 * Servers: FLOWPROOF_BENCH_REDIS_URL / FLOWPROOF_BENCH_POSTGRES_URL when set, otherwise throwaway
 * servers started with the test suite's global setup (skipped, with the reason printed, when the
 * binaries are missing).
 */
import { randomBytes } from 'node:crypto';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { CachePersistenceLayer } from '@aws-lambda-powertools/idempotency/cache';
import { createClient } from '@redis/client';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  createPostgresBackend,
  createPostgresIdempotencyStore,
} from '../src/adapters/postgres/index.js';
import { createRedisBackend, createRedisIdempotencyStore } from '../src/adapters/redis/index.js';
import { createIdempotency, type IdempotencyStore } from '../src/idempotency/index.js';
import { benchServices } from './bench-services.js';
import { type BenchSuite, defineSuite } from './harness.js';

const CONCURRENCY = 64;
/** Milliseconds per suite, over all rounds: network round trips vary, so measure for longer. */
const TIME = 5_000;
const result = { id: 'order-1', total: 4200, currency: 'EUR', status: 'created' };
let counter = 0;
const nextKey = () => {
  counter += 1;
  return `${randomBytes(4).toString('hex')}-${counter}`;
};

export default async function suites(): Promise<BenchSuite[]> {
  const { redisUrl, postgresUrl, stop } = await benchServices();
  const out: BenchSuite[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  if (redisUrl) out.push(...(await redisSuites(redisUrl, closers)));
  else console.log('\n(skipped the Redis idempotency benchmarks: no redis-server)');
  if (postgresUrl) out.push(...(await postgresSuites(postgresUrl, closers)));
  else console.log('\n(skipped the PostgreSQL idempotency benchmarks: no PostgreSQL binaries)');
  // The last suite's teardown closes the clients and stops the servers.
  const last = out.at(-1);
  if (last) {
    out[out.length - 1] = {
      ...last,
      teardown: async () => {
        await last.teardown?.();
        await Promise.allSettled(closers.map((close) => close()));
        await stop();
      },
    };
  } else await stop();
  return out;
}

function concurrently(fn: () => Promise<unknown>): () => Promise<unknown> {
  return () => Promise.all(Array.from({ length: CONCURRENCY }, fn));
}

async function redisSuites(
  url: string,
  closers: (() => Promise<unknown>)[],
): Promise<BenchSuite[]> {
  const ioredis = new Redis(url);
  closers.push(() => ioredis.quit());
  const prefix = `bench:${randomBytes(4).toString('hex')}:`;
  const store = createRedisIdempotencyStore({
    backend: createRedisBackend({ client: ioredis, keyPrefix: prefix }),
  });
  await store.migrate();
  const payload = JSON.stringify(result);
  const raw = async () => {
    const key = `${prefix}raw:${nextKey()}`;
    await ioredis.call('SET', key, 'in_progress', 'NX', 'PX', 30_000);
    await ioredis.call('SET', key, payload, 'PX', 86_400_000);
  };
  const flowproof = createIdempotency({ store, operation: 'bench', heartbeat: false });
  const viaFlowproof = () => flowproof.run(nextKey(), { id: 1 }, async () => result);

  // Powertools, as documented: CachePersistenceLayer over a node-redis client.
  const nodeRedis = createClient({ url });
  await nodeRedis.connect();
  closers.push(() => nodeRedis.quit());
  const powertools = (useLocalCache: boolean) =>
    makeIdempotent(async (_event: { id: string }) => result, {
      persistenceStore: new CachePersistenceLayer({ client: nodeRedis as never }),
      config: new IdempotencyConfig({ useLocalCache, maxLocalCacheSize: 1_000 }),
    });
  // Powertools warns on every call outside Lambda ("Could not determine remaining time left").
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).includes('remaining time')) warn(...args);
  };
  closers.push(async () => {
    console.warn = warn;
  });
  const ptRemote = powertools(false);
  const ptLocal = powertools(true);
  const cached = createIdempotency({
    store,
    operation: 'bench-cached',
    heartbeat: false,
    cache: { maxEntries: 1_000 },
  });
  const dupKey = nextKey();
  await ptRemote({ id: dupKey });
  await ptLocal({ id: dupKey });
  await flowproof.run(dupKey, { id: dupKey }, async () => result);
  await cached.run(dupKey, { id: dupKey }, async () => result);

  return [
    defineSuite({
      time: TIME,
      name: 'Redis idempotency store vs SET NX PX + SET (new key, sequential)',
      unit: 'keys',
      baseline: 'raw SET NX PX + SET',
      tasks: [
        { name: 'raw SET NX PX + SET', fn: raw },
        { name: 'flowproof run (claim + complete)', fn: viaFlowproof },
      ],
    }),
    defineSuite({
      time: TIME,
      name: `Redis idempotency store vs SET NX PX + SET (new keys, ${CONCURRENCY} concurrent callers)`,
      unit: 'keys',
      opsPerCall: CONCURRENCY,
      baseline: 'raw SET NX PX + SET',
      tasks: [
        { name: 'raw SET NX PX + SET', fn: concurrently(raw) },
        { name: 'flowproof run (claim + complete)', fn: concurrently(viaFlowproof) },
      ],
    }),
    defineSuite({
      time: TIME,
      name: 'vs Powertools CachePersistenceLayer on the same Redis: new keys, sequential',
      unit: 'keys',
      baseline: 'Powertools makeIdempotent',
      tasks: [
        { name: 'Powertools makeIdempotent', fn: () => ptRemote({ id: nextKey() }) },
        {
          name: 'flowproof run',
          fn: () => flowproof.run(nextKey(), { id: 1 }, async () => result),
        },
      ],
    }),
    defineSuite({
      time: TIME,
      name: 'vs Powertools CachePersistenceLayer on the same Redis: duplicates, sequential',
      unit: 'duplicates',
      baseline: 'Powertools makeIdempotent',
      tasks: [
        { name: 'Powertools makeIdempotent', fn: () => ptRemote({ id: dupKey }) },
        {
          name: 'flowproof run',
          fn: () => flowproof.run(dupKey, { id: dupKey }, async () => result),
        },
      ],
    }),
    defineSuite({
      time: TIME,
      name: 'vs Powertools: duplicates answered from the in-process cache',
      unit: 'duplicates',
      baseline: 'Powertools useLocalCache',
      tasks: [
        { name: 'Powertools useLocalCache', fn: () => ptLocal({ id: dupKey }) },
        {
          name: 'flowproof cache',
          fn: () => cached.run(dupKey, { id: dupKey }, async () => result),
        },
      ],
    }),
  ];
}

async function postgresSuites(
  url: string,
  closers: (() => Promise<unknown>)[],
): Promise<BenchSuite[]> {
  const pool = new pg.Pool({ connectionString: url, max: 16 });
  pool.on('error', () => {}); // idle clients see the server stop at teardown
  closers.push(() => pool.end());
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const backend = createPostgresBackend({ client: pool, schema });
  const store: IdempotencyStore = createPostgresIdempotencyStore({ backend });
  await store.migrate();
  const rawTable = `"${schema}".raw_keys`;
  await pool.query(
    `CREATE TABLE ${rawTable} (key text PRIMARY KEY, status text NOT NULL, result text, expires_at bigint NOT NULL)`,
  );
  const payload = JSON.stringify(result);
  const raw = async () => {
    const key = nextKey();
    await pool.query(
      `INSERT INTO ${rawTable} (key, status, expires_at) VALUES ($1, 'in_progress', $2) ON CONFLICT DO NOTHING`,
      [key, 0],
    );
    await pool.query(`UPDATE ${rawTable} SET status = 'completed', result = $2 WHERE key = $1`, [
      key,
      payload,
    ]);
  };
  const flowproof = createIdempotency({ store, operation: 'bench', heartbeat: false });
  const viaFlowproof = () => flowproof.run(nextKey(), { id: 1 }, async () => result);
  return [
    defineSuite({
      time: TIME,
      name: 'PostgreSQL idempotency store vs INSERT … ON CONFLICT + UPDATE (new key, sequential)',
      unit: 'keys',
      baseline: 'raw INSERT ON CONFLICT + UPDATE',
      tasks: [
        { name: 'raw INSERT ON CONFLICT + UPDATE', fn: raw },
        { name: 'flowproof run (claim + complete)', fn: viaFlowproof },
      ],
    }),
    defineSuite({
      time: TIME,
      name: `PostgreSQL idempotency store vs INSERT … ON CONFLICT + UPDATE (new keys, ${CONCURRENCY} concurrent callers)`,
      unit: 'keys',
      opsPerCall: CONCURRENCY,
      baseline: 'raw INSERT ON CONFLICT + UPDATE',
      tasks: [
        { name: 'raw INSERT ON CONFLICT + UPDATE', fn: concurrently(raw) },
        { name: 'flowproof run (claim + complete)', fn: concurrently(viaFlowproof) },
      ],
    }),
  ];
}
