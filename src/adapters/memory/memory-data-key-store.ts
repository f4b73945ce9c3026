import { assertStoreOptions } from '../../core/options.js';
import type { MigrationSet } from '../../core/storage-backend.js';
import {
  DATA_KEY_STORE_COMPONENT,
  type DataKeyCreate,
  type DataKeyCreated,
  type DataKeyListRead,
  type DataKeyRewrap,
  type DataKeyRow,
  type DataKeyStore,
} from '../../privacy/data-key-store.js';
import {
  checkByName,
  checkDataKeyCreate,
  checkDataKeyId,
  checkDataKeyListRead,
  checkDataKeyRewrap,
  checkJob,
  checkSaveCursor,
  checkSubject,
} from '../data-key-store-input.js';
import type { MemoryBackend } from './memory-backend.js';
import {
  assertMemoryBackend,
  MemoryModuleStore,
  type MemoryStoreState,
} from './memory-module-store.js';

/** Options of {@link createMemoryDataKeyStore}. */
export interface MemoryDataKeyStoreOptions {
  /** The memory backend holding the keys. */
  readonly backend: MemoryBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link DataKeyStore} over a {@link MemoryBackend}. */
export interface MemoryDataKeyStore extends DataKeyStore<MemoryBackend> {
  /** Always `memory`. */
  readonly kind: 'memory';
  /** The backend. */
  readonly backend: MemoryBackend;
  /**
   * The same store over `backend`, typically the one `backend.transaction()` passes to its
   * callback, so what it writes (a shredding) commits or rolls back with the rest of the
   * transaction.
   *
   * @throws TypeError when `backend` is not a memory backend.
   */
  withBackend(backend: MemoryBackend): MemoryDataKeyStore;
}

/** The keys collection: rows keyed by id (as text). */
const KEYS = 'privacy_data_keys';
/** The names collection: the id of each named key, keyed by {@link nameKey}. */
const NAMES = 'privacy_data_key_names';
/** The resumable jobs' cursors, keyed by job. */
const CURSORS = 'privacy_job_cursors';

/**
 * The last id handed out per keys collection. Kept outside the collections on purpose: a
 * transaction's rollback restores the collections, and an id handed out inside a rolled-back
 * transaction (maybe already written into a ciphertext) must still never be handed out again.
 */
const lastIds = new WeakMap<Map<string, DataKeyRow>, number>();

/**
 * The schema of the memory data-key store (component `privacy-keys`), applied by
 * {@link MemoryDataKeyStore.migrate}; exported for applications that run migrations with their
 * own tooling.
 */
export const memoryDataKeyStoreMigrations: MigrationSet<MemoryBackend> = {
  component: DATA_KEY_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'data keys and job cursors',
      up: (backend) => {
        backend.collection(KEYS);
        backend.collection(NAMES);
        backend.collection(CURSORS);
      },
    },
  ],
};

/**
 * Creates a data-key store over an in-memory backend: for tests, examples and single-process
 * tools. Times are the backend's clock. Every write runs under the backend's `exclusive()`, so a
 * named key is created once however many callers race; a write through a transaction's backend
 * rolls back with it (an id it took is still never handed out again). Shredding drops the
 * wrapped bytes from the store; the process may keep them in memory until garbage-collected.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import { createMemoryBackend, createMemoryDataKeyStore } from 'flowproof/adapters/memory';
 *
 * const store = createMemoryDataKeyStore({ backend: createMemoryBackend() });
 * await store.migrate();
 * ```
 */
export function createMemoryDataKeyStore(options: MemoryDataKeyStoreOptions): MemoryDataKeyStore {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    'memory',
    'memory',
    'createMemoryBackend',
  );
  return new MemoryDataKeyStoreImpl(backend, ownsBackend, { migrated: false });
}

class MemoryDataKeyStoreImpl extends MemoryModuleStore implements MemoryDataKeyStore {
  constructor(backend: MemoryBackend, ownsBackend: boolean, state: MemoryStoreState) {
    super(backend, ownsBackend, state, memoryDataKeyStoreMigrations);
  }

  withBackend(backend: MemoryBackend): MemoryDataKeyStore {
    assertMemoryBackend(backend);
    return new MemoryDataKeyStoreImpl(backend, false, this.state);
  }

  async create(input: DataKeyCreate): Promise<DataKeyCreated> {
    const key = checkDataKeyCreate(input);
    await this.assertMigrated();
    const { purpose, name, kekId } = key;
    const wrapped = new Uint8Array(key.wrapped);
    return this.backend.exclusive(() => {
      if (name !== null) {
        const existing = this.#byName(purpose, name);
        if (existing !== undefined) return { key: copy(existing), created: false };
      }
      const row: DataKeyRow = {
        id: this.#nextId(),
        purpose,
        name,
        kekId,
        wrapped,
        createdAt: this.#now(),
        retiredAt: null,
        shreddedAt: null,
      };
      this.#store(row);
      return { key: copy(row), created: true };
    });
  }

  async get(id: number): Promise<DataKeyRow | undefined> {
    checkDataKeyId(id);
    await this.assertMigrated();
    const row = this.#keys().get(String(id));
    return row && copy(row);
  }

  async byName(purpose: 'subject' | 'index', name: string): Promise<DataKeyRow | undefined> {
    checkByName(purpose, name);
    await this.assertMigrated();
    const row = this.#byName(purpose, name);
    return row && copy(row);
  }

  async newestFieldKey(): Promise<DataKeyRow | undefined> {
    await this.assertMigrated();
    let newest: DataKeyRow | undefined;
    for (const row of this.#keys().values()) {
      if (row.purpose === 'field' && row.retiredAt === null && row.id > (newest?.id ?? 0)) {
        newest = row;
      }
    }
    return newest && copy(newest);
  }

  async list(input: DataKeyListRead): Promise<readonly DataKeyRow[]> {
    const read = checkDataKeyListRead(input);
    await this.assertMigrated();
    const { purpose, limit } = read;
    const after = read.afterId ?? 0;
    return [...this.#keys().values()]
      .filter((row) => row.purpose === purpose && row.id > after)
      .sort((a, b) => a.id - b.id)
      .slice(0, limit)
      .map(copy);
  }

  async rewrap(input: DataKeyRewrap): Promise<boolean> {
    const change = checkDataKeyRewrap(input);
    await this.assertMigrated();
    const wrapped = new Uint8Array(change.wrapped);
    return this.backend.exclusive(() => {
      const row = this.#keys().get(String(change.id));
      if (row === undefined || row.shreddedAt !== null || row.kekId !== change.expectKekId) {
        return false;
      }
      this.#store({ ...row, kekId: change.kekId, wrapped });
      return true;
    });
  }

  async retire(id: number): Promise<DataKeyRow | undefined> {
    checkDataKeyId(id);
    await this.assertMigrated();
    return this.backend.exclusive(() => {
      const row = this.#keys().get(String(id));
      if (row === undefined) return undefined;
      if (row.retiredAt !== null) return copy(row);
      const retired = { ...row, retiredAt: this.#now() };
      this.#store(retired);
      return copy(retired);
    });
  }

  async shred(subject: string): Promise<DataKeyRow> {
    checkSubject(subject);
    await this.assertMigrated();
    return this.backend.exclusive(() => {
      const row = this.#byName('subject', subject);
      if (row?.shreddedAt != null) return copy(row);
      const shreddedAt = this.#now();
      // The row object is replaced, never changed in place: the bytes are gone from the store.
      const tombstone: DataKeyRow = row
        ? { ...row, kekId: null, wrapped: null, shreddedAt }
        : {
            id: this.#nextId(),
            purpose: 'subject',
            name: subject,
            kekId: null,
            wrapped: null,
            createdAt: shreddedAt,
            retiredAt: null,
            shreddedAt,
          };
      this.#store(tombstone);
      return copy(tombstone);
    });
  }

  async loadCursor(job: string): Promise<string | undefined> {
    checkJob(job);
    await this.assertMigrated();
    return this.#cursors().get(job);
  }

  async saveCursor(job: string, cursor: string | null): Promise<void> {
    checkSaveCursor(job, cursor);
    await this.assertMigrated();
    await this.backend.exclusive(() => {
      if (cursor === null) this.#cursors().delete(job);
      else this.#cursors().set(job, cursor);
    });
  }

  #keys(): Map<string, DataKeyRow> {
    return this.backend.collection<DataKeyRow>(KEYS);
  }

  #cursors(): Map<string, string> {
    return this.backend.collection<string>(CURSORS);
  }

  #byName(purpose: DataKeyRow['purpose'], name: string): DataKeyRow | undefined {
    const id = this.backend.collection<number>(NAMES).get(nameKey(purpose, name));
    return id === undefined ? undefined : this.#keys().get(String(id));
  }

  #store(row: DataKeyRow): void {
    this.#keys().set(String(row.id), row);
    if (row.name !== null) {
      this.backend.collection<number>(NAMES).set(nameKey(row.purpose, row.name), row.id);
    }
  }

  #nextId(): number {
    const keys = this.#keys();
    const id = (lastIds.get(keys) ?? 0) + 1;
    lastIds.set(keys, id);
    return id;
  }

  #now(): number {
    return this.backend.clock.now().getTime();
  }
}

/** Names hold no NUL (checked on input), so NUL separates the purpose from the name. */
function nameKey(purpose: string, name: string): string {
  return `${purpose}\u0000${name}`;
}

/** A copy the caller may change without reaching the store, its bytes copied too. */
function copy(row: DataKeyRow): DataKeyRow {
  return { ...row, wrapped: row.wrapped && new Uint8Array(row.wrapped) };
}
