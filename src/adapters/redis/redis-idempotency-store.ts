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
import { storeDataCorrupt } from '../store-data-corrupt.js';
import type { RedisBackend, RedisScript } from './redis-backend.js';

/** Options of {@link createRedisIdempotencyStore}. */
export interface RedisIdempotencyStoreOptions {
  /** The backend; records are strings under `<keyPrefix>idempotency:<scoped key>`. */
  readonly backend: RedisBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/**
 * An idempotency store in Redis: one string per key, every operation one Lua script (one round
 * trip), expiry by Redis itself (at the end of retention).
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

// A record is one string, so each script makes one read and at most one write (a hash cost twice
// as much server time: HMGET, HSET, HDEL and PEXPIRE). Layout, numbers in decimal, times in epoch
// ms of the server's clock:
//   <status>|<token>|<side effect started 0/1>|<lease end>|<retention end>|<n>|<fingerprint><result>
// where status is p (in progress), c (completed) or r (released), and n is the fingerprint's
// length, so neither the fingerprint nor the result needs escaping. The key expires with the
// retention (SET … PX). Scripts read the server's clock with TIME (allowed before writes: Redis ≥ 5
// replicates script effects, not scripts).
const CLOCK = `local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
`;
const HEADER = `'^(%a)|(%d+)|(%d)|(%d+)|(%d+)|(%d+)|()'`;
/** Reads the record into s, t, x, l, e, n and `at` (where the fingerprint starts). */
const READ = `local cur = redis.call('GET', KEYS[1])
local s, t, x, l, e, n, at
if cur then s, t, x, l, e, n, at = string.match(cur, ${HEADER}) end
`;
const FINGERPRINT = 'string.sub(cur, at, at + tonumber(n) - 1)';
/** A record not in the layout above is handed back as it is, for the caller to report. */
const CORRUPT = `if cur and not at then return {0, cur, 0} end
`;

const CLAIM_LUA = `${READ}${CORRUPT}${CLOCK}
local lease = tonumber(ARGV[2])
local keep = tonumber(ARGV[3])
local token = 1
local reason = false
if cur then
  if tonumber(e) <= now then
    reason = 'retention-expired'
  elseif ${FINGERPRINT} == ARGV[1] then
    if s == 'r' then
      reason = 'released'
    elseif s == 'p' and tonumber(l) <= now and (x == '0' or ARGV[4] == '1') then
      reason = 'lease-expired'
    end
  end
  if not reason then return {0, cur, now} end
  token = tonumber(t) + 1
end
redis.call('SET', KEYS[1], 'p|' .. token .. '|0|' .. (now + lease) .. '|' .. (now + keep) .. '|' .. #ARGV[1] .. '|' .. ARGV[1], 'PX', keep)
return {1, token, now + lease, now + keep, now, reason}`;

const COMPLETE_LUA = `${READ}
if s ~= 'p' or t ~= ARGV[1] then return 0 end
${CLOCK}
local keep = tonumber(ARGV[3])
redis.call('SET', KEYS[1], 'c|' .. t .. '|' .. x .. '|' .. l .. '|' .. (now + keep) .. '|' .. n .. '|' .. ${FINGERPRINT} .. ARGV[2], 'PX', keep)
return 1`;

const RELEASE_LUA = `${READ}
if s ~= 'p' or t ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], 'r' .. string.sub(cur, 2), 'KEEPTTL')
return 1`;

const HEARTBEAT_LUA = `${READ}
if s ~= 'p' or t ~= ARGV[1] then return 0 end
${CLOCK}
local lease = tonumber(ARGV[2])
local expires = math.max(tonumber(e), now + lease)
if ARGV[3] == '1' then x = '1' end
redis.call('SET', KEYS[1], 'p|' .. t .. '|' .. x .. '|' .. (now + lease) .. '|' .. expires .. '|' .. n .. '|' .. string.sub(cur, at), 'PX', expires - now)
return 1`;

const GET_LUA = `${READ}${CORRUPT}
if not cur then return false end
${CLOCK}
if tonumber(e) <= now then return false end
return {0, cur, now}`;

/** A claim's reply: taken, or the record that stands (as stored) and the server's time. */
type ClaimReply =
  | [
      claimed: 1,
      token: number,
      leaseExpiresAt: number,
      expiresAt: number,
      now: number,
      reclaimed: string | null,
    ]
  | StandingReply;
type StandingReply = [claimed: 0, record: string, now: number];

const RECORD_HEADER = /^([pcr])\|(\d+)\|([01])\|(\d+)\|(\d+)\|(\d+)\|/;
const STATUS: Readonly<Record<string, IdempotencyStatus>> = {
  p: 'in_progress',
  c: 'completed',
  r: 'released',
};

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
    const reply = await this.#claim.run<ClaimReply>(
      [this.#key(request.key)],
      [
        request.fingerprint,
        request.leaseMs,
        Math.max(request.leaseMs, request.retentionMs),
        request.reclaimStarted ? 1 : 0,
      ],
    );
    if (reply[0] !== 1) return { claimed: false, record: toRecord(request.key, reply) };
    const [, token, leaseExpiresAt, expiresAt, now, reclaimed] = reply;
    return {
      claimed: true,
      record: {
        key: request.key,
        fingerprint: request.fingerprint,
        status: 'in_progress',
        token,
        sideEffectStarted: false,
        result: undefined,
        leaseExpiresAt,
        expiresAt,
        now,
      },
      reclaimed: (reclaimed ?? undefined) as ReclaimReason | undefined,
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
    const reply = await this.#get.run<StandingReply | null>([this.#key(key)]);
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

function toRecord(key: string, [, stored, now]: StandingReply): IdempotencyRecord {
  const header = RECORD_HEADER.exec(stored);
  if (!header) {
    throw storeDataCorrupt({
      backend: 'redis',
      component: 'idempotency',
      id: key,
      field: 'record',
    });
  }
  const [head, status, token, started, leaseExpiresAt, expiresAt, length] = header;
  const fingerprintEnd = head.length + Number(length);
  return {
    key,
    fingerprint: stored.slice(head.length, fingerprintEnd),
    status: STATUS[status as string] as IdempotencyStatus,
    token: Number(token),
    sideEffectStarted: started === '1',
    result: status === 'c' ? stored.slice(fingerprintEnd) : undefined,
    leaseExpiresAt: Number(leaseExpiresAt),
    expiresAt: Number(expiresAt),
    now: Number(now),
  };
}
