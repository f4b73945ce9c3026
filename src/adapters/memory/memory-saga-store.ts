import { assertStoreOptions } from '../../core/options.js';
import type { MigrationSet, StorageBackend } from '../../core/storage-backend.js';
import {
  ACTIVE_SAGA_STATUSES,
  type ClaimedSaga,
  type ClaimRequest,
  type CreateSagaResult,
  type NewSaga,
  SAGA_STORE_COMPONENT,
  type SagaLease,
  type SagaListQuery,
  type SagaPurgeRequest,
  type SagaStore,
  type SagaUpdate,
  type StoredSaga,
} from '../../saga/saga-store.js';
import { saveWithWork } from '../saga-save-in-transaction.js';
import {
  checkClaim,
  checkHeartbeat,
  checkList,
  checkNewSaga,
  checkPurge,
  checkUpdate,
} from '../saga-store-input.js';
import type { MemoryBackend } from './memory-backend.js';
import {
  assertMemoryBackend,
  MemoryModuleStore,
  type MemoryStoreState,
} from './memory-module-store.js';

/** Options of {@link createMemorySagaStore}. */
export interface MemorySagaStoreOptions {
  /** The memory backend holding the sagas. */
  readonly backend: MemoryBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link SagaStore} over a {@link MemoryBackend}. */
export interface MemorySagaStore
  extends Omit<SagaStore, 'saveInTransaction'>,
    Required<Pick<SagaStore, 'saveInTransaction'>> {
  /** Always `memory`. */
  readonly kind: 'memory';
  /** The backend. */
  readonly backend: MemoryBackend;
  /**
   * The same store over `backend`, typically the one `backend.transaction()` passes to its
   * callback, so saga writes commit or roll back with the rest of the transaction.
   *
   * @throws TypeError when `backend` is not a memory backend.
   */
  withBackend(backend: MemoryBackend): MemorySagaStore;
}

const SAGAS = 'saga_runs';

/** A saga as kept in the collection: the log serialised, so callers never alias stored data. */
interface SagaRow extends Omit<StoredSaga, 'log'> {
  readonly logJson: string;
  readonly leaseOwner: string | null;
  /** 0 when not leased. */
  readonly leaseUntil: number;
  /** 0 when never claimed. */
  readonly leaseToken: number;
}

/**
 * The schema of the memory saga store (component `saga`), applied by
 * {@link MemorySagaStore.migrate}; exported for applications that run migrations with their own
 * tooling.
 */
export const memorySagaStoreMigrations: MigrationSet<MemoryBackend> = {
  component: SAGA_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'saga runs',
      up: (backend) => {
        backend.collection(SAGAS);
      },
    },
  ],
};

/**
 * Creates a saga store over an in-memory backend: for tests, examples and single-process tools.
 * Times are the backend's clock; every write runs under the backend's `exclusive()`, so claims
 * and fenced saves are atomic with respect to each other and to the backend's transactions.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const store = createMemorySagaStore({ backend: createMemoryBackend() });
 * await store.migrate();
 * ```
 */
export function createMemorySagaStore(options: MemorySagaStoreOptions): MemorySagaStore {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    'memory',
    'memory',
    'createMemoryBackend',
  );
  return new MemorySagaStoreImpl(backend, ownsBackend, { migrated: false });
}

class MemorySagaStoreImpl extends MemoryModuleStore implements MemorySagaStore {
  constructor(backend: MemoryBackend, ownsBackend: boolean, state: MemoryStoreState) {
    super(backend, ownsBackend, state, memorySagaStoreMigrations);
  }

  withBackend(backend: MemoryBackend): MemorySagaStore {
    assertMemoryBackend(backend);
    return new MemorySagaStoreImpl(backend, false, this.state);
  }

  async create(
    saga: NewSaga,
    lease?: { readonly owner: string; readonly leaseMs: number },
  ): Promise<CreateSagaResult> {
    await this.assertMigrated();
    // Checked and serialised before the lock: a bad saga fails here, writing nothing.
    const logJson = checkNewSaga(saga, lease);
    return this.backend.exclusive(() => {
      const sagas = this.#sagas();
      const existing = sagas.get(saga.id);
      if (existing !== undefined) return { created: false, saga: toSaga(existing) };
      const now = this.#now();
      const row: SagaRow = {
        id: saga.id,
        name: saga.name,
        version: saga.version,
        status: saga.status,
        logJson,
        wakeAt: now,
        createdAt: now,
        updatedAt: now,
        finishedAt: ACTIVE_SAGA_STATUSES.includes(saga.status) ? null : now,
        leaseOwner: lease ? lease.owner : null,
        leaseUntil: lease ? now + lease.leaseMs : 0,
        leaseToken: lease ? 1 : 0,
      };
      sagas.set(saga.id, row);
      return lease
        ? { created: true, saga: toSaga(row), lease: { owner: lease.owner, token: 1 } }
        : { created: true, saga: toSaga(row) };
    });
  }

  async claim(request: ClaimRequest): Promise<readonly ClaimedSaga[]> {
    await this.assertMigrated();
    checkClaim(request);
    const { owner, leaseMs, limit, statuses, names, ids } = request;
    return this.backend.exclusive(() => {
      const now = this.#now();
      const due: SagaRow[] = [];
      for (const row of this.#sagas().values()) {
        if (
          statuses.includes(row.status) &&
          row.wakeAt <= now &&
          row.leaseUntil <= now &&
          (names === undefined || names.includes(row.name)) &&
          (ids === undefined || ids.includes(row.id))
        ) {
          due.push(row);
        }
      }
      due.sort((a, b) => a.wakeAt - b.wakeAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      return due.slice(0, Math.max(0, limit)).map((row) => {
        const claimed: SagaRow = {
          ...row,
          leaseOwner: owner,
          leaseUntil: now + leaseMs,
          leaseToken: row.leaseToken + 1,
        };
        this.#sagas().set(row.id, claimed);
        return { saga: toSaga(claimed), lease: { owner, token: claimed.leaseToken } };
      });
    });
  }

  async save(update: SagaUpdate, lease: SagaLease): Promise<boolean> {
    await this.assertMigrated();
    const logJson = checkUpdate(update, lease);
    return this.backend.exclusive(() => {
      const row = this.#held(update.id, lease);
      if (row === undefined) return false;
      const now = this.#now();
      const release = update.lease === 'release';
      this.#sagas().set(update.id, {
        ...row,
        status: update.status,
        logJson,
        wakeAt: release ? now + update.wakeInMs : row.wakeAt,
        updatedAt: now,
        finishedAt: ACTIVE_SAGA_STATUSES.includes(update.status) ? null : now,
        leaseOwner: release ? null : row.leaseOwner,
        leaseUntil: update.lease === 'release' ? 0 : now + update.lease.extendMs,
      });
      return true;
    });
  }

  async heartbeat(id: string, lease: SagaLease, leaseMs: number): Promise<boolean> {
    await this.assertMigrated();
    checkHeartbeat(id, lease, leaseMs);
    return this.backend.exclusive(() => {
      const row = this.#held(id, lease);
      if (row === undefined) return false;
      this.#sagas().set(id, { ...row, leaseUntil: this.#now() + leaseMs });
      return true;
    });
  }

  async get(id: string): Promise<StoredSaga | undefined> {
    await this.assertMigrated();
    const row = this.#sagas().get(id);
    return row === undefined ? undefined : toSaga(row);
  }

  async list(query: SagaListQuery): Promise<readonly StoredSaga[]> {
    await this.assertMigrated();
    checkList(query);
    const { statuses, name, afterId, limit } = query;
    const rows = [...this.#sagas().values()].filter(
      (row) =>
        (statuses === undefined || statuses.includes(row.status)) &&
        (name === undefined || row.name === name) &&
        (afterId === undefined || row.id > afterId),
    );
    rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return rows.slice(0, Math.max(0, limit)).map(toSaga);
  }

  async purge(request: SagaPurgeRequest): Promise<number> {
    await this.assertMigrated();
    checkPurge(request);
    return this.backend.exclusive(() => {
      const cutoff = this.#now() - request.finishedBeforeMs;
      const sagas = this.#sagas();
      let deleted = 0;
      for (const row of [...sagas.values()]) {
        if (deleted >= request.limit) break;
        if (
          row.finishedAt !== null &&
          row.finishedAt <= cutoff &&
          request.statuses.includes(row.status)
        ) {
          sagas.delete(row.id);
          deleted += 1;
        }
      }
      return deleted;
    });
  }

  async saveInTransaction<T>(
    work: (backend: StorageBackend) => Promise<T>,
    update: (value: T) => SagaUpdate,
    lease: SagaLease,
  ): Promise<{ readonly saved: boolean; readonly value?: T }> {
    await this.assertMigrated();
    return saveWithWork(this.backend, work, (tx, value) =>
      this.withBackend(tx).save(update(value), lease),
    );
  }

  #sagas(): Map<string, SagaRow> {
    return this.backend.collection<SagaRow>(SAGAS);
  }

  /** The row when `lease` still holds it (same owner, same token). */
  #held(id: string, lease: SagaLease): SagaRow | undefined {
    const row = this.#sagas().get(id);
    return row !== undefined && row.leaseOwner === lease.owner && row.leaseToken === lease.token
      ? row
      : undefined;
  }

  #now(): number {
    return this.backend.clock.now().getTime();
  }
}

function toSaga(row: SagaRow): StoredSaga {
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    status: row.status,
    log: JSON.parse(row.logJson),
    wakeAt: row.wakeAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    finishedAt: row.finishedAt,
  };
}
