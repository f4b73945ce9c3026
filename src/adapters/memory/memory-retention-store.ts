import { assertStoreOptions } from '../../core/options.js';
import type { MigrationSet } from '../../core/storage-backend.js';
import {
  type CreatedErasureRequest,
  type DeadlineQuery,
  type ErasureLedgerEntry,
  type ErasureLocationRow,
  type ErasureRequestPatch,
  type ErasureRequestRow,
  type HoldLookup,
  type LegalHoldRow,
  type NewErasureRequest,
  type NewLegalHold,
  RETENTION_STORE_COMPONENT,
  type RetentionStore,
  type SettledLocation,
} from '../../retention/retention-store.js';
import {
  checkAddLocations,
  checkDeadlineQuery,
  checkHoldList,
  checkHoldLookup,
  checkKey,
  checkLedgerEntry,
  checkLedgerQuery,
  checkMark,
  checkNewHold,
  checkNewRequest,
  checkRelease,
  checkSettle,
  checkStatusQuery,
  checkSubjectRead,
  checkUpdate,
  DEFAULT_HOLD_LIMIT,
  type HoldListQuery,
  holdCovers,
  isFinalStatus,
  isOpenStatus,
  requestNotFound,
  type StatusQuery,
} from '../retention-store-input.js';
import type { MemoryBackend } from './memory-backend.js';
import {
  assertMemoryBackend,
  MemoryModuleStore,
  type MemoryStoreState,
} from './memory-module-store.js';

/** Options of {@link createMemoryRetentionStore}. */
export interface MemoryRetentionStoreOptions {
  /** The memory backend holding the requests, holds and ledger. */
  readonly backend: MemoryBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link RetentionStore} over a {@link MemoryBackend}. */
export interface MemoryRetentionStore extends RetentionStore<MemoryBackend> {
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
  withBackend(backend: MemoryBackend): MemoryRetentionStore;
}

const REQUESTS = 'erasure_requests';
/** Keyed by `JSON.stringify([requestId, location])`. */
const LOCATIONS = 'erasure_locations';
const HOLDS = 'legal_holds';
const LEDGER = 'erasure_ledger';

/**
 * The schema of the memory retention store (component `retention`), applied by
 * {@link MemoryRetentionStore.migrate}; exported for applications that run migrations with their
 * own tooling.
 */
export const memoryRetentionStoreMigrations: MigrationSet<MemoryBackend> = {
  component: RETENTION_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'erasure requests, locations, legal holds and the erasure ledger',
      up: (backend) => {
        for (const name of [REQUESTS, LOCATIONS, HOLDS, LEDGER]) backend.collection(name);
      },
    },
  ],
};

/**
 * Creates a retention store over an in-memory backend: for tests, examples and single-process
 * tools. Times are the backend's clock. Every write runs under the backend's `exclusive()`, so
 * an insert-or-find or a compare-and-set is atomic with respect to other writes and to the
 * backend's transactions; a write through a transaction's backend rolls back with it. Reads scan
 * every row: keep it to test sizes.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import { createMemoryBackend, createMemoryRetentionStore } from 'flowproof/adapters/memory';
 *
 * const store = createMemoryRetentionStore({ backend: createMemoryBackend() });
 * await store.migrate();
 * ```
 */
export function createMemoryRetentionStore(
  options: MemoryRetentionStoreOptions,
): MemoryRetentionStore {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    'memory',
    'memory',
    'createMemoryBackend',
  );
  return new MemoryRetentionStoreImpl(backend, ownsBackend, { migrated: false });
}

class MemoryRetentionStoreImpl extends MemoryModuleStore implements MemoryRetentionStore {
  constructor(backend: MemoryBackend, ownsBackend: boolean, state: MemoryStoreState) {
    super(backend, ownsBackend, state, memoryRetentionStoreMigrations);
  }

  withBackend(backend: MemoryBackend): MemoryRetentionStore {
    assertMemoryBackend(backend);
    return new MemoryRetentionStoreImpl(backend, false, this.state);
  }

  async createRequest(input: NewErasureRequest): Promise<CreatedErasureRequest> {
    await this.assertMigrated();
    const request = checkNewRequest(input);
    return this.backend.exclusive(() => {
      const requests = this.#requests();
      const found =
        requests.get(request.id) ??
        [...requests.values()].find(
          (r) =>
            r.subject === request.subject && r.scope === request.scope && isOpenStatus(r.status),
        );
      if (found !== undefined) return { row: { ...found }, created: false };
      const receivedAt = this.#now();
      const row: ErasureRequestRow = {
        id: request.id,
        subject: request.subject,
        scope: request.scope,
        source: request.source,
        reason: request.reason,
        actor: request.actor,
        status: 'resolving',
        receivedAt,
        eraseAfter: receivedAt + request.graceMs,
        dueAt: receivedAt + request.dueInMs,
        extensions: null,
        finishedAt: null,
        version: 1,
      };
      requests.set(row.id, row);
      return { row: { ...row }, created: true };
    });
  }

  async getRequest(id: string): Promise<ErasureRequestRow | undefined> {
    await this.assertMigrated();
    checkKey(id, 'id');
    return copy(this.#requests().get(id));
  }

  async updateRequest(
    id: string,
    expectedVersion: number,
    input: ErasureRequestPatch,
  ): Promise<ErasureRequestRow | undefined> {
    await this.assertMigrated();
    const patch = checkUpdate(id, expectedVersion, input);
    return this.backend.exclusive(() => {
      const requests = this.#requests();
      const row = requests.get(id);
      if (row === undefined || row.version !== expectedVersion) return undefined;
      const { status } = patch;
      const updated: ErasureRequestRow = {
        ...row,
        status: status ?? row.status,
        eraseAfter: patch.eraseAfter ?? row.eraseAfter,
        dueAt: patch.dueAt ?? row.dueAt,
        extensions: patch.extensions === undefined ? row.extensions : patch.extensions,
        finishedAt:
          status === undefined ? row.finishedAt : isFinalStatus(status) ? this.#now() : null,
        version: row.version + 1,
      };
      requests.set(id, updated);
      return { ...updated };
    });
  }

  async requestsByStatus(input: StatusQuery): Promise<readonly ErasureRequestRow[]> {
    await this.assertMigrated();
    const { statuses, eraseBy, afterId = '', limit } = checkStatusQuery(input);
    return [...this.#requests().values()]
      .filter(
        (r) =>
          statuses.includes(r.status) &&
          (eraseBy === undefined || r.eraseAfter <= eraseBy) &&
          compareText(r.id, afterId) > 0,
      )
      .sort((a, b) => compareText(a.id, b.id))
      .slice(0, limit)
      .map((r) => ({ ...r }));
  }

  async requestsOfSubject(subject: string, limit: number): Promise<readonly ErasureRequestRow[]> {
    await this.assertMigrated();
    checkSubjectRead(subject, limit);
    return [...this.#requests().values()]
      .filter((r) => r.subject === subject)
      .sort((a, b) => compareText(b.id, a.id))
      .slice(0, limit)
      .map((r) => ({ ...r }));
  }

  async requestsDueBefore(input: DeadlineQuery): Promise<readonly ErasureRequestRow[]> {
    await this.assertMigrated();
    const { dueBefore, after, limit } = checkDeadlineQuery(input);
    const byDeadline = (a: { dueAt: number; id: string }, b: { dueAt: number; id: string }) =>
      a.dueAt - b.dueAt || compareText(a.id, b.id);
    return [...this.#requests().values()]
      .filter(
        (r) =>
          isOpenStatus(r.status) &&
          r.dueAt < dueBefore &&
          (after === undefined || byDeadline(r, after) > 0),
      )
      .sort(byDeadline)
      .slice(0, limit)
      .map((r) => ({ ...r }));
  }

  async addLocations(
    requestId: string,
    input: readonly { readonly location: string; readonly identifiers: string | null }[],
  ): Promise<number> {
    await this.assertMigrated();
    const locations = checkAddLocations(requestId, input);
    if (locations.length === 0) return 0;
    return this.backend.exclusive(() => {
      if (!this.#requests().has(requestId)) throw requestNotFound(requestId);
      const stored = this.#locations();
      const addedAt = this.#now();
      let added = 0;
      for (const { location, identifiers } of locations) {
        const key = locationKey(requestId, location);
        if (stored.has(key)) continue;
        stored.set(key, {
          requestId,
          location,
          status: 'pending',
          identifiers,
          receipt: null,
          error: null,
          addedAt,
          settledAt: null,
        });
        added++;
      }
      return added;
    });
  }

  async locations(requestId: string): Promise<readonly ErasureLocationRow[]> {
    await this.assertMigrated();
    checkKey(requestId, 'requestId');
    return [...this.#locations().values()]
      .filter((l) => l.requestId === requestId)
      .sort((a, b) => compareText(a.location, b.location))
      .map((l) => ({ ...l }));
  }

  async markLocation(
    requestId: string,
    location: string,
    status: 'started' | 'failed',
    error?: string | null,
  ): Promise<ErasureLocationRow | undefined> {
    await this.assertMigrated();
    checkMark(requestId, location, status, error);
    return this.backend.exclusive(() => {
      const stored = this.#locations();
      const key = locationKey(requestId, location);
      const row = stored.get(key);
      if (row === undefined || row.status === 'done') return copy(row);
      const marked = { ...row, status, error: status === 'failed' ? (error ?? null) : null };
      stored.set(key, marked);
      return { ...marked };
    });
  }

  async settleLocation(
    requestId: string,
    location: string,
    receipt: string,
  ): Promise<SettledLocation> {
    await this.assertMigrated();
    checkSettle(requestId, location, receipt);
    return this.backend.exclusive(() => {
      const stored = this.#locations();
      const key = locationKey(requestId, location);
      const row = stored.get(key);
      if (row === undefined) throw requestNotFound(requestId, location);
      if (row.receipt !== null) return { row: { ...row }, settled: false };
      const settled: ErasureLocationRow = {
        ...row,
        status: 'done',
        receipt,
        error: null,
        settledAt: this.#now(),
      };
      stored.set(key, settled);
      return { row: { ...settled }, settled: true };
    });
  }

  async clearIdentifiers(requestId: string): Promise<number> {
    await this.assertMigrated();
    checkKey(requestId, 'requestId');
    return this.backend.exclusive(() => {
      const stored = this.#locations();
      let cleared = 0;
      for (const [key, row] of stored) {
        if (row.requestId !== requestId || row.identifiers === null) continue;
        stored.set(key, { ...row, identifiers: null });
        cleared++;
      }
      return cleared;
    });
  }

  async placeHold(input: NewLegalHold): Promise<LegalHoldRow> {
    await this.assertMigrated();
    const hold = checkNewHold(input);
    return this.backend.exclusive(() => {
      const holds = this.#holds();
      const found = holds.get(hold.id);
      if (found !== undefined) return { ...found };
      const row: LegalHoldRow = {
        id: hold.id,
        subject: hold.subject,
        dataType: hold.dataType,
        reason: hold.reason,
        owner: hold.owner,
        placedAt: this.#now(),
        releasedAt: null,
        releaseReason: null,
      };
      holds.set(row.id, row);
      return { ...row };
    });
  }

  async releaseHold(id: string, reason: string): Promise<LegalHoldRow | undefined> {
    await this.assertMigrated();
    checkRelease(id, reason);
    return this.backend.exclusive(() => {
      const holds = this.#holds();
      const row = holds.get(id);
      if (row === undefined || row.releasedAt !== null) return copy(row);
      const released = { ...row, releasedAt: this.#now(), releaseReason: reason };
      holds.set(id, released);
      return { ...released };
    });
  }

  async getHold(id: string): Promise<LegalHoldRow | undefined> {
    await this.assertMigrated();
    checkKey(id, 'id');
    return copy(this.#holds().get(id));
  }

  async activeHolds(
    input: HoldLookup,
    limit: number = DEFAULT_HOLD_LIMIT,
  ): Promise<readonly LegalHoldRow[]> {
    await this.assertMigrated();
    const lookup = checkHoldLookup(input, limit);
    return [...this.#holds().values()]
      .filter((h) => h.releasedAt === null && holdCovers(h, lookup))
      .sort((a, b) => compareText(a.id, b.id))
      .slice(0, limit)
      .map((h) => ({ ...h }));
  }

  async listHolds(input: HoldListQuery): Promise<readonly LegalHoldRow[]> {
    await this.assertMigrated();
    const { activeOnly = false, afterId = '', limit } = checkHoldList(input);
    return [...this.#holds().values()]
      .filter((h) => (!activeOnly || h.releasedAt === null) && compareText(h.id, afterId) > 0)
      .sort((a, b) => compareText(a.id, b.id))
      .slice(0, limit)
      .map((h) => ({ ...h }));
  }

  async appendLedger(input: Omit<ErasureLedgerEntry, 'erasedAt'>): Promise<ErasureLedgerEntry> {
    await this.assertMigrated();
    const entry = checkLedgerEntry(input);
    return this.backend.exclusive(() => {
      const ledger = this.#ledger();
      const found = ledger.get(entry.requestId);
      if (found !== undefined) return { ...found };
      const row: ErasureLedgerEntry = {
        requestId: entry.requestId,
        subject: entry.subject,
        scope: entry.scope,
        erasedAt: this.#now(),
      };
      ledger.set(row.requestId, row);
      return { ...row };
    });
  }

  async ledger(input: {
    readonly afterRequestId?: string;
    readonly limit: number;
  }): Promise<readonly ErasureLedgerEntry[]> {
    await this.assertMigrated();
    const { afterRequestId = '', limit } = checkLedgerQuery(input);
    return [...this.#ledger().values()]
      .filter((e) => compareText(e.requestId, afterRequestId) > 0)
      .sort((a, b) => compareText(a.requestId, b.requestId))
      .slice(0, limit)
      .map((e) => ({ ...e }));
  }

  #now(): number {
    return this.backend.clock.now().getTime();
  }

  #requests(): Map<string, ErasureRequestRow> {
    return this.backend.collection<ErasureRequestRow>(REQUESTS);
  }

  #locations(): Map<string, ErasureLocationRow> {
    return this.backend.collection<ErasureLocationRow>(LOCATIONS);
  }

  #holds(): Map<string, LegalHoldRow> {
    return this.backend.collection<LegalHoldRow>(HOLDS);
  }

  #ledger(): Map<string, ErasureLedgerEntry> {
    return this.backend.collection<ErasureLedgerEntry>(LEDGER);
  }
}

function locationKey(requestId: string, location: string): string {
  return JSON.stringify([requestId, location]);
}

function copy<T extends object>(row: T | undefined): T | undefined {
  return row === undefined ? undefined : { ...row };
}

/**
 * Orders text by code point, as the SQL stores' byte-wise collations order UTF-8 (JavaScript's
 * `<` compares UTF-16 code units, which puts U+E000–U+FFFF after astral characters).
 */
function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}
