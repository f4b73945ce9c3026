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
import type { PostgresBackend } from './postgres-backend.js';
import { postgresDialect } from './postgres-dialect.js';

/** Options of {@link createPostgresIdempotencyStore}. */
export interface PostgresIdempotencyStoreOptions {
  /** The backend holding the table `<prefix>idempotency_keys`. */
  readonly backend: PostgresBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** An idempotency store in a PostgreSQL table. */
export interface PostgresIdempotencyStore extends IdempotencyStore<PostgresBackend> {
  /** Always `postgres`. */
  readonly kind: 'postgres';
  /**
   * The store over `backend`, e.g. `backend.withTransactionClient(conn)` to take part in a
   * transaction the application opened.
   *
   * @throws TypeError when `backend` is not a PostgreSQL backend.
   */
  withBackend(backend: PostgresBackend): PostgresIdempotencyStore;
}

/** The server's clock in epoch milliseconds; clock_timestamp(), as now() is frozen per transaction. */
const NOW = 'floor(extract(epoch from clock_timestamp()) * 1000)::bigint';
/** A claim that lost a race with a concurrent insert sees no row in its snapshot: read again. */
const CLAIM_ATTEMPTS = 5;

/** The migrations of the PostgreSQL idempotency store (component `idempotency`). */
export const postgresIdempotencyMigrations: MigrationSet<PostgresBackend> = {
  component: 'idempotency',
  migrations: [
    {
      version: 1,
      name: 'create idempotency keys',
      up: async (backend) => {
        const table = backend.table(TABLE);
        await backend.execute(
          `CREATE TABLE ${table} (
             key text PRIMARY KEY,
             fingerprint text NOT NULL,
             status text NOT NULL CHECK (status IN ('in_progress', 'completed', 'released')),
             token bigint NOT NULL,
             side_effect_started boolean NOT NULL DEFAULT false,
             result text,
             lease_expires_at bigint NOT NULL,
             expires_at bigint NOT NULL,
             reclaimed text
           )`,
        );
        await backend.execute(
          `CREATE INDEX "${backend.tablePrefix}${TABLE}_expires" ON ${table} (expires_at)`,
        );
      },
    },
  ],
};

interface ClaimRow extends IdempotencyRow {
  reclaimed: string | null;
  claimed: boolean;
}

/**
 * Creates an idempotency store over a PostgreSQL backend (a `pg.Pool`, a `pg.Client` or PGlite).
 * Every time is the server's `clock_timestamp()`, read inside the statement; a claim is one
 * `INSERT … ON CONFLICT … RETURNING` statement that also returns an existing record.
 *
 * @throws TypeError when `options.backend` is not a PostgreSQL backend.
 * @example
 * ```ts
 * import pg from 'pg';
 * import { createPostgresBackend, createPostgresIdempotencyStore } from 'flowproof/adapters/postgres';
 *
 * const backend = createPostgresBackend({ client: new pg.Pool({ connectionString }) });
 * const store = createPostgresIdempotencyStore({ backend });
 * await store.migrate();
 * ```
 */
export function createPostgresIdempotencyStore(
  options: PostgresIdempotencyStoreOptions,
): PostgresIdempotencyStore {
  return createSqlIdempotencyStore(postgresIdempotencyDialect, options);
}

const postgresIdempotencyDialect: IdempotencyDialect<
  PostgresBackend,
  ReturnType<typeof statements>
> = {
  sql: postgresDialect,
  migrations: postgresIdempotencyMigrations,
  statements,
  async claim(backend, sql, request) {
    const params = [
      request.key,
      request.fingerprint,
      request.leaseMs,
      request.retentionMs,
      request.reclaimStarted,
    ];
    for (let attempt = 1; ; attempt += 1) {
      const [row] = await backend.query<ClaimRow>(sql.claim, params);
      if (row) {
        const record = toIdempotencyRecord(row);
        if (!row.claimed) return { claimed: false, record };
        return {
          claimed: true,
          record,
          reclaimed: (row.reclaimed ?? undefined) as ReclaimReason | undefined,
        };
      }
      // The conflicting row was committed by a concurrent claim after this statement's snapshot:
      // the ON CONFLICT saw it, the fallback SELECT did not. The next statement sees it.
      if (attempt >= CLAIM_ATTEMPTS) throw claimReturnedNoRow('postgres');
    }
  },
  bind: {
    complete: (key, token, result, retentionMs) => [key, token, result, retentionMs],
    release: (key, token) => [key, token],
    heartbeat: (key, token, leaseMs, sideEffectStarted) => [key, token, leaseMs, sideEffectStarted],
    get: (key) => [key],
    deleteExpired: (limit) => [limit],
  },
};

function statements(table: string) {
  const now = 'excluded.lease_expires_at - $3';
  const reclaimable = `t.expires_at <= ${now} OR (t.fingerprint = excluded.fingerprint AND (t.status = 'released' OR (t.status = 'in_progress' AND t.lease_expires_at <= ${now} AND (NOT t.side_effect_started OR $5::boolean))))`;
  return {
    table,
    // One statement: insert, re-claim (conditional DO UPDATE) or return the record that stands.
    claim: `WITH clock AS (SELECT ${NOW} AS now),
      claimed AS (
        INSERT INTO ${table} AS t (${COLUMNS}, reclaimed)
        SELECT $1, $2, 'in_progress', 1, false, NULL, clock.now + $3, clock.now + $3 + $4, NULL FROM clock
        ON CONFLICT (key) DO UPDATE SET
          fingerprint = excluded.fingerprint, status = 'in_progress', token = t.token + 1,
          side_effect_started = false, result = NULL,
          lease_expires_at = excluded.lease_expires_at, expires_at = excluded.expires_at,
          reclaimed = CASE WHEN t.expires_at <= ${now} THEN 'retention-expired'
                           WHEN t.status = 'released' THEN 'released' ELSE 'lease-expired' END
        WHERE ${reclaimable}
        RETURNING ${COLUMNS.split(', ')
          .map((c) => `t.${c}`)
          .join(', ')}, t.reclaimed
      )
      SELECT claimed.*, true AS claimed, clock.now FROM claimed, clock
      UNION ALL
      SELECT ${COLUMNS.split(', ')
        .map((c) => `t.${c}`)
        .join(', ')}, NULL, false, clock.now
      FROM ${table} t, clock
      WHERE t.key = $1 AND NOT EXISTS (SELECT 1 FROM claimed)`,
    // A claim's retention already counts from the end of its lease, so a call completed within its
    // lease leaves expires_at (the indexed column) as it is: PostgreSQL can then update the row in
    // place (a HOT update, no index write).
    complete: `UPDATE ${table} SET status = 'completed', result = $3,
        expires_at = greatest(expires_at, ${NOW} + $4)
      WHERE key = $1 AND token = $2 AND status = 'in_progress'`,
    release: `UPDATE ${table} SET status = 'released'
      WHERE key = $1 AND token = $2 AND status = 'in_progress'`,
    heartbeat: `UPDATE ${table} SET lease_expires_at = ${NOW} + $3,
        expires_at = greatest(expires_at, ${NOW} + $3),
        side_effect_started = side_effect_started OR $4::boolean
      WHERE key = $1 AND token = $2 AND status = 'in_progress'`,
    get: `SELECT ${COLUMNS}, ${NOW} AS now FROM ${table} WHERE key = $1 AND expires_at > ${NOW}`,
    // The outer WHERE is evaluated again on the row it locks: a record re-claimed since the
    // subquery ran (fresh expiry) is skipped, not deleted.
    deleteExpired: `DELETE FROM ${table} WHERE key IN (
        SELECT key FROM ${table}
        WHERE expires_at <= ${NOW} AND NOT (status = 'in_progress' AND lease_expires_at > ${NOW})
        LIMIT $1 FOR UPDATE SKIP LOCKED)
      AND expires_at <= ${NOW} AND NOT (status = 'in_progress' AND lease_expires_at > ${NOW})`,
  };
}
