import {
  concurrentSavepointsError,
  createMutex,
  type Mutex,
  reentrantUseError,
} from '../../core/async.js';
import { type Clock, systemClock } from '../../core/clock.js';
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
  assertKnownKeys,
  assertNonEmptyString,
  assertOptionsObject,
} from '../../core/options.js';
import type { MigrationReport, MigrationSet, StorageBackend } from '../../core/storage-backend.js';

/** Options of {@link createMemoryBackend}. */
export interface MemoryBackendOptions {
  /**
   * The store clock.
   * @default the host's clock
   */
  readonly clock?: Clock;
}

/**
 * An in-process {@link StorageBackend}: named collections of values in maps. For tests, examples
 * and single-process tools; its data lives and dies with the process.
 *
 * Values stored in collections must be treated as immutable (replace, never mutate in place): a
 * rollback restores the maps' entries, not the inside of objects.
 */
export interface MemoryBackend extends StorageBackend {
  /** Always `memory`. */
  readonly kind: 'memory';
  /** The clock `now()` reads. */
  readonly clock: Clock;
  /** True when this backend runs inside a transaction. */
  readonly inTransaction: boolean;
  /**
   * Runs `fn` in a transaction: a snapshot of every collection is taken first and restored when
   * `fn` throws. Other callers' transactions and {@link exclusive} work wait for it. The backend
   * passed to `fn` is valid until `fn` settles; using it later fails with `BACKEND_CLOSED`, and
   * closing it closes only it. When `close()` is called on this backend before `fn` settles, the
   * changes are restored and the transaction fails with `BACKEND_CLOSED`.
   *
   * Nested calls (on the transaction's backend) are savepoints: one that throws restores only what
   * happened since it began. A transaction runs one nested transaction at a time: await each
   * before starting the next (run them in sequence, not with `Promise.all`).
   *
   * @throws FlowproofError `TRANSACTION_UNSUPPORTED` with `details.reason` `'concurrent-savepoints'`
   * when a nested transaction is started while another nested transaction of the same transaction
   * is still running, or `'reentrant'` when called on this backend rather than the transaction's
   * from code running inside a transaction; `BACKEND_CLOSED` when this backend was closed or its
   * transaction has ended.
   */
  transaction<T>(fn: (backend: this) => Promise<T>): Promise<T>;
  /** The named collection, created empty on first use. The same map is returned every time. */
  collection<V>(name: string): Map<string, V>;
  /**
   * Runs `fn` once no transaction of another caller is open, and keeps transactions out until it
   * settles, so a read-modify-write done inside it is atomic with respect to transactions (a
   * transaction rolling back never undoes it). A synchronous `fn` runs at once when nothing holds
   * the lock. Inside a transaction (on the transaction's backend) it runs at once. An async `fn`
   * must not call `exclusive()` or `transaction()` on this backend: that would wait for itself.
   *
   * @throws FlowproofError `TRANSACTION_UNSUPPORTED` when called, on this backend rather than on
   * the transaction's, from inside an open transaction (it would wait for itself forever);
   * `BACKEND_CLOSED` when this backend was closed or its transaction has ended.
   */
  exclusive<T>(fn: () => T | Promise<T>): Promise<T>;
}

interface Snapshot {
  readonly collections: Map<string, Map<string, unknown>>;
  readonly migrations: Map<string, AppliedMigration[]>;
}

/**
 * One transaction or savepoint, as seen by the backend bound to it. Its `parent` is the enclosing
 * transaction's scope; a backend is usable while neither its scope nor an enclosing one has ended
 * or been closed.
 */
interface Scope {
  readonly parent: Scope | undefined;
  /** The transaction (or savepoint) settled: its backend must not be used any more. */
  ended: boolean;
  /** `close()` was called on the backend bound to this scope. */
  closed: boolean;
  /** A nested transaction (savepoint) of this one is running. */
  nested: boolean;
}

interface State {
  readonly clock: Clock;
  readonly collections: Map<string, Map<string, unknown>>;
  readonly migrations: Map<string, AppliedMigration[]>;
  readonly lock: Mutex;
  closed: boolean;
}

/**
 * Creates an empty in-memory backend.
 *
 * @throws TypeError when `options.clock` has no `now()`.
 * @example
 * ```ts
 * import { createMemoryBackend } from 'flowproof/adapters/memory';
 * import { createManualClock } from 'flowproof';
 *
 * const backend = createMemoryBackend({ clock: createManualClock('2026-01-01T00:00:00Z') });
 * ```
 */
export function createMemoryBackend(options: MemoryBackendOptions = {}): MemoryBackend {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['clock'], 'options');
  if (options.clock !== undefined && typeof options.clock?.now !== 'function') {
    throw new TypeError('options.clock must have a now() method');
  }
  return new MemoryBackendImpl(
    {
      clock: options.clock ?? systemClock,
      collections: new Map(),
      migrations: new Map(),
      lock: createMutex(),
      closed: false,
    },
    undefined,
  );
}

class MemoryBackendImpl implements MemoryBackend {
  readonly kind = 'memory' as const;
  readonly #state: State;
  /** The transaction this backend is bound to; undefined for the backend itself. */
  readonly #scope: Scope | undefined;

  constructor(state: State, scope: Scope | undefined) {
    this.#state = state;
    this.#scope = scope;
  }

  get clock() {
    return this.#state.clock;
  }
  get inTransaction() {
    return this.#scope !== undefined;
  }

  collection<V>(name: string): Map<string, V> {
    assertNonEmptyString(name, 'name');
    this.#assertOpen();
    let collection = this.#state.collections.get(name);
    if (!collection) {
      collection = new Map();
      this.#state.collections.set(name, collection);
    }
    return collection as Map<string, V>;
  }

  exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    try {
      this.#assertOpen();
      const { lock } = this.#state;
      if (this.#scope) return Promise.resolve(fn());
      if (lock.locked) {
        if (lock.heldHere()) throw reentrantUseError('memory', 'memory backend');
        return lock.run(fn);
      }
      // The common case, a synchronous read-modify-write with the lock free, runs at once. An
      // async fn has started; it holds the lock from now until it settles, so no transaction
      // starts (and later restores a snapshot taken before its writes) in the meantime.
      const result = fn();
      return isPromiseLike(result) ? lock.run(() => result) : Promise.resolve(result);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async now(): Promise<Date> {
    this.#assertOpen();
    return this.#state.clock.now();
  }

  async transaction<T>(fn: (backend: this) => Promise<T>): Promise<T> {
    assertFunction(fn, 'fn');
    this.#assertOpen();
    const parent = this.#scope;
    if (parent) {
      // Nested transactions are savepoints: they roll back their own changes only. A snapshot
      // covers the whole state, so two at once would undo each other's work: refused.
      if (parent.nested) throw concurrentSavepointsError('memory');
      parent.nested = true;
      try {
        return await this.#run(parent, fn);
      } finally {
        parent.nested = false;
      }
    }
    if (this.#state.lock.heldHere()) throw reentrantUseError('memory', 'memory backend');
    return this.#state.lock.runHolding(() => this.#run(undefined, fn));
  }

  async migrate(set: MigrationSet<this>): Promise<MigrationReport> {
    assertMigrationSet(set);
    return this.transaction(async (tx) => {
      const applied = this.#state.migrations.get(set.component) ?? [];
      const pending = pendingMigrations(set, applied);
      const recorded = [...applied];
      for (const migration of pending) {
        try {
          await migration.up(tx);
        } catch (error) {
          throw migrationFailed(set.component, migration.version, error);
        }
        recorded.push({ version: migration.version, name: migration.name });
      }
      this.#state.migrations.set(set.component, recorded);
      return {
        component: set.component,
        from: applied.length,
        to: set.migrations.length,
        applied: pending.map((m) => m.version),
      };
    });
  }

  async schemaVersion(component: string): Promise<number> {
    this.#assertOpen();
    return this.#state.migrations.get(component)?.length ?? 0;
  }

  async assertSchemaVersion(component: string, expected: number): Promise<void> {
    assertVersionMatches(component, await this.schemaVersion(component), expected);
  }

  /**
   * Closes the backend: afterwards every call fails with `BACKEND_CLOSED`, and a transaction still
   * open fails and rolls back. On a transaction's backend, closes only that one.
   */
  async close(): Promise<void> {
    if (this.#scope) this.#scope.closed = true;
    else this.#state.closed = true;
  }

  /** Runs `fn` in a transaction (or savepoint, under `parent`) with the state snapshotted. */
  async #run<T>(parent: Scope | undefined, fn: (backend: this) => Promise<T>): Promise<T> {
    const scope: Scope = { parent, ended: false, closed: false, nested: false };
    const snapshot = this.#snapshot();
    try {
      const result = await fn(new MemoryBackendImpl(this.#state, scope) as this);
      // Closed meanwhile (this backend or the enclosing transaction's): nothing commits.
      this.#assertOpen();
      return result;
    } catch (error) {
      // A savepoint outliving the transaction around it restores nothing: its snapshot predates
      // work that is no longer its to undo.
      if (!hasEnded(parent)) this.#restore(snapshot);
      throw error;
    } finally {
      scope.ended = true;
    }
  }

  #snapshot(): Snapshot {
    return {
      collections: new Map(
        [...this.#state.collections].map(([name, entries]) => [name, new Map(entries)] as const),
      ),
      migrations: new Map(this.#state.migrations),
    };
  }

  #restore(snapshot: Snapshot): void {
    for (const [name, collection] of this.#state.collections) {
      const before = snapshot.collections.get(name);
      collection.clear();
      if (before) for (const [key, value] of before) collection.set(key, value);
    }
    this.#state.migrations.clear();
    for (const [component, rows] of snapshot.migrations)
      this.#state.migrations.set(component, rows);
  }

  #assertOpen(): void {
    let closed = this.#state.closed;
    let ended = false;
    for (let scope = this.#scope; scope && !closed && !ended; scope = scope.parent) {
      closed = scope.closed;
      ended = scope.ended;
    }
    if (ended) {
      throw new FlowproofError(
        'BACKEND_CLOSED',
        'This memory backend belongs to a transaction that has ended; use the backend a running transaction passes to its callback',
        { details: { backend: 'memory' } },
      );
    }
    if (closed) {
      throw new FlowproofError('BACKEND_CLOSED', 'This memory backend was closed', {
        details: { backend: 'memory' },
      });
    }
  }
}

/** True when `scope` or a transaction around it has ended. */
function hasEnded(scope: Scope | undefined): boolean {
  for (let s = scope; s; s = s.parent) if (s.ended) return true;
  return false;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
