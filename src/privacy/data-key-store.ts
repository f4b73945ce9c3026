/**
 * The data-key-store port: where field encryption keeps its data keys, each wrapped (encrypted)
 * by a key-encryption key that never leaves the key provider.
 *
 * Three kinds of data key live here:
 * - `field` keys encrypt fields that belong to no one in particular. The newest one that is not
 *   retired encrypts every new write; older ones keep decrypting until they are retired.
 * - `subject` keys: one per data subject (a person), named by the subject's id. Destroying it
 *   (shredding) makes everything encrypted under it unreadable for good; its row stays as a
 *   tombstone so a later decrypt can say `KEY_SHREDDED` instead of "unknown key".
 * - `index` keys, named, for keyed hashes that must stay stable: blind indexes and tokens.
 *
 * Every key has a numeric id (1 … 2³²−1) the store assigns; ciphertexts carry it in 4 bytes.
 * Times are epoch milliseconds of the **store's** clock.
 *
 * Adapters: `createMemoryDataKeyStore`, `createSqliteDataKeyStore`, `createPostgresDataKeyStore`.
 * Certify your own with `describeDataKeyStoreConformance` from `flowproof/testing`.
 */
import type { MigrationReport, StorageBackend } from '../core/storage-backend.js';

/** The migration component name data-key stores record their schema under. */
export const DATA_KEY_STORE_COMPONENT = 'privacy-keys';

/** What a data key encrypts or keys: see the module's description. */
export type DataKeyPurpose = 'field' | 'subject' | 'index';

/** A data key to store, wrapped by a key-encryption key. */
export interface DataKeyCreate {
  /** What the key is for. */
  readonly purpose: DataKeyPurpose;
  /**
   * The subject's id for `subject` keys, the key's name for `index` keys (unique per purpose);
   * `null` for `field` keys.
   */
  readonly name: string | null;
  /** The key-encryption key's id at the key provider. */
  readonly kekId: string;
  /** The data key, encrypted by that key-encryption key. */
  readonly wrapped: Uint8Array;
}

/** A stored data key. */
export interface DataKeyRow {
  /** The id ciphertexts carry: an integer from 1 to 2³²−1, assigned by the store, never reused. */
  readonly id: number;
  /** What the key is for. */
  readonly purpose: DataKeyPurpose;
  /** The subject's id or the index key's name; `null` for `field` keys. */
  readonly name: string | null;
  /** The key-encryption key it is wrapped by; `null` once shredded. */
  readonly kekId: string | null;
  /** The wrapped key; `null` once shredded. */
  readonly wrapped: Uint8Array | null;
  /** When it was created (epoch ms, the store's clock). */
  readonly createdAt: number;
  /** When it was retired (no longer decrypts), or `null`. */
  readonly retiredAt: number | null;
  /** When it was destroyed, or `null`. Only `subject` keys are shredded. */
  readonly shreddedAt: number | null;
}

/** The result of {@link DataKeyStore.create}. */
export interface DataKeyCreated {
  /** The stored key: the new one, or for a named key that already existed, that one. */
  readonly key: DataKeyRow;
  /** `false` when a named key (`subject`/`index`) of that name already existed (or was shredded). */
  readonly created: boolean;
}

/** A page of {@link DataKeyStore.list}. */
export interface DataKeyListRead {
  /** Only keys of this purpose. */
  readonly purpose: DataKeyPurpose;
  /** Only keys with an id greater than this. */
  readonly afterId?: number;
  /** At most this many, by id ascending. */
  readonly limit: number;
}

/** A compare-and-set change of a key's wrapping, for {@link DataKeyStore.rewrap}. */
export interface DataKeyRewrap {
  /** The key. */
  readonly id: number;
  /** The key-encryption key it must still be wrapped by; otherwise nothing changes. */
  readonly expectKekId: string;
  /** The new key-encryption key. */
  readonly kekId: string;
  /** The key, wrapped by the new key-encryption key. */
  readonly wrapped: Uint8Array;
}

/**
 * The port. Each operation is atomic on its own.
 *
 * @typeParam Tx - what {@link DataKeyStore.withBackend} takes: the store's backend bound to a
 * transaction.
 */
export interface DataKeyStore<Tx = unknown> {
  /** The backend kind, e.g. `postgres`. */
  readonly kind: string;
  /** The backend the store works on. */
  readonly backend: StorageBackend;
  /** Creates or upgrades the store's tables (component `privacy-keys`). Safe to call concurrently. */
  migrate(): Promise<MigrationReport>;
  /** The store's clock. */
  now(): Promise<Date>;
  /**
   * The same store over `backend`, a backend bound to a transaction: what it writes commits or
   * rolls back with that transaction.
   *
   * @throws TypeError when `backend` is not a backend of the store's kind.
   */
  withBackend(backend: Tx): DataKeyStore<Tx>;
  /**
   * Stores a new key with the next id. For a named purpose (`subject`, `index`) whose name is
   * already stored — live or shredded — stores nothing and returns that key with
   * `created: false`, also when another process created it at the same moment.
   */
  create(key: DataKeyCreate): Promise<DataKeyCreated>;
  /** The key with this id, or `undefined`. */
  get(id: number): Promise<DataKeyRow | undefined>;
  /** The `subject` or `index` key with this name (live, retired or shredded), or `undefined`. */
  byName(purpose: 'subject' | 'index', name: string): Promise<DataKeyRow | undefined>;
  /** The `field` key with the greatest id that is not retired, or `undefined`. */
  newestFieldKey(): Promise<DataKeyRow | undefined>;
  /** A page of keys of one purpose, by id ascending (shredded ones included). */
  list(read: DataKeyListRead): Promise<readonly DataKeyRow[]>;
  /**
   * Replaces a key's wrapping if it is still wrapped by `expectKekId` and not shredded; returns
   * whether it did. Used when a key-encryption key rotates: the data key itself is unchanged.
   */
  rewrap(change: DataKeyRewrap): Promise<boolean>;
  /**
   * Marks a key retired (it no longer decrypts); returns it, or `undefined` when there is no such
   * key. Retiring twice keeps the first time.
   */
  retire(id: number): Promise<DataKeyRow | undefined>;
  /**
   * Destroys the `subject` key of `subject`: its wrapped key and key-encryption key id are erased
   * (no read returns them again; an engine that keeps old row versions on disk until it reclaims
   * them says so in its store's documentation) and `shreddedAt` is set. Returns the tombstone: the
   * existing one when already shredded (first time kept), or, when the subject never had a key,
   * a new one with the next id, so no key can be created for the subject afterwards.
   */
  shred(subject: string): Promise<DataKeyRow>;
  /** The saved position of a resumable job (a rewrap), or `undefined`. */
  loadCursor(job: string): Promise<string | undefined>;
  /** Saves (or with `null` clears) the position of a resumable job. */
  saveCursor(job: string, cursor: string | null): Promise<void>;
  /** Releases what the store opened (the backend only when it owns it). Idempotent. */
  close(): Promise<void>;
}
