import { assertStoreOptions } from '../../core/options.js';
import type { MigrationReport, MigrationSet } from '../../core/storage-backend.js';
import type {
  ClaimRequest,
  ClaimResult,
  IdempotencyRecord,
  IdempotencyStore,
  ReclaimReason,
} from '../../idempotency/idempotency-store.js';
import type { MemoryBackend } from './memory-backend.js';

/** Options of {@link createMemoryIdempotencyStore}. */
export interface MemoryIdempotencyStoreOptions {
  /** The backend holding the records; its clock is the store clock. */
  readonly backend: MemoryBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** An idempotency store kept in a {@link MemoryBackend}: for tests and single-process tools. */
export interface MemoryIdempotencyStore extends IdempotencyStore<MemoryBackend> {
  /** Always `memory`. */
  readonly kind: 'memory';
  /**
   * The store over `backend` (e.g. one bound to a transaction), sharing this store's options.
   *
   * @throws TypeError when `backend` is not a memory backend.
   */
  withBackend(backend: MemoryBackend): MemoryIdempotencyStore;
}

type Stored = Omit<IdempotencyRecord, 'now' | 'key'>;

const COLLECTION = 'idempotency_keys';
const SCHEMA_VERSION = 1;

/** The migrations of the memory idempotency store (component `idempotency`). */
export const memoryIdempotencyMigrations: MigrationSet<MemoryBackend> = {
  component: 'idempotency',
  migrations: [
    {
      version: 1,
      name: 'create idempotency keys',
      up: (backend) => {
        backend.collection(COLLECTION);
      },
    },
  ],
};

/**
 * Creates an idempotency store over a memory backend. Each operation is one atomic step of the
 * backend (`exclusive`), so it behaves like the networked stores within one process.
 *
 * @throws TypeError when `options.backend` is not a memory backend.
 * @example
 * ```ts
 * import { createMemoryBackend, createMemoryIdempotencyStore } from 'flowproof/adapters/memory';
 *
 * const store = createMemoryIdempotencyStore({ backend: createMemoryBackend() });
 * await store.migrate();
 * ```
 */
export function createMemoryIdempotencyStore(
  options: MemoryIdempotencyStoreOptions,
): MemoryIdempotencyStore {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    'memory',
    'memory',
    'createMemoryBackend',
  );
  return new MemoryIdempotencyStoreImpl(backend, ownsBackend);
}

class MemoryIdempotencyStoreImpl implements MemoryIdempotencyStore {
  readonly kind = 'memory' as const;
  readonly #backend: MemoryBackend;
  readonly #ownsBackend: boolean;
  /** Shared with the copies `withBackend` makes: the schema was found migrated once. */
  readonly #shared: { migrated: boolean };

  constructor(backend: MemoryBackend, ownsBackend: boolean, shared = { migrated: false }) {
    this.#backend = backend;
    this.#ownsBackend = ownsBackend;
    this.#shared = shared;
  }

  withBackend(backend: MemoryBackend): MemoryIdempotencyStore {
    if (backend?.kind !== 'memory') throw new TypeError('backend must be a memory backend');
    return new MemoryIdempotencyStoreImpl(backend, false, this.#shared);
  }

  async migrate(): Promise<MigrationReport> {
    const report = await this.#backend.migrate(memoryIdempotencyMigrations);
    this.#shared.migrated = true;
    return report;
  }

  claim(request: ClaimRequest): Promise<ClaimResult> {
    return this.#atomically((records, now) => {
      const { key, fingerprint, leaseMs, retentionMs } = request;
      const existing = records.get(key);
      let reclaimed: ReclaimReason | undefined;
      if (existing) {
        if (existing.expiresAt <= now) reclaimed = 'retention-expired';
        else if (existing.fingerprint === fingerprint) {
          if (existing.status === 'released') reclaimed = 'released';
          else if (
            existing.status === 'in_progress' &&
            existing.leaseExpiresAt <= now &&
            (!existing.sideEffectStarted || request.reclaimStarted)
          ) {
            reclaimed = 'lease-expired';
          }
        }
        if (reclaimed === undefined) {
          return { claimed: false, record: { ...existing, key, now } };
        }
      }
      const stored: Stored = {
        fingerprint,
        status: 'in_progress',
        token: (existing?.token ?? 0) + 1,
        sideEffectStarted: false,
        result: undefined,
        leaseExpiresAt: now + leaseMs,
        expiresAt: now + Math.max(leaseMs, retentionMs),
      };
      records.set(key, stored);
      return { claimed: true, record: { ...stored, key, now }, reclaimed };
    });
  }

  complete(key: string, token: number, result: string, retentionMs: number): Promise<boolean> {
    return this.#ifOwner(key, token, (stored, now) => ({
      ...stored,
      status: 'completed',
      result,
      expiresAt: now + retentionMs,
    }));
  }

  release(key: string, token: number): Promise<boolean> {
    return this.#ifOwner(key, token, (stored) => ({ ...stored, status: 'released' }));
  }

  heartbeat(
    key: string,
    token: number,
    leaseMs: number,
    sideEffectStarted: boolean,
  ): Promise<boolean> {
    return this.#ifOwner(key, token, (stored, now) => ({
      ...stored,
      sideEffectStarted: stored.sideEffectStarted || sideEffectStarted,
      leaseExpiresAt: now + leaseMs,
      expiresAt: Math.max(stored.expiresAt, now + leaseMs),
    }));
  }

  get(key: string): Promise<IdempotencyRecord | undefined> {
    return this.#atomically((records, now) => {
      const stored = records.get(key);
      return stored && stored.expiresAt > now ? { ...stored, key, now } : undefined;
    });
  }

  deleteExpired(limit: number): Promise<number> {
    return this.#atomically((records, now) => {
      let deleted = 0;
      for (const [key, stored] of records) {
        if (deleted >= limit) break;
        if (stored.expiresAt > now) continue;
        if (stored.status === 'in_progress' && stored.leaseExpiresAt > now) continue;
        records.delete(key);
        deleted += 1;
      }
      return deleted;
    });
  }

  transaction<T>(
    fn: (store: IdempotencyStore<MemoryBackend>, tx: MemoryBackend) => Promise<T>,
  ): Promise<T> {
    return this.#backend.transaction((tx) => fn(this.withBackend(tx), tx));
  }

  async close(): Promise<void> {
    if (this.#ownsBackend) await this.#backend.close();
  }

  #ifOwner(
    key: string,
    token: number,
    update: (stored: Stored, now: number) => Stored,
  ): Promise<boolean> {
    return this.#atomically((records, now) => {
      const stored = records.get(key);
      if (!stored || stored.token !== token || stored.status !== 'in_progress') return false;
      // Replace, never mutate: a rolled-back transaction restores the previous object.
      records.set(key, update(stored, now));
      return true;
    });
  }

  async #atomically<T>(fn: (records: Map<string, Stored>, now: number) => T): Promise<T> {
    const backend = this.#backend;
    // As a SQL store fails on its missing table: a store used before migrate() says so.
    if (!this.#shared.migrated) {
      await backend.assertSchemaVersion(memoryIdempotencyMigrations.component, SCHEMA_VERSION);
      this.#shared.migrated = true;
    }
    return backend.exclusive(() =>
      fn(backend.collection<Stored>(COLLECTION), backend.clock.now().getTime()),
    );
  }
}
