import { randomBytes } from 'node:crypto';
import type { MigrationSet } from '../../core/storage-backend.js';
import type { IdempotencyStore, ReclaimReason } from '../../idempotency/idempotency-store.js';
import {
  IDEMPOTENCY_COLUMNS as COLUMNS,
  claimReturnedNoRow,
  createSqlIdempotencyStore,
  type IdempotencyDialect,
  type IdempotencyRow,
  IDEMPOTENCY_TABLE as TABLE,
  toIdempotencyRecord,
} from '../sql/sql-idempotency-store.js';
import type { SqliteBackend } from './sqlite-backend.js';
import { sqliteDialect } from './sqlite-dialect.js';

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
   *
   * @throws TypeError when `backend` is not a SQLite backend.
   */
  withBackend(backend: SqliteBackend): SqliteIdempotencyStore;
}

/** SQLite's clock in epoch milliseconds; 'now' is stable within one statement. */
const NOW = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)";

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

interface ClaimRow extends IdempotencyRow {
  reclaimed: string | null;
  owner: string;
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
  return createSqlIdempotencyStore(sqliteIdempotencyDialect, options);
}

// Claim owners: unique per claim, so RETURNING can tell a claim from an untouched record.
const OWNER_PREFIX = randomBytes(6).toString('hex');
let ownerCounter = 0;

const sqliteIdempotencyDialect: IdempotencyDialect<SqliteBackend, ReturnType<typeof statements>> = {
  sql: sqliteDialect,
  migrations: sqliteIdempotencyMigrations,
  statements,
  async claim(backend, sql, request) {
    ownerCounter += 1;
    const owner = `${OWNER_PREFIX}:${ownerCounter}`;
    const [row] = await backend.query<ClaimRow>(sql.claim, [
      {
        key: request.key,
        fingerprint: request.fingerprint,
        lease: request.leaseMs,
        keep: Math.max(request.leaseMs, request.retentionMs),
        reclaimStarted: request.reclaimStarted ? 1 : 0,
        owner,
      },
    ]);
    if (!row) throw claimReturnedNoRow('sqlite');
    const record = toIdempotencyRecord(row);
    if (row.owner !== owner) return { claimed: false, record };
    return {
      claimed: true,
      record,
      reclaimed:
        record.token > 1 ? ((row.reclaimed ?? undefined) as ReclaimReason | undefined) : undefined,
    };
  },
  bind: {
    complete: (key, token, result, retentionMs) => [{ key, token, result, retention: retentionMs }],
    release: (key, token) => [{ key, token }],
    heartbeat: (key, token, leaseMs, sideEffectStarted) => [
      { key, token, lease: leaseMs, started: sideEffectStarted ? 1 : 0 },
    ],
    get: (key) => [{ key }],
    deleteExpired: (limit) => [{ limit }],
  },
};

function statements(table: string) {
  // In DO UPDATE, bare column names are the existing row, `excluded.*` the proposed one, whose
  // lease_expires_at - @lease is the statement's clock reading. Every column is rewritten with a
  // CASE so that the statement always returns the row (claimed or not) in one step.
  const now = 'excluded.lease_expires_at - @lease';
  const reclaimable = `(expires_at <= ${now} OR (fingerprint = excluded.fingerprint AND (status = 'released' OR (status = 'in_progress' AND lease_expires_at <= ${now} AND (side_effect_started = 0 OR @reclaimStarted = 1)))))`;
  const pick = (column: string) =>
    `${column} = CASE WHEN ${reclaimable} THEN excluded.${column} ELSE ${column} END`;
  return {
    table,
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
