import { randomBytes } from 'node:crypto';
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
import type { SqliteBackend } from './sqlite-backend.js';

/** Options of {@link createSqliteIdempotencyStore}. */
export interface SqliteIdempotencyStoreOptions {
  /** The backend holding the table `<prefix>idempotency_keys`. */
  readonly backend: SqliteBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** An idempotency store in a SQLite table. */
export interface SqliteIdempotencyStore extends IdempotencyStore<SqliteBackend> {
  /** Always `sqlite`. */
  readonly kind: 'sqlite';
  /**
   * The store over `backend`, e.g. `backend.joinOpenTransaction()` to take part in a transaction
   * the application opened on the same connection.
   */
  withBackend(backend: SqliteBackend): SqliteIdempotencyStore;
}

const TABLE = 'idempotency_keys';
/** SQLite's clock in epoch milliseconds; 'now' is stable within one statement. */
const NOW = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)";
const COLUMNS =
  'key, fingerprint, status, token, side_effect_started, result, lease_expires_at, expires_at';

/** The migrations of the SQLite idempotency store (component `idempotency`). */
export const sqliteIdempotencyMigrations: MigrationSet<SqliteBackend> = {
  component: 'idempotency',
  migrations: [
    {
      version: 1,
      name: 'create idempotency keys',
      up: async (backend) => {
        const table = backend.table(TABLE);
        await backend.execute(
          `CREATE TABLE ${table} (
             key TEXT PRIMARY KEY,
             fingerprint TEXT NOT NULL,
             status TEXT NOT NULL CHECK (status IN ('in_progress', 'completed', 'released')),
             token INTEGER NOT NULL,
             side_effect_started INTEGER NOT NULL DEFAULT 0,
             result TEXT,
             lease_expires_at INTEGER NOT NULL,
             expires_at INTEGER NOT NULL,
             reclaimed TEXT,
             owner TEXT NOT NULL
           ) WITHOUT ROWID`,
        );
        await backend.execute(
          `CREATE INDEX ${backend.table(`${TABLE}_expires`)} ON ${table} (expires_at)`,
        );
      },
    },
  ],
};

interface Row {
  key: string;
  fingerprint: string;
  status: IdempotencyStatus;
  token: number;
  side_effect_started: number;
  result: string | null;
  lease_expires_at: number;
  expires_at: number;
  now: number;
}

/**
 * Creates an idempotency store over a SQLite backend. Times are SQLite's clock, read inside each
 * statement (an injected backend clock is not used); a claim is one `INSERT … ON CONFLICT …
 * RETURNING` statement.
 *
 * @throws TypeError when `options.backend` is not a SQLite backend.
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * import { createSqliteBackend, createSqliteIdempotencyStore } from 'flowproof/adapters/sqlite';
 *
 * const store = createSqliteIdempotencyStore({
 *   backend: createSqliteBackend({ database: new Database('app.db') }),
 * });
 * await store.migrate();
 * ```
 */
export function createSqliteIdempotencyStore(
  options: SqliteIdempotencyStoreOptions,
): SqliteIdempotencyStore {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    'sqlite',
    'SQLite',
    'createSqliteBackend',
  );
  return new SqliteIdempotencyStoreImpl(backend, ownsBackend);
}

// Claim owners: unique per claim, so RETURNING can tell a claim from an untouched record.
const OWNER_PREFIX = randomBytes(6).toString('hex');
let ownerCounter = 0;

class SqliteIdempotencyStoreImpl implements SqliteIdempotencyStore {
  readonly kind = 'sqlite' as const;
  readonly #backend: SqliteBackend;
  readonly #ownsBackend: boolean;
  readonly #sql: ReturnType<typeof statements>;

  constructor(backend: SqliteBackend, ownsBackend: boolean) {
    this.#backend = backend;
    this.#ownsBackend = ownsBackend;
    this.#sql = statements(backend.table(TABLE));
  }

  withBackend(backend: SqliteBackend): SqliteIdempotencyStore {
    return new SqliteIdempotencyStoreImpl(backend, false);
  }

  migrate(): Promise<MigrationReport> {
    return this.#backend.migrate(sqliteIdempotencyMigrations);
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    ownerCounter += 1;
    const owner = `${OWNER_PREFIX}:${ownerCounter}`;
    const [row] = await this.#backend.query<Row & { owner: string; reclaimed: string | null }>(
      this.#sql.claim,
      [
        {
          key: request.key,
          fingerprint: request.fingerprint,
          lease: request.leaseMs,
          keep: Math.max(request.leaseMs, request.retentionMs),
          reclaimStarted: request.reclaimStarted ? 1 : 0,
          owner,
        },
      ],
    );
    if (!row) throw new Error('the claim statement returned no row');
    const record = toRecord(row);
    if (row.owner !== owner) return { claimed: false, record };
    return {
      claimed: true,
      record,
      reclaimed:
        record.token > 1 ? ((row.reclaimed ?? undefined) as ReclaimReason | undefined) : undefined,
    };
  }

  async complete(
    key: string,
    token: number,
    result: string,
    retentionMs: number,
  ): Promise<boolean> {
    return (
      (await this.#backend.execute(this.#sql.complete, [
        { key, token, result, retention: retentionMs },
      ])) > 0
    );
  }

  async release(key: string, token: number): Promise<boolean> {
    return (await this.#backend.execute(this.#sql.release, [{ key, token }])) > 0;
  }

  async heartbeat(
    key: string,
    token: number,
    leaseMs: number,
    sideEffectStarted: boolean,
  ): Promise<boolean> {
    return (
      (await this.#backend.execute(this.#sql.heartbeat, [
        { key, token, lease: leaseMs, started: sideEffectStarted ? 1 : 0 },
      ])) > 0
    );
  }

  async get(key: string): Promise<IdempotencyRecord | undefined> {
    const [row] = await this.#backend.query<Row>(this.#sql.get, [{ key }]);
    return row ? toRecord(row) : undefined;
  }

  deleteExpired(limit: number): Promise<number> {
    return this.#backend.execute(this.#sql.deleteExpired, [{ limit }]);
  }

  transaction<T>(
    fn: (store: IdempotencyStore<SqliteBackend>, tx: SqliteBackend) => Promise<T>,
  ): Promise<T> {
    return this.#backend.transaction((tx) => fn(this.withBackend(tx), tx));
  }

  async close(): Promise<void> {
    if (this.#ownsBackend) await this.#backend.close();
  }
}

function toRecord(row: Row): IdempotencyRecord {
  return {
    key: row.key,
    fingerprint: row.fingerprint,
    status: row.status,
    token: Number(row.token),
    sideEffectStarted: Number(row.side_effect_started) === 1,
    result: row.result ?? undefined,
    leaseExpiresAt: Number(row.lease_expires_at),
    expiresAt: Number(row.expires_at),
    now: Number(row.now),
  };
}

function statements(table: string) {
  // In DO UPDATE, bare column names are the existing row, `excluded.*` the proposed one, whose
  // lease_expires_at - @lease is the statement's clock reading. Every column is rewritten with a
  // CASE so that the statement always returns the row (claimed or not) in one step.
  const now = 'excluded.lease_expires_at - @lease';
  const reclaimable = `(expires_at <= ${now} OR (fingerprint = excluded.fingerprint AND (status = 'released' OR (status = 'in_progress' AND lease_expires_at <= ${now} AND (side_effect_started = 0 OR @reclaimStarted = 1)))))`;
  const pick = (column: string) =>
    `${column} = CASE WHEN ${reclaimable} THEN excluded.${column} ELSE ${column} END`;
  return {
    claim: `INSERT INTO ${table} (${COLUMNS}, reclaimed, owner)
      VALUES (@key, @fingerprint, 'in_progress', 1, 0, NULL, ${NOW} + @lease, ${NOW} + @keep, NULL, @owner)
      ON CONFLICT (key) DO UPDATE SET
        ${pick('fingerprint')}, ${pick('status')}, ${pick('side_effect_started')},
        ${pick('result')}, ${pick('lease_expires_at')}, ${pick('expires_at')}, ${pick('owner')},
        token = CASE WHEN ${reclaimable} THEN token + 1 ELSE token END,
        reclaimed = CASE WHEN ${reclaimable} THEN (CASE WHEN expires_at <= ${now} THEN 'retention-expired' WHEN status = 'released' THEN 'released' ELSE 'lease-expired' END) ELSE reclaimed END
      RETURNING ${COLUMNS}, reclaimed, owner, ${NOW} AS now`,
    complete: `UPDATE ${table} SET status = 'completed', result = @result,
        expires_at = ${NOW} + @retention
      WHERE key = @key AND token = @token AND status = 'in_progress'`,
    release: `UPDATE ${table} SET status = 'released'
      WHERE key = @key AND token = @token AND status = 'in_progress'`,
    heartbeat: `UPDATE ${table} SET lease_expires_at = ${NOW} + @lease,
        expires_at = max(expires_at, ${NOW} + @lease),
        side_effect_started = max(side_effect_started, @started)
      WHERE key = @key AND token = @token AND status = 'in_progress'`,
    get: `SELECT ${COLUMNS}, ${NOW} AS now FROM ${table} WHERE key = @key AND expires_at > ${NOW}`,
    deleteExpired: `DELETE FROM ${table} WHERE key IN (
        SELECT key FROM ${table}
        WHERE expires_at <= ${NOW} AND NOT (status = 'in_progress' AND lease_expires_at > ${NOW})
        LIMIT @limit)`,
  };
}
