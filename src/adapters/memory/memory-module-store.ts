/**
 * What every memory module store shares: the backend it works on (its own, or a transaction's
 * through `withBackend`), the migration bookkeeping, and the check that `migrate()` ran, made once
 * per store and shared with the stores `withBackend` derives from it.
 */
import type { MigrationReport, MigrationSet } from '../../core/storage-backend.js';
import type { MemoryBackend } from './memory-backend.js';

/** Whether the schema was checked, shared by a store and the stores derived from it. */
export interface MemoryStoreState {
  migrated: boolean;
}

/** The base of the memory module stores (entity, saga, outbox). */
export abstract class MemoryModuleStore {
  readonly kind = 'memory' as const;
  readonly backend: MemoryBackend;
  /** Shared with the stores `withBackend` derives. */
  protected readonly state: MemoryStoreState;
  readonly #ownsBackend: boolean;
  readonly #migrations: MigrationSet<MemoryBackend>;

  constructor(
    backend: MemoryBackend,
    ownsBackend: boolean,
    state: MemoryStoreState,
    migrations: MigrationSet<MemoryBackend>,
  ) {
    this.backend = backend;
    this.#ownsBackend = ownsBackend;
    this.state = state;
    this.#migrations = migrations;
  }

  async migrate(): Promise<MigrationReport> {
    const report = await this.backend.migrate(this.#migrations);
    this.state.migrated = true;
    return report;
  }

  now(): Promise<Date> {
    return this.backend.now();
  }

  async close(): Promise<void> {
    if (this.#ownsBackend) await this.backend.close();
  }

  /** `SCHEMA_OUTDATED` until `migrate()` ran on this backend; checked once. */
  protected async assertMigrated(): Promise<void> {
    if (this.state.migrated) return;
    const latest = Math.max(...this.#migrations.migrations.map((m) => m.version));
    await this.backend.assertSchemaVersion(this.#migrations.component, latest);
    this.state.migrated = true;
  }
}

/** Throws unless `backend` is a memory backend (what `withBackend` accepts). */
export function assertMemoryBackend(backend: MemoryBackend): void {
  if (backend?.kind !== 'memory') throw new TypeError('backend must be a memory backend');
}
