/**
 * The keyring: data keys read from the data-key store, unwrapped by the key provider and kept in
 * process for a while as `KeyObject`s (never exported), so that the hot path of encrypt and
 * decrypt is a map lookup.
 */
import { createHmac, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { FlowproofError } from '../../core/errors.js';
import { type Logger, logEvent } from '../../core/logger.js';
import type { DataKeyPurpose, DataKeyRow, DataKeyStore } from '../data-key-store.js';
import {
  callKeyProvider,
  currentKekId,
  type KeyProvider,
  keyProviderFailed,
} from './key-provider.js';

/** The size of a data key, in bytes (AES-256). */
export const DATA_KEY_BYTES = 32;

/** A data key ready to use. @internal */
export interface LoadedKey {
  /** Its id in the store. */
  readonly id: number;
  /** What it is for. */
  readonly purpose: DataKeyPurpose;
  /** The subject's id or the index key's name; `null` for field keys. */
  readonly name: string | null;
  /** The key itself. */
  readonly key: KeyObject;
  /** Until when (this process's `Date.now()`) it may be used without reading the store again. */
  readonly expiresAt: number;
  /** The subkey deterministic encryption derives IVs with; made on first use. */
  sivKey: KeyObject | undefined;
}

/** Options the keyring takes from `createFieldEncryption`. @internal */
export interface KeyringOptions {
  readonly store: DataKeyStore;
  readonly keyProvider: KeyProvider;
  readonly cacheTtlMs: number;
  readonly maxCachedKeys: number;
  readonly logger: Logger;
}

/** A bounded map: past its size, the entry set longest ago goes first. */
class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly max: number) {
    super();
  }
  override set(key: K, value: V): this {
    this.delete(key);
    super.set(key, value);
    if (this.size > this.max) this.delete(this.keys().next().value as K);
    return this;
  }
}

/**
 * The keyring of one `FieldEncryption`. @internal
 */
export class Keyring {
  readonly store: DataKeyStore;
  readonly keyProvider: KeyProvider;
  readonly logger: Logger;
  readonly #ttl: number;
  /** Usable keys by id. */
  readonly #byId: BoundedMap<number, LoadedKey>;
  /** Subject and index keys by `purpose:name`. */
  readonly #byName: BoundedMap<string, LoadedKey>;
  /**
   * Keys that will never decrypt again (shredded or retired): both are final, so they are kept
   * for good (bounded like the others).
   */
  readonly #dead: BoundedMap<number, DataKeyRow>;
  /**
   * Keys shredded in a transaction that may not have committed yet: never cached, so that each
   * use reads the store and sees the shred as soon as it commits (or the key again, after a
   * rollback).
   */
  readonly #uncached = new Set<number>();
  /** Loads under way, so concurrent callers share one store read and one unwrap. */
  readonly #loading = new Map<string, Promise<LoadedKey>>();
  /** The field key new values are encrypted with, and until when it is taken as the newest. */
  #current: LoadedKey | undefined;

  constructor(options: KeyringOptions) {
    this.store = options.store;
    this.keyProvider = options.keyProvider;
    this.logger = options.logger;
    this.#ttl = options.cacheTtlMs;
    this.#byId = new BoundedMap(options.maxCachedKeys);
    this.#byName = new BoundedMap(options.maxCachedKeys);
    this.#dead = new BoundedMap(options.maxCachedKeys);
  }

  /** The cached usable key `id`, or `undefined` (the hot path: no promise, no allocation). */
  cachedById(id: number): LoadedKey | undefined {
    const loaded = this.#byId.get(id);
    return loaded !== undefined && loaded.expiresAt > Date.now() ? loaded : undefined;
  }

  /** The cached current field key, or `undefined`. */
  cachedCurrent(): LoadedKey | undefined {
    const current = this.#current;
    return current !== undefined && current.expiresAt > Date.now() ? current : undefined;
  }

  /** The cached key of a subject, or `undefined`. */
  cachedNamed(purpose: 'subject' | 'index', name: string): LoadedKey | undefined {
    const loaded = this.#byName.get(`${purpose}:${name}`);
    return loaded !== undefined && loaded.expiresAt > Date.now() ? loaded : undefined;
  }

  /**
   * Key `id` for decrypting.
   *
   * @throws FlowproofError `KEY_UNKNOWN`, `KEY_SHREDDED`, `KEY_RETIRED`, `KEY_PROVIDER_FAILED`.
   */
  byId(id: number): Promise<LoadedKey> {
    const dead = this.#dead.get(id);
    if (dead !== undefined) return Promise.reject(unusable(dead));
    return this.#once(`id:${id}`, async () => {
      // No store assigns id 0 (and stores refuse to look it up).
      const row = id === 0 ? undefined : await this.store.get(id);
      if (row === undefined) {
        throw new FlowproofError('KEY_UNKNOWN', `No data key with id ${id} is in the key store`, {
          details: { keyId: id },
        });
      }
      return this.#fromRow(row);
    });
  }

  /**
   * The newest field key that is not retired, created when there is none. `fresh` reads the
   * store even when the cached one has not expired.
   */
  current(fresh = false): Promise<LoadedKey> {
    if (!fresh) {
      const cached = this.cachedCurrent();
      if (cached !== undefined) return Promise.resolve(cached);
    }
    return this.#once(fresh ? 'current:fresh' : 'current', async () => {
      const row = await this.store.newestFieldKey();
      const loaded =
        row === undefined ? await this.create('field', null) : await this.#fromRow(row);
      this.#current = loaded;
      return loaded;
    });
  }

  /**
   * The key of the subject or index key `name`, created on first use (when another process
   * creates it at the same moment, the store keeps one and both use it).
   *
   * @throws FlowproofError `KEY_SHREDDED` for a shredded subject.
   */
  named(purpose: 'subject' | 'index', name: string): Promise<LoadedKey> {
    const cached = this.cachedNamed(purpose, name);
    if (cached !== undefined) return Promise.resolve(cached);
    return this.#once(`${purpose}:${name}`, async () => {
      const row = await this.store.byName(purpose, name);
      return row === undefined ? this.create(purpose, name) : this.#fromRow(row);
    });
  }

  /** Creates and stores a new data key (for a named one, uses the stored one if there is one). */
  async create(purpose: DataKeyPurpose, name: string | null): Promise<LoadedKey> {
    const dataKey = randomBytes(DATA_KEY_BYTES);
    try {
      const kekId = currentKekId(this.keyProvider);
      const wrapped = await callKeyProvider(this.keyProvider, 'wrap', kekId, dataKey);
      const { key: row, created } = await this.store.create({ purpose, name, kekId, wrapped });
      if (!created) return await this.#fromRow(row);
      logEvent(
        this.logger,
        'info',
        { event: 'privacy.data-key.created', purpose, keyId: row.id, kekId },
        `data key ${row.id} created (${purpose})`,
      );
      if (purpose === 'field') this.#current = undefined;
      return this.#remember(row, createSecretKey(dataKey));
    } finally {
      dataKey.fill(0);
    }
  }

  /** Makes `loaded` the current field key of this process at once. */
  setCurrent(loaded: LoadedKey): void {
    this.#current = loaded;
  }

  /**
   * Forgets key `id`, remembering `row` when it is final (retired or shredded). `uncertain`: it
   * was shredded in a transaction that may still roll back, so it is not cached from now on.
   */
  forget(id: number, row?: DataKeyRow, uncertain = false): void {
    if (uncertain) this.#uncached.add(id);
    const loaded = this.#byId.get(id);
    this.#byId.delete(id);
    if (loaded !== undefined && loaded.name !== null) {
      this.#byName.delete(`${loaded.purpose}:${loaded.name}`);
    }
    if (this.#current?.id === id) this.#current = undefined;
    if (row !== undefined) {
      if (row.name !== null && row.purpose !== 'field')
        this.#byName.delete(`${row.purpose}:${row.name}`);
      if (row.shreddedAt !== null || row.retiredAt !== null) {
        this.#dead.set(id, row);
        this.#uncached.delete(id);
      }
    }
  }

  /** The subkey deterministic encryption derives IVs from, made once per loaded key. */
  sivKey(loaded: LoadedKey): KeyObject {
    if (loaded.sivKey === undefined) {
      const subkey = createHmac('sha256', loaded.key).update('flowproof/deterministic-iv').digest();
      loaded.sivKey = createSecretKey(subkey);
      subkey.fill(0);
    }
    return loaded.sivKey;
  }

  /** The raw bytes of a loaded key (index keys only: they are handed to the application). */
  static exportKey(loaded: LoadedKey): Uint8Array {
    return new Uint8Array(loaded.key.export());
  }

  #once(name: string, load: () => Promise<LoadedKey>): Promise<LoadedKey> {
    const pending = this.#loading.get(name);
    if (pending !== undefined) return pending;
    const started = load().finally(() => this.#loading.delete(name));
    this.#loading.set(name, started);
    return started;
  }

  async #fromRow(row: DataKeyRow): Promise<LoadedKey> {
    if (
      row.shreddedAt !== null ||
      row.retiredAt !== null ||
      row.kekId === null ||
      row.wrapped === null
    ) {
      this.forget(row.id, row);
      throw unusable(row);
    }
    const dataKey = await callKeyProvider(this.keyProvider, 'unwrap', row.kekId, row.wrapped);
    try {
      if (dataKey.byteLength !== DATA_KEY_BYTES) {
        throw keyProviderFailed(
          'unwrap',
          row.kekId,
          new Error(
            `the unwrapped data key has ${dataKey.byteLength} bytes, not ${DATA_KEY_BYTES}`,
          ),
        );
      }
      return this.#remember(row, createSecretKey(dataKey));
    } finally {
      dataKey.fill(0);
    }
  }

  #remember(row: DataKeyRow, key: KeyObject): LoadedKey {
    const loaded: LoadedKey = {
      id: row.id,
      purpose: row.purpose,
      name: row.name,
      key,
      expiresAt: Date.now() + this.#ttl,
      sivKey: undefined,
    };
    if (this.#ttl > 0 && !this.#uncached.has(row.id)) {
      this.#byId.set(row.id, loaded);
      if (row.name !== null && row.purpose !== 'field')
        this.#byName.set(`${row.purpose}:${row.name}`, loaded);
    }
    return loaded;
  }
}

/** The error a shredded or retired key gives. @internal */
export function unusable(row: DataKeyRow): FlowproofError {
  if (row.shreddedAt !== null || row.wrapped === null) {
    return new FlowproofError(
      'KEY_SHREDDED',
      `Data key ${row.id} was shredded: what it encrypted can never be read again`,
      {
        details: {
          subject: row.name ?? '',
          keyId: row.id,
          shreddedAt: new Date(row.shreddedAt ?? 0).toISOString(),
        },
      },
    );
  }
  return new FlowproofError('KEY_RETIRED', `Data key ${row.id} is retired and no longer decrypts`, {
    details: { keyId: row.id },
  });
}
