import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import {
  concurrentSavepointsError,
  createMutex,
  type Mutex,
  reentrantUseError,
  withTimeout,
} from '../../core/async.js';
import { FlowproofError } from '../../core/errors.js';
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
  assertOptionsObject,
  assertSqlIdentifier,
} from '../../core/options.js';
import { processSingleton } from '../../core/process-singleton.js';
import type { MigrationReport, MigrationSet, StorageBackend } from '../../core/storage-backend.js';
import {
  isPGlite,
  isPool,
  type PGliteLike,
  type PostgresClient,
  type PostgresPoolConnection,
  type PostgresPoolLike,
  type PostgresQueryable,
  type PostgresQueryResult,
} from './postgres-client.js';
import { toPostgresError } from './postgres-errors.js';

/** Options of {@link createPostgresBackend}. */
export interface PostgresBackendOptions {
  /**
   * A `pg.Pool` (recommended), a `pg.Client`, or a PGlite instance. On a single connection
   * (a `pg.Client`, or a transaction's) statements are sent one at a time, in call order.
   */
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
   * Upper bound for one round trip (checkout, statement, and the wait for its turn on a single
   * connection), in milliseconds. A statement that timed out while running is cancelled on the
   * server (`pg_cancel_backend` from a short-lived connection of its own); one that timed out
   * before its turn is never sent. A pooled connection whose statement timed out is destroyed,
   * not reused; on a single `pg.Client` a transaction that timed out is followed by a `ROLLBACK`
   * queued behind the slow statement. The cancel is best effort: also set `statement_timeout` on
   * the server as the backstop.
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
   *
   * When the server forgets them behind pg's back (`DISCARD ALL`, `DEALLOCATE`, a pooler's
   * session reset), the next named statement fails with SQLSTATE 26000 before it runs. Outside
   * a transaction it is then re-run unnamed, and that connection is not used with named
   * statements again (a pooled one is destroyed when released). Inside a transaction the error
   * has aborted the transaction, so it cannot be retried: it fails with `BACKEND_ERROR`
   * (`details.sqlstate` `'26000'`) and the transaction is rolled back; retry the transaction.
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
   * Runs `fn` in a transaction (`BEGIN` … `COMMIT` on a connection checked out of the pool, or on
   * the single client): everything `fn` does through the backend it is given commits together,
   * or rolls back when `fn` throws. The backend passed to `fn` is valid until `fn` settles.
   *
   * Nested calls (on the transaction's backend) are savepoints, one at a time: await each before
   * starting the next. Code inside the transaction must use the backend it was given (or a store
   * bound to it with `withBackend`): `transaction()` on this backend itself from there is refused,
   * since on a pool it would run on another connection, outside this transaction.
   *
   * @throws TypeError when `fn` is not a function.
   * @throws FlowproofError `TRANSACTION_UNSUPPORTED` with `details.reason`
   * `'concurrent-savepoints'` (a nested transaction started while a sibling still runs) or
   * `'reentrant'` (called on this backend from code inside one of its transactions);
   * `BACKEND_CLOSED`, `BACKEND_TIMEOUT`, `BACKEND_UNAVAILABLE` or `BACKEND_ERROR`.
   * @example
   * ```ts
   * await backend.transaction(async (tx) => {
   *   await tx.execute('INSERT INTO orders (id) VALUES ($1)', [orderId]);
   *   await tx.execute('INSERT INTO order_lines (order_id, sku) VALUES ($1, $2)', [orderId, sku]);
   * });
   * ```
   */
  transaction<T>(fn: (backend: this) => Promise<T>): Promise<T>;
  /**
   * A backend bound to a transaction the application opened itself: pass the client the
   * transaction runs on (a connection checked out of your pool after `BEGIN`, or PGlite's `tx`).
   * Everything done through the returned backend commits or rolls back with your own writes.
   * Closing the returned backend retires only it (later calls fail with `BACKEND_CLOSED`); the
   * connection and the backend it came from are left alone.
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
  /** A `pg.Pool`, PGlite, or a single connection (`pg.Client`). */
  readonly kind: 'pool' | 'pglite' | 'client';
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
  assertKnownKeys(
    options,
    ['client', 'schema', 'tablePrefix', 'timeoutMs', 'ownsClient', 'preparedStatements'],
    'options',
  );
  const { client } = options;
  if (typeof (client as PostgresQueryable | undefined)?.query !== 'function') {
    throw new TypeError('options.client must be a pg.Pool, pg.Client or PGlite instance');
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  assertInteger(timeoutMs, 'options.timeoutMs', 1, 3_600_000);
  const config: Config = Object.freeze({
    client,
    kind: isPool(client) ? 'pool' : isPGlite(client) ? 'pglite' : 'client',
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
  if (config.kind === 'pool') guardNewConnections(client);
  return new PostgresBackendImpl(config, client, undefined, {
    closed: false,
    plainClientLock: createMutex(),
  });
}

const guardedPools = new WeakSet<object>();

/**
 * A pool's new connections listen for 'error' from the moment they connect. pg-pool hands a new
 * connection out in the tick its ready message is read; when the server's FATAL arrives in the
 * same read (pg_terminate_backend, a shutdown, right after connecting), the 'error' event comes
 * before the caller can listen and would crash the process. Its query fails and reports it.
 */
function guardNewConnections(pool: object): void {
  if (guardedPools.has(pool)) return;
  guardedPools.add(pool);
  (pool as { on?(event: 'connect', listener: (connection: ErrorEmitter) => void): unknown }).on?.(
    'connect',
    (connection) => connection.on?.('error', ignoreError),
  );
}

interface SharedState {
  closed: boolean;
  /**
   * Serialises transactions on a single `pg.Client`, which can only run one at a time, and holds
   * the root backend's statements back while one is open, so they never run inside it.
   */
  readonly plainClientLock: Mutex;
}

/** What the handles of one transaction (its savepoints' included) share. */
interface TransactionState {
  /** Savepoints opened so far, for unique names. */
  savepoints: number;
  /** A statement of this transaction timed out or lost its connection: it may still be running. */
  broken: FlowproofError | undefined;
}

class PostgresBackendImpl implements PostgresBackend {
  readonly kind = 'postgres' as const;
  readonly #config: Config;
  readonly #runner: PostgresQueryable;
  /** The transaction this handle is bound to; undefined for the backend itself. */
  readonly #tx: TransactionState | undefined;
  /** The handle whose savepoint this handle is bound to. */
  readonly #parent: PostgresBackendImpl | undefined;
  readonly #shared: SharedState;
  /** A savepoint (nested transaction) started on this handle is running. */
  #nested = false;
  /** Why this handle refuses work though its owner is open: closed, or its transaction ended. */
  #retired: string | undefined;

  constructor(
    config: Config,
    runner: PostgresQueryable,
    tx: TransactionState | undefined,
    shared: SharedState,
    parent?: PostgresBackendImpl,
  ) {
    this.#config = config;
    this.#runner = runner;
    this.#tx = tx;
    this.#shared = shared;
    this.#parent = parent;
  }

  get schema() {
    return this.#config.schema;
  }
  get tablePrefix() {
    return this.#config.tablePrefix;
  }
  get inTransaction() {
    return this.#tx !== undefined;
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
    return this.#bound(client);
  }

  async now(): Promise<Date> {
    // clock_timestamp(), not now(): now() is frozen at the start of the transaction.
    const [row] = await this.query<{ ms: number }>(
      'SELECT (extract(epoch from clock_timestamp()) * 1000)::float8 AS ms',
    );
    return new Date(Math.floor(Number(row?.ms)));
  }

  async transaction<T>(fn: (backend: this) => Promise<T>): Promise<T> {
    assertFunction(fn, 'fn');
    this.#assertOpen();
    if (this.#tx) return this.#savepoint(fn);
    const { client, kind } = this.#config;
    // Code inside one of this backend's transactions asking the backend itself for another: a
    // module store not bound to the transaction. It would run outside the transaction (a pool's
    // other connection) or wait for it forever (PGlite, a single client): refused.
    if (insideOwnTransaction(this.#shared)) {
      throw kind === 'pool'
        ? nestedOnPoolError()
        : reentrantUseError('postgres', 'PostgreSQL backend');
    }
    if (kind === 'pool') {
      const connection = await this.#checkout(client as PostgresPoolLike);
      const bound = this.#bound(connection);
      try {
        return await inTransactionScope(this.#shared, () => this.#runTransaction(bound, fn));
      } finally {
        // A connection whose statement timed out or broke may be mid-query: destroy it.
        releaseConnection(connection, bound.#tx?.broken);
      }
    }
    if (kind === 'pglite') {
      let bound: PostgresBackendImpl | undefined;
      try {
        return await inTransactionScope(this.#shared, () =>
          (client as PGliteLike).transaction(async (tx) => {
            bound = this.#bound(tx);
            const result = await fn(bound as this);
            // Closed while the callback ran: throwing here makes PGlite roll back, not commit.
            this.#assertOpen();
            return result;
          }),
        );
      } catch (error) {
        throw error instanceof FlowproofError || !isDriverError(error)
          ? error
          : toPostgresError(error, 'transaction');
      } finally {
        if (bound) bound.#retired = TRANSACTION_ENDED;
      }
    }
    // A single pg.Client runs one transaction at a time; code inside one that asks for another
    // on the root backend would wait for itself.
    const lock = this.#shared.plainClientLock;
    if (lock.heldHere()) throw reentrantUseError('postgres', 'PostgreSQL backend');
    return lock.runHolding(async () => {
      this.#assertOpen();
      return this.#runTransaction(this.#bound(client), fn);
    });
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
    if (this.#tx) {
      // A transaction-bound or joined backend owns nothing: closing it retires this handle only.
      // The transaction goes on, and the backend it came from still releases its client.
      this.#retired ??= 'This transaction-bound PostgreSQL backend was closed';
      return;
    }
    if (this.#shared.closed) return;
    this.#shared.closed = true;
    if (!this.#config.ownsClient) return;
    const client = this.#config.client as {
      end?: () => Promise<void>;
      close?: () => Promise<void>;
    };
    if (typeof client.end === 'function') await client.end();
    else if (typeof client.close === 'function') await client.close();
  }

  #bound(runner: PostgresQueryable): PostgresBackendImpl {
    const tx: TransactionState = { savepoints: 0, broken: undefined };
    return new PostgresBackendImpl(this.#config, runner, tx, this.#shared);
  }

  /** BEGIN … COMMIT around `fn` on `bound`'s connection; `bound` is retired when it ends. */
  async #runTransaction<T>(
    bound: PostgresBackendImpl,
    fn: (backend: this) => Promise<T>,
  ): Promise<T> {
    try {
      await bound.#control('BEGIN');
      const result = await fn(bound as this);
      await bound.#control('COMMIT');
      return result;
    } catch (error) {
      // Sent before the caller can send anything else on this connection, and pg runs a
      // connection's queries in order: even a BEGIN or COMMIT that timed out here and reaches the
      // server later is followed by this ROLLBACK, so a single pg.Client never stays inside a
      // transaction that later statements would silently join.
      const rollback = bound.#sendControl('ROLLBACK');
      // After a timeout the connection is still busy with the slow statement (being cancelled):
      // do not wait for it. A pooled connection is then destroyed by the caller, which aborts the
      // transaction server-side; a single client runs the ROLLBACK before anything sent after it.
      if (bound.#tx?.broken === undefined) await bound.#settle(rollback);
      throw error;
    } finally {
      bound.#retired = TRANSACTION_ENDED;
    }
  }

  /**
   * A savepoint around `fn`, which gets a handle of its own. Savepoints of one transaction nest
   * or follow each other: PostgreSQL would release (or roll back) a sibling started beside a
   * running one with it, and the transaction would abort. Refused up front instead, before
   * anything is sent, as on every backend.
   */
  async #savepoint<T>(fn: (backend: this) => Promise<T>): Promise<T> {
    if (this.#nested) throw concurrentSavepointsError('postgres');
    const tx = this.#tx as TransactionState;
    this.#nested = true;
    tx.savepoints += 1;
    const name = `flowproof_sp_${tx.savepoints}`;
    const child = new PostgresBackendImpl(this.#config, this.#runner, tx, this.#shared, this);
    try {
      await this.#control(`SAVEPOINT ${name}`);
      try {
        const result = await fn(child as this);
        await this.#control(`RELEASE SAVEPOINT ${name}`);
        return result;
      } catch (error) {
        const rollback = this.#sendControl(`ROLLBACK TO SAVEPOINT ${name}`);
        if (tx.broken === undefined) await this.#settle(rollback);
        throw error;
      }
    } finally {
      child.#retired = SAVEPOINT_ENDED;
      this.#nested = false;
    }
  }

  /** Waits for a ROLLBACK within `timeoutMs`; past it, the connection counts as broken. */
  async #settle(rollback: Promise<unknown>): Promise<void> {
    try {
      await withTimeout(rollback, this.#config.timeoutMs, 'PostgreSQL ROLLBACK');
    } catch (error) {
      if (this.#tx) this.#tx.broken = error as FlowproofError;
    }
  }

  /**
   * Sends a ROLLBACK (to a savepoint) in this connection's turn, without a deadline and never
   * failing: sent before the caller can send anything else, it runs before whatever follows.
   */
  #sendControl(sql: string): Promise<unknown> {
    return this.#queued(this.#runner, () => this.#runner.query(sql)).result.catch(() => {});
  }

  /**
   * A transaction-control statement on this handle's connection. It runs even when this handle
   * was closed (the transaction is not its to abandon), but not once the owner was closed.
   */
  async #control(sql: string): Promise<void> {
    if (this.#shared.closed) throw closedError('This PostgreSQL backend was closed');
    await this.#runInTransaction(sql, []);
  }

  async #checkout(pool: PostgresPoolLike): Promise<PostgresPoolConnection> {
    const pending = pool.connect();
    let connection: PostgresPoolConnection;
    try {
      connection = await withTimeout(
        pending,
        this.#config.timeoutMs,
        'PostgreSQL connection checkout',
      );
    } catch (error) {
      // A connection that arrives after the timeout goes straight back to the pool.
      pending.then((late) => late.release()).catch(() => {});
      throw toPostgresError(error, 'connection checkout');
    }
    // pg emits a checked-out connection's socket errors as 'error' events, which crash the
    // process when nobody listens; its pending and next queries fail and report them instead.
    (connection as ErrorEmitter).on?.('error', ignoreError);
    return connection;
  }

  #run(sql: string, params: readonly unknown[]): Promise<PostgresQueryResult> {
    try {
      this.#assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#tx) return this.#runInTransaction(sql, params);
    const { client, kind } = this.#config;
    if (kind === 'pool') return this.#runPooled(client as PostgresPoolLike, sql, params);
    // PGlite runs one transaction at a time and queues everything else behind it: a statement
    // on the backend itself from inside its transaction would wait for itself.
    if (kind === 'pglite' && insideOwnTransaction(this.#shared)) {
      return Promise.reject(reentrantUseError('postgres', 'PostgreSQL backend'));
    }
    if (kind === 'client') {
      // A single pg.Client inside a transaction would run this statement in it: wait for the
      // transaction to end (and its COMMIT or ROLLBACK to be sent) instead.
      const lock = this.#shared.plainClientLock;
      if (lock.locked) {
        if (lock.heldHere())
          return Promise.reject(reentrantUseError('postgres', 'PostgreSQL backend'));
        return lock.run(() => {
          this.#assertOpen();
          return this.#runOn(client, sql, params, true);
        });
      }
    }
    return this.#runOn(client, sql, params, true);
  }

  async #runInTransaction(sql: string, params: readonly unknown[]): Promise<PostgresQueryResult> {
    try {
      return await this.#runOn(this.#runner, sql, params, false);
    } catch (error) {
      if (isBrokenConnection(error) && this.#tx) this.#tx.broken = error as FlowproofError;
      throw error;
    }
  }

  /**
   * One statement on a connection checked out for it. One deadline covers the checkout and the
   * statement, as `pool.query` did; a connection whose statement timed out or broke is destroyed,
   * a late checkout goes straight back to the pool.
   */
  #runPooled(
    pool: PostgresPoolLike,
    sql: string,
    params: readonly unknown[],
  ): Promise<PostgresQueryResult> {
    const { timeoutMs } = this.#config;
    return new Promise((resolve, reject) => {
      let connection: PostgresPoolConnection | undefined;
      let settled = false;
      const fail = (error: unknown) => {
        settled = true;
        clearTimeout(timer);
        const mapped = toPostgresError(error, connection ? 'statement' : 'connection checkout');
        if (connection)
          releaseConnection(connection, isBrokenConnection(mapped) ? mapped : undefined);
        reject(mapped);
      };
      const timer = setTimeout(() => {
        const running = connection;
        fail(
          new FlowproofError(
            'BACKEND_TIMEOUT',
            `PostgreSQL statement did not finish within ${timeoutMs} ms`,
            { details: { backend: 'postgres', timeoutMs } },
          ),
        );
        // Destroyed above, but the server goes on running the statement: cancel it there.
        if (running) void this.#cancel(running);
      }, timeoutMs);
      timer.unref();
      pool.connect().then(
        (checkedOut) => {
          if (settled) return checkedOut.release();
          connection = checkedOut;
          // pg emits a checked-out connection's socket errors as 'error' events, which crash the
          // process when nobody listens; its pending query fails and reports them instead.
          (checkedOut as ErrorEmitter).on?.('error', ignoreError);
          let pending: Promise<PostgresQueryResult>;
          try {
            pending = this.#send(checkedOut, sql, params, true);
          } catch (error) {
            return fail(error);
          }
          pending.then(
            (result) => {
              if (settled) return;
              settled = true;
              clearTimeout(timer);
              releaseConnection(checkedOut, undefined);
              resolve(result);
            },
            (error: unknown) => {
              if (!settled) fail(error);
            },
          );
        },
        (error: unknown) => {
          if (!settled) fail(error);
        },
      );
    });
  }

  /**
   * One statement on `runner`, in its turn on that connection, bounded by `timeoutMs` (waiting
   * for the turn included), its failure typed. A statement that timed out before its turn is
   * never sent; one that timed out while running is cancelled on the server, and the
   * connection's next statement waits for that.
   */
  async #runOn(
    runner: PostgresQueryable,
    sql: string,
    params: readonly unknown[],
    retryable: boolean,
  ): Promise<PostgresQueryResult> {
    let turn: Turn<PostgresQueryResult> | undefined;
    try {
      turn = this.#queued(runner, () => this.#send(runner, sql, params, retryable));
      return await withTimeout(turn.result, this.#config.timeoutMs, 'PostgreSQL statement');
    } catch (error) {
      if (turn && error instanceof FlowproofError && error.code === 'BACKEND_TIMEOUT') {
        if (turn.started) turn.holdNextUntil(this.#cancel(runner));
        else turn.abandon();
      }
      throw toPostgresError(error, 'statement');
    }
  }

  /**
   * `send` in `runner`'s turn. A single connection runs one statement at a time, and pg warns
   * (pg 9 will refuse) when a client is handed a query while one runs: each waits for the one
   * before to settle. PGlite queues by itself, and a pool spreads statements over connections.
   */
  #queued<T>(runner: PostgresQueryable, send: () => Promise<T>): Turn<T> {
    if (this.#config.kind === 'pglite' || (runner === this.#config.client && isPool(runner))) {
      return { result: send(), started: true, abandon() {}, holdNextUntil() {} };
    }
    return takeTurn(runner, send);
  }

  /**
   * Cancels the statement running on `connection` on the server (a timed-out statement otherwise
   * runs on, holding its locks), with `pg_cancel_backend` from a connection of its own. Best
   * effort, never throwing: the server's `statement_timeout` is the backstop.
   */
  async #cancel(connection: PostgresQueryable): Promise<void> {
    const pid = (connection as { processID?: unknown }).processID;
    if (typeof pid !== 'number') return;
    const sibling = openSibling(connection);
    const { client, kind, timeoutMs } = this.#config;
    try {
      if (sibling) {
        const cancelled = sibling
          .connect()
          .then(() => sibling.query('SELECT pg_cancel_backend($1)', [pid]));
        await withTimeout(cancelled, timeoutMs, 'PostgreSQL cancel').finally(() =>
          sibling.end().catch(() => {}),
        );
      } else if (kind === 'pool') {
        await withTimeout(
          client.query('SELECT pg_cancel_backend($1)', [pid]),
          timeoutMs,
          'PostgreSQL cancel',
        );
      }
    } catch {
      // Not cancelled: the statement ends on its own, or at the server's statement_timeout.
    }
  }

  /**
   * Sends one statement on `runner`, named (prepared) when configured. A named statement the
   * server no longer knows (26000: DISCARD ALL, DEALLOCATE, a pooler's reset) while pg believes
   * it prepared failed before it ran: it is re-sent unnamed when `retryable`; inside a
   * transaction, which that error aborted, it is reported instead. Either way that connection's
   * statements are not named again.
   */
  #send(
    runner: PostgresQueryable,
    sql: string,
    params: readonly unknown[],
    retryable: boolean,
  ): Promise<PostgresQueryResult> {
    if (
      !this.#config.preparedStatements ||
      params.length === 0 ||
      discardedStatements.has(runner)
    ) {
      return runner.query(sql, params as unknown[]);
    }
    const name = statementName(sql);
    if (name === undefined) return runner.query(sql, params as unknown[]);
    return (runner as unknown as PreparedQueryable)
      .query({ name, text: sql, values: params as unknown[] })
      .catch((error: unknown) => {
        if ((error as { code?: unknown } | null)?.code !== '26000') throw error;
        discardedStatements.add(runner);
        if (retryable) return runner.query(sql, params as unknown[]);
        throw discardedStatementError(error);
      });
  }

  #assertOpen(): void {
    if (this.#shared.closed) throw closedError('This PostgreSQL backend was closed');
    for (let handle: PostgresBackendImpl | undefined = this; handle; handle = handle.#parent) {
      if (handle.#retired !== undefined) throw closedError(handle.#retired);
    }
  }
}

const TRANSACTION_ENDED =
  'This PostgreSQL backend is bound to a transaction that has ended; ' +
  'use the backend the running transaction passes to its callback';
const SAVEPOINT_ENDED =
  'This PostgreSQL backend is bound to a nested transaction that has ended; ' +
  'use the backend the running transaction passes to its callback';

/** A transaction a backend opened, as the code running inside it sees it. */
interface OpenTransaction {
  /** The backend (and the handles made from it) that opened it. */
  readonly shared: SharedState;
  /** Leftover work of an ended transaction must not be taken for code inside it. */
  ended: boolean;
}

/**
 * Which transaction opened by a pooled or PGlite backend the running code descends from (a
 * single client tells by its lock). Enabled only while some such transaction runs: an enabled
 * AsyncLocalStorage costs every promise of the process a little work.
 */
const transactionScope = new AsyncLocalStorage<OpenTransaction>();
let openTransactions = 0;

/** Runs `fn` marked as inside a transaction of the backend sharing `shared`. */
async function inTransactionScope<T>(shared: SharedState, fn: () => Promise<T>): Promise<T> {
  const open: OpenTransaction = { shared, ended: false };
  openTransactions += 1;
  try {
    return await transactionScope.run(open, fn);
  } finally {
    open.ended = true;
    openTransactions -= 1;
    if (openTransactions === 0) transactionScope.disable();
  }
}

/** True when the calling code runs inside a transaction the backend sharing `shared` opened. */
function insideOwnTransaction(shared: SharedState): boolean {
  const open = transactionScope.getStore();
  return open !== undefined && open.shared === shared && !open.ended;
}

/** One statement's place in its connection's queue. */
interface Turn<T> {
  /** Settles with the statement. */
  readonly result: Promise<T>;
  /** The statement was handed to the driver. */
  readonly started: boolean;
  /** The caller gave up before the statement's turn: it is never sent. */
  abandon(): void;
  /** The connection's next statement waits for `until` too (a cancel in flight). */
  holdNextUntil(until: Promise<unknown>): void;
}

/** Per connection: settles when its last queued statement (and any cancel of it) has. */
const connectionTails = new WeakMap<object, Promise<unknown>>();

/** Queues `send` behind everything queued on `connection` before it. */
function takeTurn<T>(connection: object, send: () => Promise<T>): Turn<T> {
  let started = false;
  let abandoned = false;
  let hold: Promise<unknown> | undefined;
  const previous = connectionTails.get(connection);
  const start = () => {
    if (abandoned) return Promise.reject(new Error('abandoned before its turn'));
    started = true;
    return send();
  };
  const result = previous ? previous.then(start) : start();
  connectionTails.set(
    connection,
    result.then(noop, noop).then(() => hold),
  );
  return {
    result,
    get started() {
      return started;
    },
    abandon: () => {
      abandoned = true;
    },
    holdNextUntil: (until) => {
      hold = until;
    },
  };
}

function noop(): void {}

/** The part of a `pg.Client` needed to open another connection like it. */
interface SiblingClient extends PostgresQueryable {
  connect(): Promise<unknown>;
  end(): Promise<unknown>;
}

/**
 * A new, unconnected client with `connection`'s parameters (a `pg.Client`, or a pool's), or
 * undefined for a client that does not expose them.
 */
function openSibling(connection: PostgresQueryable): SiblingClient | undefined {
  const { constructor: Client, connectionParameters } = connection as {
    constructor?: unknown;
    connectionParameters?: unknown;
  };
  if (typeof Client !== 'function' || typeof connectionParameters !== 'object') return undefined;
  try {
    const sibling = new (Client as new (config: unknown) => Partial<SiblingClient>)(
      connectionParameters,
    );
    // Its socket errors (the server restarting, pg_terminate_backend) are 'error' events, which
    // crash the process when nobody listens; its connect or query fails and reports them instead.
    (sibling as ErrorEmitter).on?.('error', ignoreError);
    return typeof sibling.connect === 'function' &&
      typeof sibling.end === 'function' &&
      typeof sibling.query === 'function'
      ? (sibling as SiblingClient)
      : undefined;
  } catch {
    return undefined;
  }
}

function closedError(message: string): FlowproofError {
  return new FlowproofError('BACKEND_CLOSED', message, { details: { backend: 'postgres' } });
}

/**
 * `TRANSACTION_UNSUPPORTED` (`reentrant`) for a transaction started on a pooled backend itself from
 * code inside one of its transactions: it would run on another connection, committing apart from
 * (or blocked by the locks of) the transaction around it.
 */
function nestedOnPoolError(): FlowproofError {
  return new FlowproofError(
    'TRANSACTION_UNSUPPORTED',
    'A transaction was started on this PostgreSQL backend itself from code running inside one of its transactions; it would run on another connection of the pool, outside the transaction around it. Inside a transaction use the backend (or store) it passes to its callback, e.g. runInTransaction(…, { join: store.withBackend(tx) })',
    { details: { backend: 'postgres', reason: 'reentrant' } },
  );
}

function discardedStatementError(error: unknown): FlowproofError {
  const text = (error as { message?: unknown } | null)?.message;
  return new FlowproofError(
    'BACKEND_ERROR',
    `PostgreSQL statement failed: ${String(text)}. The connection's prepared statements were ` +
      'dropped (DISCARD ALL, DEALLOCATE, or a pooler resetting the session); inside a ' +
      'transaction the statement cannot be retried, because the error aborted the transaction: ' +
      'retry the transaction, or set preparedStatements: false',
    { cause: error, details: { backend: 'postgres', sqlstate: '26000' } },
  );
}

/**
 * Connections (`pg` clients) whose named statements the server dropped while pg still believes
 * them prepared: statements on them run unnamed, and a pooled one is destroyed when released.
 */
const discardedStatements = processSingleton(
  'postgres.discarded-statements',
  1,
  () => new WeakSet<object>(),
); // shared by every copy of flowproof: a pool may be shared too

/** The part of a `pg` client's EventEmitter used while it is checked out. */
interface ErrorEmitter {
  on?(event: 'error', listener: (error: Error) => void): unknown;
  removeListener?(event: 'error', listener: (error: Error) => void): unknown;
}

function ignoreError(): void {}

/** Returns a checked-out connection to its pool, destroying it when it cannot be reused. */
function releaseConnection(connection: PostgresPoolConnection, broken: unknown): void {
  (connection as ErrorEmitter).removeListener?.('error', ignoreError);
  if (broken !== undefined) connection.release(broken as Error);
  else if (discardedStatements.has(connection)) connection.release(true);
  else connection.release();
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
