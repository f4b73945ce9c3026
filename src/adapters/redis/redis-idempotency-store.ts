import { assertStoreOptions } from '../../core/options.js';
import type { MigrationReport, MigrationSet } from '../../core/storage-backend.js';
import type {
  ClaimRequest,
  ClaimResult,
  IdempotencyRecord,
  IdempotencyStatus,
  IdempotencyStore,
  ReclaimReason,
} from '../../idempotency/idempotency-store.js';
import type { RedisBackend, RedisScript } from './redis-backend.js';

/** Options of {@link createRedisIdempotencyStore}. */
export interface RedisIdempotencyStoreOptions {
  /** The backend; records are hashes under `<keyPrefix>idempotency:<scoped key>`. */
  readonly backend: RedisBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/**
 * An idempotency store in Redis: one hash per key, every operation one Lua script (one round
 * trip), expiry by Redis itself (`PEXPIRE` at the end of retention).
 */
export interface RedisIdempotencyStore extends IdempotencyStore<never> {
  /** Always `redis`. */
  readonly kind: 'redis';
}

/** The migrations of the Redis idempotency store: nothing to create, the version is recorded. */
export const redisIdempotencyMigrations: MigrationSet<RedisBackend> = {
  component: 'idempotency',
  migrations: [{ version: 1, name: 'create idempotency keys', up: () => {} }],
};

// Every script reads the server's clock with TIME (allowed before writes: Redis ≥ 5 replicates
// script effects, not scripts). Hash fields: f fingerprint, s status, t token, x side effect
// started (0/1), r result, l lease end, e retention end (epoch ms).
const CLOCK = `local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
`;

const CLAIM_LUA = `${CLOCK}
local lease = tonumber(ARGV[2])
local keep = tonumber(ARGV[3])
local cur = redis.call('HMGET', KEYS[1], 'f', 's', 't', 'x', 'r', 'l', 'e')
local reason = false
if cur[2] then
  if tonumber(cur[7]) <= now then
    reason = 'retention-expired'
  elseif cur[1] == ARGV[1] then
    if cur[2] == 'released' then
      reason = 'released'
    elseif cur[2] == 'in_progress' and tonumber(cur[6]) <= now and (cur[4] == '0' or ARGV[4] == '1') then
      reason = 'lease-expired'
    end
  end
  if not reason then
    return {0, cur[1], cur[2], cur[3], cur[4], cur[5], cur[6], cur[7], now}
  end
end
local token = 1
if cur[3] then token = tonumber(cur[3]) + 1 end
redis.call('HSET', KEYS[1], 'f', ARGV[1], 's', 'in_progress', 't', token, 'x', '0', 'l', now + lease, 'e', now + keep)
redis.call('HDEL', KEYS[1], 'r')
redis.call('PEXPIRE', KEYS[1], keep)
return {1, ARGV[1], 'in_progress', token, '0', false, now + lease, now + keep, now, reason}`;

const COMPLETE_LUA = `local cur = redis.call('HMGET', KEYS[1], 't', 's')
if cur[1] ~= ARGV[1] or cur[2] ~= 'in_progress' then return 0 end
${CLOCK}
local keep = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 's', 'completed', 'r', ARGV[2], 'e', now + keep)
redis.call('PEXPIRE', KEYS[1], keep)
return 1`;

const RELEASE_LUA = `local cur = redis.call('HMGET', KEYS[1], 't', 's')
if cur[1] ~= ARGV[1] or cur[2] ~= 'in_progress' then return 0 end
redis.call('HSET', KEYS[1], 's', 'released')
return 1`;

const HEARTBEAT_LUA = `local cur = redis.call('HMGET', KEYS[1], 't', 's', 'e')
if cur[1] ~= ARGV[1] or cur[2] ~= 'in_progress' then return 0 end
${CLOCK}
local lease = tonumber(ARGV[2])
local expires = math.max(tonumber(cur[3]), now + lease)
redis.call('HSET', KEYS[1], 'l', now + lease, 'e', expires)
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'x', '1') end
redis.call('PEXPIRE', KEYS[1], expires - now)
return 1`;

const GET_LUA = `${CLOCK}
local cur = redis.call('HMGET', KEYS[1], 'f', 's', 't', 'x', 'r', 'l', 'e')
if not cur[2] or tonumber(cur[7]) <= now then return false end
return {0, cur[1], cur[2], cur[3], cur[4], cur[5], cur[6], cur[7], now}`;

type Reply = [
  claimed: number,
  fingerprint: string,
  status: IdempotencyStatus,
  token: string | number,
  started: string,
  result: string | null,
  leaseExpiresAt: string | number,
  expiresAt: string | number,
  now: number,
  reclaimed?: string | null,
];

/**
 * Creates an idempotency store over a Redis backend. Times are the Redis server's `TIME`, read
 * inside each script; records expire by themselves at the end of retention, so `deleteExpired`
 * has nothing to do. Redis has no transactions: there is no same-transaction mode.
 *
 * @throws TypeError when `options.backend` is not a Redis backend.
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { createRedisBackend, createRedisIdempotencyStore } from 'flowproof/adapters/redis';
 *
 * const backend = createRedisBackend({ client: new Redis(process.env.REDIS_URL) });
 * const store = createRedisIdempotencyStore({ backend });
 * await store.migrate();
 * ```
 */
export function createRedisIdempotencyStore(
  options: RedisIdempotencyStoreOptions,
): RedisIdempotencyStore {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    'redis',
    'Redis',
    'createRedisBackend',
  );
  return new RedisIdempotencyStoreImpl(backend, ownsBackend);
}

class RedisIdempotencyStoreImpl implements RedisIdempotencyStore {
  readonly kind = 'redis' as const;
  readonly #backend: RedisBackend;
  readonly #ownsBackend: boolean;
  readonly #claim: RedisScript;
  readonly #complete: RedisScript;
  readonly #release: RedisScript;
  readonly #heartbeat: RedisScript;
  readonly #get: RedisScript;

  constructor(backend: RedisBackend, ownsBackend: boolean) {
    this.#backend = backend;
    this.#ownsBackend = ownsBackend;
    this.#claim = backend.script(CLAIM_LUA);
    this.#complete = backend.script(COMPLETE_LUA);
    this.#release = backend.script(RELEASE_LUA);
    this.#heartbeat = backend.script(HEARTBEAT_LUA);
    this.#get = backend.script(GET_LUA);
  }

  migrate(): Promise<MigrationReport> {
    return this.#backend.migrate(redisIdempotencyMigrations);
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    const reply = await this.#claim.run<Reply>(
      [this.#key(request.key)],
      [
        request.fingerprint,
        request.leaseMs,
        Math.max(request.leaseMs, request.retentionMs),
        request.reclaimStarted ? 1 : 0,
      ],
    );
    const record = toRecord(request.key, reply);
    if (Number(reply[0]) !== 1) return { claimed: false, record };
    return {
      claimed: true,
      record,
      reclaimed: (reply[9] ?? undefined) as ReclaimReason | undefined,
    };
  }

  async complete(
    key: string,
    token: number,
    result: string,
    retentionMs: number,
  ): Promise<boolean> {
    return (
      Number(await this.#complete.run([this.#key(key)], [String(token), result, retentionMs])) === 1
    );
  }

  async release(key: string, token: number): Promise<boolean> {
    return Number(await this.#release.run([this.#key(key)], [String(token)])) === 1;
  }

  async heartbeat(
    key: string,
    token: number,
    leaseMs: number,
    sideEffectStarted: boolean,
  ): Promise<boolean> {
    return (
      Number(
        await this.#heartbeat.run(
          [this.#key(key)],
          [String(token), leaseMs, sideEffectStarted ? 1 : 0],
        ),
      ) === 1
    );
  }

  async get(key: string): Promise<IdempotencyRecord | undefined> {
    const reply = await this.#get.run<Reply | null>([this.#key(key)]);
    return reply ? toRecord(key, reply) : undefined;
  }

  async deleteExpired(): Promise<number> {
    // Redis deletes each record itself when its retention ends (PEXPIRE).
    return 0;
  }

  async close(): Promise<void> {
    if (this.#ownsBackend) await this.#backend.close();
  }

  #key(key: string): string {
    return this.#backend.key('idempotency', key);
  }
}

function toRecord(key: string, reply: Reply): IdempotencyRecord {
  return {
    key,
    fingerprint: String(reply[1]),
    status: reply[2],
    token: Number(reply[3]),
    sideEffectStarted: reply[4] === '1',
    result: reply[5] ?? undefined,
    leaseExpiresAt: Number(reply[6]),
    expiresAt: Number(reply[7]),
    now: Number(reply[8]),
  };
}
