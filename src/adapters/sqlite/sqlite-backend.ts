import { resolve } from 'node:path';
import {
  concurrentSavepointsError,
  createMutex,
  type Mutex,
  reentrantUseError,
} from '../../core/async.js';
import type { Clock } from '../../core/clock.js';
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
import type { SqliteDatabaseLike, SqliteStatement } from './sqlite-client.js';
import { assertDatabaseOpen, toSqliteError } from './sqlite-errors.js';

/** Options of {@link createSqliteBackend}. */
export interface SqliteBackendOptions {
  /** A `better-sqlite3` `Database` (or a `node:sqlite` `DatabaseSync`). */
  readonly database: SqliteDatabaseLike;
  /**
   * Prefix of every table name.
   * @default 'flowproof_'
   */
  readonly tablePrefix?: string;
  /**
   * How long a statement waits for another process's write lock before failing with
   * `BACKEND_TIMEOUT`; set as `PRAGMA busy_timeout`.
   * @default 5000
   */
  readonly busyTimeoutMs?: number;
  /**
   * The store clock. SQLite runs on the application's host, so by default this is SQLite's own
   * `now`; inject a clock to simulate time in tests.
   * @default SQLite's clock
   */
  readonly clock?: Clock;
  /**
   * Close the database in `close()`.
   * @default false
   */
  readonly ownsDatabase?: boolean;
}

/** A {@link StorageBackend} over SQLite, and the SQL helpers module stores build on. */
export interface SqliteBackend extends StorageBackend {
  /** Always `sqlite`. */
  readonly kind: 'sqlite';
  /** The configured table prefix. */
  readonly tablePrefix: string;
  /** True when this backend runs inside a transaction (its own or the caller's). */
  readonly inTransaction: boolean;
  /** The quoted name of flowproof table `name`, e.g. `"flowproof_keys"`. */
  table(name: string): string;
  /**
   * Runs one statement and returns its rows. Statements are prepared once and cached.
   * @throws FlowproofError `BACKEND_TIMEOUT` (locked by another process beyond the busy timeout),
   * `SCHEMA_OUTDATED` (a table is missing), `BACKEND_CLOSED` or `BACKEND_ERROR`;
   * `TRANSACTION_UNSUPPORTED` when called outside a transaction from code running inside it (it
   * would wait for itself forever: use the transaction's backend).
   */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs one statement and returns the number of rows it changed. Throws like {@link query}. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
  /**
   * Runs `fn` in a transaction (`BEGIN IMMEDIATE`): everything `fn` does through the backend it is
   * given commits together, or rolls back when `fn` throws. Other work on this connection (and on
   * others to the same file in this process) waits for it. The backend passed to `fn` is valid
   * until `fn` settles; using it later fails with `BACKEND_CLOSED`, and closing it closes only it.
   * When `close()` is called on this backend before `fn` settles, the transaction rolls back and
   * fails with `BACKEND_CLOSED`.
   *
   * Nested calls (on the transaction's backend) are savepoints: one that throws rolls back only
   * what happened since it began. SQLite savepoints form a stack on the one connection, so a
   * transaction runs one nested transaction at a time: await each before starting the next (run
   * them in sequence, not with `Promise.all`).
   *
   * @throws FlowproofError `TRANSACTION_UNSUPPORTED` with `details.reason` `'concurrent-savepoints'`
   * when a nested transaction is started while another nested transaction of the same transaction
   * is still running, or `'reentrant'` when called on this backend rather than the transaction's
   * from code running inside a transaction; `BACKEND_CLOSED` when this backend was closed or its
   * transaction has ended; `BACKEND_TIMEOUT` or `BACKEND_ERROR` from SQLite.
   */
  transaction<T>(fn: (backend: this) => Promise<T>): Promise<T>;
  /**
   * A backend that joins the transaction the application already opened on the same connection
   * (`db.exec('BEGIN')`), so flowproof's writes commit or roll back with the application's. Use it
   * only until that transaction ends: afterwards (where the driver reports `inTransaction`, as
   * better-sqlite3 does) it fails with `BACKEND_CLOSED`. Closing it closes only it.
   *
   * @throws FlowproofError `TRANSACTION_UNSUPPORTED` when no transaction is open on the connection.
   */
  joinOpenTransaction(): SqliteBackend;
}

interface Config {
  readonly database: SqliteDatabaseLike;
  readonly tablePrefix: string;
  readonly clock: Clock | undefined;
  readonly ownsDatabase: boolean;
  readonly statements: Map<string, SqliteStatement>;
  /**
   * One connection runs one transaction: while an async transaction is open, other work on this
   * backend waits for it instead of slipping into it. Shared by every connection to the same file
   * in this process (see {@link lockFor}).
   */
  readonly lock: Mutex;
  readonly state: { closed: boolean; savepoints: number };
}

/**
 * The transaction (or savepoint, or joined application transaction) a backend is bound to. A
 * bound backend is usable while neither its scope nor an enclosing one has ended or been closed.
 */
interface Scope {
  readonly parent: Scope | undefined;
  /** Bound to the application's own transaction (`joinOpenTransaction`), which flowproof never ends. */
  readonly joined: boolean;
  /** The transaction (or savepoint) settled: its backend must not be used any more. */
  ended: boolean;
  /** `close()` was called on the backend bound to this scope. */
  closed: boolean;
  /** A nested transaction (savepoint) of this one is running. */
  nested: boolean;
}

const STATEMENT_CACHE_SIZE = 256;
// One per process, shared with every copy of flowproof (ESM and CommonJS builds): two copies
// opening one file must queue on the same lock, or they deadlock.
const fileLocks = processSingleton('sqlite.file-locks', 1, () => new Map<string, Mutex>());

/**
 * The lock for a database file. SQLite drivers block the thread while waiting for a file lock, so
 * two connections to one file in one process would deadlock: the second would spin on the
 * event loop's thread while the first waits for that thread to finish its transaction. Work on
 * connections to the same file therefore queues on one in-process lock; other processes still
 * wait on SQLite's own lock (busy timeout).
 */
function lockFor(database: SqliteDatabaseLike): Mutex {
  const name = (database as { name?: unknown }).name;
  if (typeof name !== 'string' || name === '' || name === ':memory:') return createMutex();
  const file = resolve(name);
  let lock = fileLocks.get(file);
  if (!lock) {
    lock = createMutex();
    fileLocks.set(file, lock);
  }
  return lock;
}

/**
 * Creates a SQLite backend over a connection the application owns.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * import { createSqliteBackend } from 'flowproof/adapters/sqlite';
 *
 * const db = new Database('app.db');
 * db.pragma('journal_mode = WAL');
 * const backend = createSqliteBackend({ database: db });
 * ```
 */
export function createSqliteBackend(options: SqliteBackendOptions): SqliteBackend {
  assertOptionsObject(options, 'options');
  assertKnownKeys(
    options,
    ['database', 'tablePrefix', 'busyTimeoutMs', 'clock', 'ownsDatabase'],
    'options',
  );
  const { database } = options;
  if (typeof database?.prepare !== 'function' || typeof database.exec !== 'function') {
    throw new TypeError(
      'options.database must be a better-sqlite3 Database or node:sqlite DatabaseSync',
    );
  }
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  assertInteger(busyTimeoutMs, 'options.busyTimeoutMs', 0, 3_600_000);
  if (options.clock !== undefined && typeof options.clock?.now !== 'function') {
    throw new TypeError('options.clock must have a now() method');
  }
  try {
    database.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
  } catch (error) {
    throw toSqliteError(error, 'PRAGMA busy_timeout');
  }
  const config: Config = Object.freeze({
    database,
    tablePrefix: assertSqlIdentifier(
      options.tablePrefix ?? 'flowproof_',
      'options.tablePrefix',
      true,
    ),
    clock: options.clock,
    ownsDatabase: options.ownsDatabase ?? false,
    statements: new Map(),
    lock: lockFor(database),
    state: { closed: false, savepoints: 0 },
  });
  return new SqliteBackendImpl(config, undefined);
}

function newScope(parent: Scope | undefined, joined = false): Scope {
  return { parent, joined, ended: false, closed: false, nested: false };
}

class SqliteBackendImpl implements SqliteBackend {
  readonly kind = 'sqlite' as const;
  readonly #config: Config;
  /** The transaction this backend is bound to; undefined for the backend itself. */
  readonly #scope: Scope | undefined;

  constructor(config: Config, scope: Scope | undefined) {
    this.#config = config;
    this.#scope = scope;
  }

  get tablePrefix() {
    return this.#config.tablePrefix;
  }
  get inTransaction() {
    return this.#scope !== undefined;
  }

  table(name: string): string {
    assertSqlIdentifier(name, 'table name');
    return `"${this.#config.tablePrefix}${name}"`;
  }

  query<R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.#serialised(() => this.#statement(sql).all(...params) as R[], sql);
  }

  execute(sql: string, params: readonly unknown[] = []): Promise<number> {
    return this.#serialised(() => Number(this.#statement(sql).run(...params).changes), sql);
  }

  joinOpenTransaction(): SqliteBackend {
    const { database } = this.#config;
    this.#assertOpen();
    assertDatabaseOpen(database, 'joinOpenTransaction()');
    if ((database as { inTransaction?: boolean }).inTransaction === false) {
      throw new FlowproofError(
        'TRANSACTION_UNSUPPORTED',
        'joinOpenTransaction() needs a transaction already open on the connection (BEGIN)',
        { details: { backend: 'sqlite' } },
      );
    }
    return new SqliteBackendImpl(this.#config, newScope(undefined, true));
  }

  async now(): Promise<Date> {
    if (this.#config.clock) return this.#config.clock.now();
    const [row] = await this.query<{ ms: number }>(
      "SELECT CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER) AS ms",
    );
    return new Date(Number(row?.ms));
  }

  async transaction<T>(fn: (backend: this) => Promise<T>): Promise<T> {
    assertFunction(fn, 'fn');
    this.#assertOpen();
    if (this.#scope) return this.#savepoint(this.#scope, fn);
    const { lock } = this.#config;
    if (lock.heldHere()) throw reentrantUseError('sqlite', 'SQLite database');
    return lock.runHolding(async () => {
      // IMMEDIATE takes the write lock up front, so two processes never both read-then-write and
      // deadlock on the upgrade.
      this.#exec('BEGIN IMMEDIATE');
      const scope = newScope(undefined);
      try {
        const result = await fn(new SqliteBackendImpl(this.#config, scope) as this);
        this.#exec('COMMIT');
        return result;
      } catch (error) {
        try {
          this.#config.database.exec('ROLLBACK');
        } catch {
          // Already rolled back by SQLite (e.g. after SQLITE_FULL); nothing left to undo.
        }
        throw error;
      } finally {
        // Once the lock is released, a leftover use of this backend would run in another
        // caller's transaction (or none): refused from now on.
        scope.ended = true;
      }
    });
  }

  async migrate(set: MigrationSet<this>): Promise<MigrationReport> {
    assertMigrationSet(set);
    return this.transaction(async (tx) => {
      await tx.execute(
        `CREATE TABLE IF NOT EXISTS ${tx.table('migrations')} (
           component TEXT NOT NULL,
           version INTEGER NOT NULL,
           name TEXT NOT NULL,
           applied_at TEXT NOT NULL,
           PRIMARY KEY (component, version)
         )`,
      );
      const applied = await tx.query<AppliedMigration>(
        `SELECT version, name FROM ${tx.table('migrations')} WHERE component = ? ORDER BY version`,
        [set.component],
      );
      const pending = pendingMigrations(set, applied);
      for (const migration of pending) {
        try {
          await migration.up(tx);
        } catch (error) {
          throw migrationFailed(set.component, migration.version, error);
        }
        await tx.execute(
          `INSERT INTO ${tx.table('migrations')} (component, version, name, applied_at) VALUES (?, ?, ?, ?)`,
          [set.component, migration.version, migration.name, (await tx.now()).toISOString()],
        );
      }
      return {
        component: set.component,
        from: set.migrations.length - pending.length,
        to: set.migrations.length,
        applied: pending.map((m) => m.version),
      };
    });
  }

  async schemaVersion(component: string): Promise<number> {
    try {
      const [row] = await this.query<{ version: number | null }>(
        `SELECT max(version) AS version FROM ${this.table('migrations')} WHERE component = ?`,
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

  /**
   * Closes the backend (and the database, when it owns it): afterwards every call fails with
   * `BACKEND_CLOSED`, and a transaction still open rolls back. On a transaction's or a joined
   * backend, closes only that one.
   */
  async close(): Promise<void> {
    if (this.#scope) {
      this.#scope.closed = true;
      return;
    }
    const { state } = this.#config;
    if (state.closed) return;
    state.closed = true;
    this.#config.statements.clear();
    if (this.#config.ownsDatabase) this.#config.database.close?.();
  }

  async #savepoint<T>(parent: Scope, fn: (backend: this) => Promise<T>): Promise<T> {
    // Savepoints are a stack on the connection: a sibling started beside a running one would be
    // released (or rolled back) with it, and fail with "no such savepoint". Refused up front.
    if (parent.nested) throw concurrentSavepointsError('sqlite');
    const name = `flowproof_sp_${++this.#config.state.savepoints}`;
    this.#exec(`SAVEPOINT ${name}`);
    parent.nested = true;
    const scope = newScope(parent);
    try {
      const result = await fn(new SqliteBackendImpl(this.#config, scope) as this);
      this.#exec(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (error) {
      try {
        this.#config.database.exec(`ROLLBACK TO SAVEPOINT ${name}`);
        this.#config.database.exec(`RELEASE SAVEPOINT ${name}`);
      } catch {
        // The enclosing transaction is already gone; its owner reports the failure.
      }
      throw error;
    } finally {
      scope.ended = true;
      parent.nested = false;
    }
  }

  /** Runs sync work now when inside the transaction, else after any open transaction ends. */
  #serialised<T>(work: () => T, sql: string): Promise<T> {
    const guarded = () => {
      this.#assertOpen();
      try {
        return work();
      } catch (error) {
        throw toSqliteError(error, `statement "${sql.slice(0, 60)}"`);
      }
    };
    const { lock } = this.#config;
    if (this.#scope || !lock.locked) {
      try {
        return Promise.resolve(guarded());
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (lock.heldHere()) return Promise.reject(reentrantUseError('sqlite', 'SQLite database'));
    return lock.run(guarded);
  }

  #statement(sql: string): SqliteStatement {
    const { statements, database } = this.#config;
    let statement = statements.get(sql);
    if (statement) {
      // Refresh recency: Map iteration order doubles as the LRU order.
      statements.delete(sql);
    } else {
      statement = database.prepare(sql);
      if (statements.size >= STATEMENT_CACHE_SIZE) {
        const oldest = statements.keys().next().value;
        if (oldest !== undefined) statements.delete(oldest);
      }
    }
    statements.set(sql, statement);
    return statement;
  }

  #exec(sql: string): void {
    this.#assertOpen();
    try {
      this.#config.database.exec(sql);
    } catch (error) {
      throw toSqliteError(error, sql);
    }
  }

  #assertOpen(): void {
    let closed = this.#config.state.closed;
    let ended = false;
    for (let scope = this.#scope; scope && !closed && !ended; scope = scope.parent) {
      closed = scope.closed;
      ended =
        scope.ended ||
        (scope.joined &&
          (this.#config.database as { inTransaction?: boolean }).inTransaction === false);
    }
    if (ended) {
      throw new FlowproofError(
        'BACKEND_CLOSED',
        'This SQLite backend belongs to a transaction that has ended; use the backend a running transaction passes to its callback',
        { details: { backend: 'sqlite' } },
      );
    }
    if (closed) {
      throw new FlowproofError('BACKEND_CLOSED', 'This SQLite backend was closed', {
        details: { backend: 'sqlite' },
      });
    }
  }
}
