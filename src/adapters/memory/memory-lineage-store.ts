import { assertStoreOptions } from '../../core/options.js';
import type { MigrationSet } from '../../core/storage-backend.js';
import {
  LINEAGE_STORE_COMPONENT,
  type LineageAppend,
  type LineageCorrelationRead,
  type LineageHistoryRead,
  type LineagePurgeRequest,
  type LineageRow,
  type LineageStore,
} from '../../lineage/lineage-store.js';
import {
  checkCorrelationRead,
  checkHistoryRead,
  checkLatest,
  checkLineageAppends,
  checkPurge,
  compareLineagePosition,
  lineageRecordExists,
} from '../lineage-store-input.js';
import type { MemoryBackend } from './memory-backend.js';
import {
  assertMemoryBackend,
  MemoryModuleStore,
  type MemoryStoreState,
} from './memory-module-store.js';

/** Options of {@link createMemoryLineageStore}. */
export interface MemoryLineageStoreOptions {
  /** The memory backend holding the records. */
  readonly backend: MemoryBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link LineageStore} over a {@link MemoryBackend}. */
export interface MemoryLineageStore extends LineageStore<MemoryBackend> {
  /** Always `memory`. */
  readonly kind: 'memory';
  /** The backend. */
  readonly backend: MemoryBackend;
  /**
   * The same store over `backend`, typically the one `backend.transaction()` passes to its
   * callback, so records appended through it commit or roll back with the rest of the
   * transaction.
   *
   * @throws TypeError when `backend` is not a memory backend.
   */
  withBackend(backend: MemoryBackend): MemoryLineageStore;
}

/** The records collection: rows keyed by id. */
const RECORDS = 'lineage_records';

/**
 * The schema of the memory lineage store (component `lineage`), applied by
 * {@link MemoryLineageStore.migrate}; exported for applications that run migrations with their
 * own tooling.
 */
export const memoryLineageStoreMigrations: MigrationSet<MemoryBackend> = {
  component: LINEAGE_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'lineage records',
      up: (backend) => {
        backend.collection(RECORDS);
      },
    },
  ],
};

/**
 * Creates a lineage store over an in-memory backend: for tests, examples and single-process
 * tools. Times are the backend's clock. Appends run under the backend's `exclusive()`, so a batch
 * is all or none with respect to other appends and to the backend's transactions; an append
 * through a transaction's backend rolls back with it. Reads scan every record: keep it to test
 * sizes.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import { createMemoryBackend, createMemoryLineageStore } from 'flowproof/adapters/memory';
 *
 * const store = createMemoryLineageStore({ backend: createMemoryBackend() });
 * await store.migrate();
 * ```
 */
export function createMemoryLineageStore(options: MemoryLineageStoreOptions): MemoryLineageStore {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    'memory',
    'memory',
    'createMemoryBackend',
  );
  return new MemoryLineageStoreImpl(backend, ownsBackend, { migrated: false });
}

class MemoryLineageStoreImpl extends MemoryModuleStore implements MemoryLineageStore {
  constructor(backend: MemoryBackend, ownsBackend: boolean, state: MemoryStoreState) {
    super(backend, ownsBackend, state, memoryLineageStoreMigrations);
  }

  withBackend(backend: MemoryBackend): MemoryLineageStore {
    assertMemoryBackend(backend);
    return new MemoryLineageStoreImpl(backend, false, this.state);
  }

  async append(records: readonly LineageAppend[]): Promise<readonly LineageRow[]> {
    await this.assertMigrated();
    checkLineageAppends(records);
    if (records.length === 0) return [];
    return this.backend.exclusive(() => {
      const stored = this.#records();
      const clash = records.find((record) => stored.has(record.id));
      if (clash !== undefined) throw lineageRecordExists(clash.id);
      const recordedAt = this.backend.clock.now().getTime();
      const rows = records.map((record): LineageRow => ({ ...copy(record), recordedAt }));
      for (const row of rows) stored.set(row.id, row);
      return rows.map((row) => ({ ...row }));
    });
  }

  async latest(entity: string, field: string, at?: number): Promise<LineageRow | undefined> {
    await this.assertMigrated();
    checkLatest(entity, field, at);
    const until = at ?? Number.MAX_SAFE_INTEGER;
    const [newest] = this.#select((r) => isValueOf(r, entity, field) && r.recordedAt <= until, -1);
    return newest;
  }

  async history(read: LineageHistoryRead): Promise<readonly LineageRow[]> {
    await this.assertMigrated();
    checkHistoryRead(read);
    const { entity, field, before } = read;
    return this.#select(
      (r) =>
        isValueOf(r, entity, field) &&
        (before === undefined || compareLineagePosition(r, before) < 0),
      -1,
    ).slice(0, read.limit);
  }

  async byCorrelation(read: LineageCorrelationRead): Promise<readonly LineageRow[]> {
    await this.assertMigrated();
    checkCorrelationRead(read);
    const { correlationId, kind, after } = read;
    return this.#select(
      (r) =>
        r.correlationId === correlationId &&
        (kind === undefined || r.kind === kind) &&
        (after === undefined || compareLineagePosition(r, after) > 0),
      1,
    ).slice(0, read.limit);
  }

  async purge(request: LineagePurgeRequest): Promise<number> {
    await this.assertMigrated();
    checkPurge(request);
    return this.backend.exclusive(() => {
      const expired = this.#select((r) => r.recordedAt < request.before, 1);
      const doomed = expired.slice(0, request.limit);
      const stored = this.#records();
      for (const row of doomed) stored.delete(row.id);
      return doomed.length;
    });
  }

  #records(): Map<string, LineageRow> {
    return this.backend.collection<LineageRow>(RECORDS);
  }

  /** Copies of the rows `keep` accepts, by time then id: ascending for 1, descending for -1. */
  #select(keep: (row: LineageRow) => boolean, direction: 1 | -1): LineageRow[] {
    return [...this.#records().values()]
      .filter(keep)
      .sort((a, b) => direction * compareLineagePosition(a, b))
      .map((row) => ({ ...row }));
  }
}

function isValueOf(row: LineageRow, entity: string, field: string): boolean {
  return row.kind === 'value' && row.entity === entity && row.field === field;
}

/** The record's fields only, so a caller's later change to its object never reaches the store. */
function copy(record: LineageAppend): LineageAppend {
  const { id, kind, entity, field, job, runId, correlationId, causationId, body } = record;
  return { id, kind, entity, field, job, runId, correlationId, causationId, body };
}
