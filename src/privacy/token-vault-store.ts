/**
 * The token-vault-store port: where the tokenization vault keeps each token beside its value,
 * encrypted. A token is derived from the tenant, type and value by a keyed hash, so tokenizing
 * the same value again finds the same row.
 *
 * Times are epoch milliseconds of the **store's** clock.
 *
 * Adapters: `createMemoryTokenVaultStore`, `createSqliteTokenVaultStore`,
 * `createPostgresTokenVaultStore`. Certify your own with `describeTokenVaultStoreConformance`
 * from `flowproof/testing`.
 */
import type { MigrationReport, StorageBackend } from '../core/storage-backend.js';

/** The migration component name token-vault stores record their schema under. */
export const TOKEN_VAULT_STORE_COMPONENT = 'privacy-tokens';

/** A token to store. */
export interface TokenPut {
  /** The token (unique across the store). */
  readonly token: string;
  /** The tenant it belongs to (`''` when the application has one tenant). */
  readonly tenant: string;
  /** What the value is, e.g. `card` or `ssn`. */
  readonly type: string;
  /** The data subject the value belongs to, or `null`. */
  readonly subject: string | null;
  /** The value, encrypted (text made by field encryption). */
  readonly ciphertext: string;
}

/** A stored token. */
export interface TokenRow extends TokenPut {
  /** When it was first stored (epoch ms, the store's clock). */
  readonly createdAt: number;
}

/** The result of {@link TokenVaultStore.put}. */
export interface TokenPutResult {
  /** The stored row: the new one, or the one already stored under the token. */
  readonly row: TokenRow;
  /** `false` when the token was already stored (nothing was written). */
  readonly created: boolean;
}

/**
 * The port. Each operation is atomic on its own.
 *
 * @typeParam Tx - what {@link TokenVaultStore.withBackend} takes: the store's backend bound to a
 * transaction.
 */
export interface TokenVaultStore<Tx = unknown> {
  /** The backend kind, e.g. `postgres`. */
  readonly kind: string;
  /** The backend the store works on. */
  readonly backend: StorageBackend;
  /** Creates or upgrades the store's tables (component `privacy-tokens`). Safe to call concurrently. */
  migrate(): Promise<MigrationReport>;
  /** The store's clock. */
  now(): Promise<Date>;
  /**
   * The same store over `backend`, a backend bound to a transaction.
   *
   * @throws TypeError when `backend` is not a backend of the store's kind.
   */
  withBackend(backend: Tx): TokenVaultStore<Tx>;
  /**
   * Stores the token if it is not stored yet, in one round trip; either way returns the stored
   * row. Concurrent puts of one token store one row and all return it.
   */
  put(token: TokenPut): Promise<TokenPutResult>;
  /** The row of this token, or `undefined`. */
  get(token: string): Promise<TokenRow | undefined>;
  /**
   * Deletes up to `limit` tokens of one data subject; returns how many. Erasure calls it until it
   * returns less than the limit.
   */
  deleteBySubject(subject: string, limit: number): Promise<number>;
  /** Releases what the store opened (the backend only when it owns it). Idempotent. */
  close(): Promise<void>;
}
