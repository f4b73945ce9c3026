import { FlowproofError } from '../../core/errors.js';
import { assertStoreOptions } from '../../core/options.js';
import type { MigrationReport, MigrationSet } from '../../core/storage-backend.js';
import type {
  ClaimRequest,
  ClaimResult,
  IdempotencyRecord,
  IdempotencyStatus,
  IdempotencyStore,
} from '../../idempotency/idempotency-store.js';
import type { SqlBackend, SqlDialect } from './sql-dialect.js';

/** The idempotency store's table (before the backend's prefix and schema). */
export const IDEMPOTENCY_TABLE = 'idempotency_keys';
/** The columns a record is read from, in the order the claim statements return them. */
export const IDEMPOTENCY_COLUMNS =
  'key, fingerprint, status, token, side_effect_started, result, lease_expires_at, expires_at';

/** A record as the statements return it, with the statement's clock reading as `now`. */
export interface IdempotencyRow {
  key: string;
  fingerprint: string;
  status: IdempotencyStatus;
  token: string | number;
  side_effect_started: boolean | number;
  result: string | null;
  lease_expires_at: string | number;
  expires_at: string | number;
  now: string | number;
}

/** The statements every engine writes in its own SQL; a dialect may add its own (the claim). */
export interface IdempotencyStatements {
  readonly table: string;
  readonly complete: string;
  readonly release: string;
  readonly heartbeat: string;
  readonly get: string;
  readonly deleteExpired: string;
}

/**
 * One engine's idempotency store: its SQL, how it binds parameters (positional or named), and its
 * claim, the one operation whose shape differs between engines beyond the SQL text.
 */
export interface IdempotencyDialect<B extends SqlBackend, S extends IdempotencyStatements> {
  readonly sql: SqlDialect<B>;
  readonly migrations: MigrationSet<B>;
  /** Builds the statements for `table`; called once per store instance. */
  statements(table: string): S;
  claim(backend: B, sql: S, request: ClaimRequest): Promise<ClaimResult>;
  /** The parameters of each statement in {@link IdempotencyStatements}, as the engine binds them. */
  readonly bind: {
    complete(key: string, token: number, result: string, retentionMs: number): readonly unknown[];
    release(key: string, token: number): readonly unknown[];
    heartbeat(
      key: string,
      token: number,
      leaseMs: number,
      sideEffectStarted: boolean,
    ): readonly unknown[];
    get(key: string): readonly unknown[];
    deleteExpired(limit: number): readonly unknown[];
  };
}

/**
 * Opens the idempotency store shared by the SQL backends, after checking the factory's
 * `{ backend, ownsBackend }` options against `dialect`.
 *
 * @throws TypeError naming the option when an option is invalid.
 */
export function createSqlIdempotencyStore<B extends SqlBackend, S extends IdempotencyStatements>(
  dialect: IdempotencyDialect<B, S>,
  options: { readonly backend: B; readonly ownsBackend?: boolean },
): SqlIdempotencyStore<B, S> {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    dialect.sql.kind,
    dialect.sql.label,
    dialect.sql.backendFactory,
  );
  return new SqlIdempotencyStore(dialect, backend, ownsBackend);
}

/** The idempotency store over any {@link SqlBackend}; all times are the database's clock. */
export class SqlIdempotencyStore<B extends SqlBackend, S extends IdempotencyStatements>
  implements IdempotencyStore<B>
{
  readonly kind: B['kind'];
  readonly #dialect: IdempotencyDialect<B, S>;
  readonly #backend: B;
  readonly #ownsBackend: boolean;
  readonly #sql: S;

  constructor(dialect: IdempotencyDialect<B, S>, backend: B, ownsBackend: boolean, sql?: S) {
    this.kind = dialect.sql.kind;
    this.#dialect = dialect;
    this.#backend = backend;
    this.#ownsBackend = ownsBackend;
    this.#sql = sql ?? dialect.statements(backend.table(IDEMPOTENCY_TABLE));
  }

  withBackend(backend: B): SqlIdempotencyStore<B, S> {
    if (backend?.kind !== this.kind) {
      throw new TypeError(`backend must be a ${this.#dialect.sql.label} backend`);
    }
    // transaction() passes a backend over the same table on every call: keep the statements.
    const table = backend.table(IDEMPOTENCY_TABLE);
    const sql = table === this.#sql.table ? this.#sql : undefined;
    return new SqlIdempotencyStore(this.#dialect, backend, false, sql);
  }

  migrate(): Promise<MigrationReport> {
    return this.#backend.migrate(this.#dialect.migrations);
  }

  claim(request: ClaimRequest): Promise<ClaimResult> {
    return this.#dialect.claim(this.#backend, this.#sql, request);
  }

  async complete(
    key: string,
    token: number,
    result: string,
    retentionMs: number,
  ): Promise<boolean> {
    const params = this.#dialect.bind.complete(key, token, result, retentionMs);
    return (await this.#backend.execute(this.#sql.complete, params)) > 0;
  }

  async release(key: string, token: number): Promise<boolean> {
    const params = this.#dialect.bind.release(key, token);
    return (await this.#backend.execute(this.#sql.release, params)) > 0;
  }

  async heartbeat(
    key: string,
    token: number,
    leaseMs: number,
    sideEffectStarted: boolean,
  ): Promise<boolean> {
    const params = this.#dialect.bind.heartbeat(key, token, leaseMs, sideEffectStarted);
    return (await this.#backend.execute(this.#sql.heartbeat, params)) > 0;
  }

  async get(key: string): Promise<IdempotencyRecord | undefined> {
    const [row] = await this.#backend.query<IdempotencyRow>(
      this.#sql.get,
      this.#dialect.bind.get(key),
    );
    return row ? toIdempotencyRecord(row) : undefined;
  }

  deleteExpired(limit: number): Promise<number> {
    return this.#backend.execute(this.#sql.deleteExpired, this.#dialect.bind.deleteExpired(limit));
  }

  transaction<T>(fn: (store: IdempotencyStore<B>, tx: B) => Promise<T>): Promise<T> {
    return this.#backend.transaction((tx) => fn(this.withBackend(tx), tx));
  }

  async close(): Promise<void> {
    if (this.#ownsBackend) await this.#backend.close();
  }
}

/** The record a statement returned. */
/**
 * The claim statement answered with no row, which a healthy engine never does (PostgreSQL: not
 * even after retrying the snapshot race). Typed, so callers see a backend failure, not a bare
 * `Error`.
 */
export function claimReturnedNoRow(backend: 'postgres' | 'sqlite'): FlowproofError {
  return new FlowproofError(
    'BACKEND_ERROR',
    `The ${backend === 'postgres' ? 'PostgreSQL' : 'SQLite'} idempotency claim returned no row`,
    { details: { backend, reason: 'claim-returned-no-row' } },
  );
}

export function toIdempotencyRecord(row: IdempotencyRow): IdempotencyRecord {
  return {
    key: row.key,
    fingerprint: row.fingerprint,
    status: row.status,
    token: Number(row.token),
    // A PostgreSQL boolean, or SQLite's 0/1 integer.
    sideEffectStarted: Boolean(row.side_effect_started),
    result: row.result ?? undefined,
    leaseExpiresAt: Number(row.lease_expires_at),
    expiresAt: Number(row.expires_at),
    now: Number(row.now),
  };
}
