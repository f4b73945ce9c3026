import { createHash } from 'node:crypto';
import { createMutex, type Mutex, withTimeout } from '../../core/async.js';
import { FlowproofError } from '../../core/errors.js';
import {
  type AppliedMigration,
  assertMigrationSet,
  assertVersionMatches,
  migrationFailed,
  pendingMigrations,
} from '../../core/migrations.js';
import { assertInteger, assertOptionsObject, assertSqlIdentifier } from '../../core/options.js';
import type { MigrationReport, MigrationSet, StorageBackend } from '../../core/storage-backend.js';
import {
  isPGlite,
  isPool,
  type PostgresClient,
  type PostgresPoolConnection,
  type PostgresQueryable,
  type PostgresQueryResult,
} from './postgres-client.js';
import { toPostgresError } from './postgres-errors.js';

/** Options of {@link createPostgresBackend}. */
export interface PostgresBackendOptions {
  /** A `pg.Pool` (recommended), a `pg.Client`, or a PGlite instance. */
  readonly client: PostgresClient;
  /**
   * Schema holding flowproof's tables; created by `migrate()` when missing.
   * @default undefined (the connection's `search_path`, usually `public`)
   */
  readonly schema?: string;
  /**
   * Prefix of every table name.
   * @default 'flowproof_'
   */
  readonly tablePrefix?: string;
  /**
   * Upper bound for one round trip (checkout, statement), in milliseconds. Also set
   * `statement_timeout` on the server so a timed-out statement stops running there too.
   * @default 10000
   */
  readonly timeoutMs?: number;
  /**
   * Close the client in `close()`. Leave it `false` when the application owns the pool.
   * @default false
   */
  readonly ownsClient?: boolean;
  /**
   * Send statements that have parameters as named prepared statements, so PostgreSQL parses and
   * plans each one once per connection instead of on every call (it halves the latency of the
   * idempotency claim). Needs `pg` (PGlite has no named statements) and a session-level
   * connection: turn it off behind PgBouncer in transaction pooling mode.
   * @default true for `pg` clients, false for PGlite
   */
  readonly preparedStatements?: boolean;
}

/** A {@link StorageBackend} over PostgreSQL, and the SQL helpers module stores build on. */
export interface PostgresBackend extends StorageBackend {
  /** Always `postgres`. */
  readonly kind: 'postgres';
  /** The configured schema, if any. */
  readonly schema: string | undefined;
  /** The configured table prefix. */
  readonly tablePrefix: string;
  /** True when this backend runs inside a transaction (its own or the caller's). */
  readonly inTransaction: boolean;
  /** The quoted, schema-qualified name of flowproof table `name`, e.g. `"app"."flowproof_keys"`. */
  table(name: string): string;
  /**
   * Runs one statement and returns its rows.
   * @throws FlowproofError `BACKEND_UNAVAILABLE`, `BACKEND_TIMEOUT`, `BACKEND_MISCONFIGURED`,
   * `SCHEMA_OUTDATED` (a table is missing) or `BACKEND_ERROR`.
   */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs one statement and returns the number of rows it affected. Throws like {@link query}. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
  /**
   * A backend bound to a transaction the application opened itself: pass the client the
   * transaction runs on (a connection checked out of your pool after `BEGIN`, or PGlite's `tx`).
   * Everything done through the returned backend commits or rolls back with your own writes.
   *
   * @example
   * ```ts
   * const conn = await pool.connect();
   * await conn.query('BEGIN');
   * await conn.query('INSERT INTO orders (id) VALUES ($1)', [orderId]);
   * await store.withBackend(backend.withTransactionClient(conn)).complete(...);
   * await conn.query('COMMIT');
   * ```
   */
  withTransactionClient(client: PostgresQueryable): PostgresBackend;
}

interface Config {
  readonly client: PostgresClient;
  readonly schema: string | undefined;
  readonly tablePrefix: string;
  readonly timeoutMs: number;
  readonly ownsClient: boolean;
  readonly preparedStatements: boolean;
}

/**
 * Creates a PostgreSQL backend over a client the application owns. Nothing is created in the
 * database until a module's store calls `migrate()`.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import pg from 'pg';
 * import { createPostgresBackend } from 'flowproof/adapters/postgres';
 *
 * const backend = createPostgresBackend({ client: new pg.Pool({ connectionString }), schema: 'app' });
 * ```
 */
export function createPostgresBackend(options: PostgresBackendOptions): PostgresBackend {
  assertOptionsObject(options, 'options');
  const { client } = options;
  if (typeof (client as PostgresQueryable | undefined)?.query !== 'function') {
    throw new TypeError('options.client must be a pg.Pool, pg.Client or PGlite instance');
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  assertInteger(timeoutMs, 'options.timeoutMs', 1, 3_600_000);
  const config: Config = Object.freeze({
    client,
    schema:
      options.schema === undefined
        ? undefined
        : assertSqlIdentifier(options.schema, 'options.schema'),
    tablePrefix: assertSqlIdentifier(
      options.tablePrefix ?? 'flowproof_',
      'options.tablePrefix',
      true,
    ),
    timeoutMs,
    ownsClient: options.ownsClient ?? false,
    preparedStatements: options.preparedStatements ?? (!isPGlite(client) && hasConnect(client)),
  });
  return new PostgresBackendImpl(config, client, false, {
    closed: false,
    plainClientLock: createMutex(),
  });
}

interface SharedState {
  closed: boolean;
  /** Serialises transactions on a single `pg.Client`, which can only run one at a time. */
  readonly plainClientLock: Mutex;
}

class PostgresBackendImpl implements PostgresBackend {
  readonly kind = 'postgres' as const;
  readonly #config: Config;
  readonly #runner: PostgresQueryable;
  readonly #inTransaction: boolean;
  readonly #shared: SharedState;
  #savepoints = 0;

  constructor(
    config: Config,
    runner: PostgresQueryable,
    inTransaction: boolean,
    shared: SharedState,
  ) {
    this.#config = config;
    this.#runner = runner;
    this.#inTransaction = inTransaction;
    this.#shared = shared;
  }

  get schema() {
    return this.#config.schema;
  }
  get tablePrefix() {
    return this.#config.tablePrefix;
  }
  get inTransaction() {
    return this.#inTransaction;
  }

  table(name: string): string {
    assertSqlIdentifier(name, 'table name');
    const table = `"${this.#config.tablePrefix}${name}"`;
    return this.#config.schema ? `"${this.#config.schema}".${table}` : table;
  }

  async query<R = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<R[]> {
    return (await this.#run(sql, params)).rows as R[];
  }

  async execute(sql: string, params: readonly unknown[] = []): Promise<number> {
    const result = await this.#run(sql, params);
    return result.rowCount ?? result.affectedRows ?? 0;
  }

  withTransactionClient(client: PostgresQueryable): PostgresBackend {
    if (typeof client?.query !== 'function') {
      throw new TypeError('client must be the connection your transaction runs on');
    }
    return new PostgresBackendImpl(this.#config, client, true, this.#shared);
  }

  async now(): Promise<Date> {
    // clock_timestamp(), not now(): now() is frozen at the start of the transaction.
    const [row] = await this.query<{ ms: number }>(
      'SELECT (extract(epoch from clock_timestamp()) * 1000)::float8 AS ms',
    );
    return new Date(Math.floor(Number(row?.ms)));
  }

  async transaction<T>(fn: (backend: this) => Promise<T>): Promise<T> {
    this.#assertOpen();
    if (this.#inTransaction) return this.#savepoint(fn);
    const { client } = this.#config;
    if (isPool(client)) {
      const connection = await this.#checkout(client);
      let failure: unknown;
      try {
        return await this.#runTransaction(connection, fn);
      } catch (error) {
        failure = error;
        throw error;
      } finally {
        // A connection whose statement timed out or broke may be mid-query: destroy it.
        connection.release(isBrokenConnection(failure) ? (failure as Error) : undefined);
      }
    }
    if (isPGlite(client)) {
      try {
        return await client.transaction((tx) => fn(this.#bound(tx)));
      } catch (error) {
        throw error instanceof FlowproofError || !isDriverError(error)
          ? error
          : toPostgresError(error, 'transaction');
      }
    }
    return this.#shared.plainClientLock.run(() => this.#runTransaction(client, fn));
  }

  async migrate(set: MigrationSet<this>): Promise<MigrationReport> {
    assertMigrationSet(set);
    return this.transaction(async (tx) => {
      // One lock per schema: serialises concurrent migrate() calls across processes, including
      // the CREATE SCHEMA / CREATE TABLE IF NOT EXISTS below, which are not race-free on their own.
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
        `flowproof:migrations:${this.#config.schema ?? ''}`,
      ]);
      if (this.#config.schema)
        await tx.execute(`CREATE SCHEMA IF NOT EXISTS "${this.#config.schema}"`);
      await tx.execute(
        `CREATE TABLE IF NOT EXISTS ${tx.table('migrations')} (
           component text NOT NULL,
           version integer NOT NULL,
           name text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),
           PRIMARY KEY (component, version)
         )`,
      );
      const applied = await tx.query<AppliedMigration>(
        `SELECT version, name FROM ${tx.table('migrations')} WHERE component = $1 ORDER BY version`,
        [set.component],
      );
      const pending = pendingMigrations(set, applied);
      const from = set.migrations.length - pending.length;
      for (const migration of pending) {
        try {
          await migration.up(tx);
        } catch (error) {
          throw migrationFailed(set.component, migration.version, error);
        }
        await tx.execute(
          `INSERT INTO ${tx.table('migrations')} (component, version, name) VALUES ($1, $2, $3)`,
          [set.component, migration.version, migration.name],
        );
      }
      return {
        component: set.component,
        from,
        to: set.migrations.length,
        applied: pending.map((m) => m.version),
      };
    });
  }

  async schemaVersion(component: string): Promise<number> {
    try {
      const [row] = await this.query<{ version: number | null }>(
        `SELECT max(version) AS version FROM ${this.table('migrations')} WHERE component = $1`,
        [component],
      );
      return Number(row?.version ?? 0);
    } catch (error) {
      if (error instanceof FlowproofError && error.code === 'SCHEMA_OUTDATED') return 0;
      throw error;
    }
  }

  async assertSchemaVersion(component: string, expected: number): Promise<void> {
    assertVersionMatches(component, await this.schemaVersion(component), expected);
  }

  async close(): Promise<void> {
    if (this.#shared.closed) return;
    this.#shared.closed = true;
    if (!this.#config.ownsClient || this.#inTransaction) return;
    const client = this.#config.client as {
      end?: () => Promise<void>;
      close?: () => Promise<void>;
    };
    if (typeof client.end === 'function') await client.end();
    else if (typeof client.close === 'function') await client.close();
  }

  #bound(runner: PostgresQueryable): this {
    return new PostgresBackendImpl(this.#config, runner, true, this.#shared) as this;
  }

  async #runTransaction<T>(
    runner: PostgresQueryable,
    fn: (backend: this) => Promise<T>,
  ): Promise<T> {
    const bound = this.#bound(runner);
    await bound.execute('BEGIN');
    try {
      const result = await fn(bound);
      await bound.execute('COMMIT');
      return result;
    } catch (error) {
      const rollback = runner.query('ROLLBACK').catch(() => {});
      // After a timeout the connection is still busy with the slow statement: do not wait for it.
      // A pooled connection is destroyed by the caller, which aborts the transaction server-side;
      // a single client runs the queued ROLLBACK before anything sent after it.
      if (!isBrokenConnection(error)) await rollback;
      throw error;
    }
  }

  async #savepoint<T>(fn: (backend: this) => Promise<T>): Promise<T> {
    this.#savepoints += 1;
    const name = `flowproof_sp_${this.#savepoints}`;
    await this.execute(`SAVEPOINT ${name}`);
    try {
      const result = await fn(this);
      await this.execute(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (error) {
      await this.#runner.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => {});
      throw error;
    }
  }

  async #checkout(pool: {
    connect(): Promise<PostgresPoolConnection>;
  }): Promise<PostgresPoolConnection> {
    const pending = pool.connect();
    try {
      return await withTimeout(pending, this.#config.timeoutMs, 'PostgreSQL connection checkout');
    } catch (error) {
      // A connection that arrives after the timeout goes straight back to the pool.
      pending.then((late) => late.release()).catch(() => {});
      throw toPostgresError(error, 'connection checkout');
    }
  }

  async #run(sql: string, params: readonly unknown[]): Promise<PostgresQueryResult> {
    this.#assertOpen();
    try {
      const name =
        this.#config.preparedStatements && params.length > 0 ? statementName(sql) : undefined;
      const pending =
        name === undefined
          ? this.#runner.query(sql, params as unknown[])
          : (this.#runner as unknown as PreparedQueryable).query({
              name,
              text: sql,
              values: params as unknown[],
            });
      return await withTimeout(pending, this.#config.timeoutMs, 'PostgreSQL statement');
    } catch (error) {
      throw toPostgresError(error, 'statement');
    }
  }

  #assertOpen(): void {
    if (this.#shared.closed) {
      throw new FlowproofError('BACKEND_CLOSED', 'This PostgreSQL backend was closed', {
        details: { backend: 'postgres' },
      });
    }
  }
}

/** pg's `query(config)` form, which names (prepares) the statement. */
interface PreparedQueryable {
  query(config: { name: string; text: string; values: unknown[] }): Promise<PostgresQueryResult>;
}

const statementNames = new Map<string, string>();

/** Beyond this many distinct statements, new ones run unprepared (each costs server memory). */
const MAX_PREPARED_STATEMENTS = 1000;

/**
 * A stable name per SQL text: pg prepares it once per connection under that name. `undefined`
 * once the cap is reached, for a text not seen before.
 */
function statementName(sql: string): string | undefined {
  let name = statementNames.get(sql);
  if (name === undefined) {
    if (statementNames.size >= MAX_PREPARED_STATEMENTS) return undefined;
    name = `flowproof_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
    statementNames.set(sql, name);
  }
  return name;
}

function hasConnect(client: PostgresClient): boolean {
  return typeof (client as { connect?: unknown }).connect === 'function';
}

function isBrokenConnection(error: unknown): boolean {
  return (
    error instanceof FlowproofError &&
    (error.code === 'BACKEND_TIMEOUT' || error.code === 'BACKEND_UNAVAILABLE')
  );
}

function isDriverError(error: unknown): boolean {
  return typeof (error as { code?: unknown } | null)?.code === 'string';
}
