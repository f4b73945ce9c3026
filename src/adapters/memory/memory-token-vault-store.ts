import { assertStoreOptions } from '../../core/options.js';
import type { MigrationSet } from '../../core/storage-backend.js';
import {
  TOKEN_VAULT_STORE_COMPONENT,
  type TokenPut,
  type TokenPutResult,
  type TokenRow,
  type TokenVaultStore,
} from '../../privacy/token-vault-store.js';
import { checkDeleteBySubject, checkToken, checkTokenPut } from '../token-vault-store-input.js';
import type { MemoryBackend } from './memory-backend.js';
import {
  assertMemoryBackend,
  MemoryModuleStore,
  type MemoryStoreState,
} from './memory-module-store.js';

/** Options of {@link createMemoryTokenVaultStore}. */
export interface MemoryTokenVaultStoreOptions {
  /** The memory backend holding the tokens. */
  readonly backend: MemoryBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link TokenVaultStore} over a {@link MemoryBackend}. */
export interface MemoryTokenVaultStore extends TokenVaultStore<MemoryBackend> {
  /** Always `memory`. */
  readonly kind: 'memory';
  /** The backend. */
  readonly backend: MemoryBackend;
  /**
   * The same store over `backend`, typically the one `backend.transaction()` passes to its
   * callback, so what it writes commits or rolls back with the rest of the transaction.
   *
   * @throws TypeError when `backend` is not a memory backend.
   */
  withBackend(backend: MemoryBackend): MemoryTokenVaultStore;
}

/** The tokens collection: rows keyed by token. */
const TOKENS = 'privacy_tokens';

/**
 * The schema of the memory token-vault store (component `privacy-tokens`), applied by
 * {@link MemoryTokenVaultStore.migrate}; exported for applications that run migrations with
 * their own tooling.
 */
export const memoryTokenVaultStoreMigrations: MigrationSet<MemoryBackend> = {
  component: TOKEN_VAULT_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'tokens',
      up: (backend) => {
        backend.collection(TOKENS);
      },
    },
  ],
};

/**
 * Creates a token-vault store over an in-memory backend: for tests, examples and single-process
 * tools. Times are the backend's clock. Writes run under the backend's `exclusive()`, so
 * concurrent puts of one token store one row; a write through a transaction's backend rolls back
 * with it. `deleteBySubject` scans every token: keep it to test sizes.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import { createMemoryBackend, createMemoryTokenVaultStore } from 'flowproof/adapters/memory';
 *
 * const store = createMemoryTokenVaultStore({ backend: createMemoryBackend() });
 * await store.migrate();
 * ```
 */
export function createMemoryTokenVaultStore(
  options: MemoryTokenVaultStoreOptions,
): MemoryTokenVaultStore {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    'memory',
    'memory',
    'createMemoryBackend',
  );
  return new MemoryTokenVaultStoreImpl(backend, ownsBackend, { migrated: false });
}

class MemoryTokenVaultStoreImpl extends MemoryModuleStore implements MemoryTokenVaultStore {
  constructor(backend: MemoryBackend, ownsBackend: boolean, state: MemoryStoreState) {
    super(backend, ownsBackend, state, memoryTokenVaultStoreMigrations);
  }

  withBackend(backend: MemoryBackend): MemoryTokenVaultStore {
    assertMemoryBackend(backend);
    return new MemoryTokenVaultStoreImpl(backend, false, this.state);
  }

  async put(token: TokenPut): Promise<TokenPutResult> {
    checkTokenPut(token);
    await this.assertMigrated();
    // Only the port's fields, so a caller's later change to its object never reaches the store.
    const { tenant, type, subject, ciphertext } = token;
    return this.backend.exclusive(() => {
      const tokens = this.#tokens();
      const stored = tokens.get(token.token);
      if (stored !== undefined) return { row: { ...stored }, created: false };
      const row: TokenRow = {
        token: token.token,
        tenant,
        type,
        subject,
        ciphertext,
        createdAt: this.backend.clock.now().getTime(),
      };
      tokens.set(row.token, row);
      return { row: { ...row }, created: true };
    });
  }

  async get(token: string): Promise<TokenRow | undefined> {
    checkToken(token);
    await this.assertMigrated();
    const row = this.#tokens().get(token);
    return row && { ...row };
  }

  async deleteBySubject(subject: string, limit: number): Promise<number> {
    checkDeleteBySubject(subject, limit);
    await this.assertMigrated();
    return this.backend.exclusive(() => {
      const tokens = this.#tokens();
      let deleted = 0;
      for (const row of tokens.values()) {
        if (deleted === limit) break;
        if (row.subject === subject) {
          tokens.delete(row.token);
          deleted++;
        }
      }
      return deleted;
    });
  }

  #tokens(): Map<string, TokenRow> {
    return this.backend.collection<TokenRow>(TOKENS);
  }
}
