import { createMutex, type Mutex, reentrantUseError } from '../../core/async.js';
import { type Clock, systemClock } from '../../core/clock.js';
import { FlowproofError } from '../../core/errors.js';
import {
  type AppliedMigration,
  assertMigrationSet,
  assertVersionMatches,
  migrationFailed,
  pendingMigrations,
} from '../../core/migrations.js';
import { assertNonEmptyString, assertOptionsObject } from '../../core/options.js';
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
  /** The named collection, created empty on first use. The same map is returned every time. */
  collection<V>(name: string): Map<string, V>;
  /**
   * Runs `fn` once no transaction of another caller is open, so a read-modify-write done inside
   * it is atomic with respect to transactions. Inside a transaction it runs at once.
   *
   * @throws FlowproofError `TRANSACTION_UNSUPPORTED` when called, on this backend rather than on
   * the transaction's, from inside an open transaction (it would wait for itself forever).
   */
  exclusive<T>(fn: () => T | Promise<T>): Promise<T>;
}

interface Snapshot {
  readonly collections: Map<string, Map<string, unknown>>;
  readonly migrations: Map<string, AppliedMigration[]>;
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
    false,
  );
}

class MemoryBackendImpl implements MemoryBackend {
  readonly kind = 'memory' as const;
  readonly #state: State;
  readonly #inTransaction: boolean;

  constructor(state: State, inTransaction: boolean) {
    this.#state = state;
    this.#inTransaction = inTransaction;
  }

  get clock() {
    return this.#state.clock;
  }
  get inTransaction() {
    return this.#inTransaction;
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

  async exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    this.#assertOpen();
    if (this.#inTransaction || !this.#state.lock.locked) return fn();
    if (this.#state.lock.heldHere()) throw reentrantUseError('memory', 'memory backend');
    return this.#state.lock.run(fn);
  }

  async now(): Promise<Date> {
    this.#assertOpen();
    return this.#state.clock.now();
  }

  async transaction<T>(fn: (backend: this) => Promise<T>): Promise<T> {
    this.#assertOpen();
    const run = async () => {
      const snapshot = this.#snapshot();
      try {
        return await fn(new MemoryBackendImpl(this.#state, true) as this);
      } catch (error) {
        this.#restore(snapshot);
        throw error;
      }
    };
    // Nested transactions behave like savepoints: they roll back their own changes only.
    if (this.#inTransaction) return run();
    if (this.#state.lock.heldHere()) throw reentrantUseError('memory', 'memory backend');
    return this.#state.lock.runHolding(run);
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

  async close(): Promise<void> {
    this.#state.closed = true;
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
    if (this.#state.closed) {
      throw new FlowproofError('BACKEND_CLOSED', 'This memory backend was closed', {
        details: { backend: 'memory' },
      });
    }
  }
}
