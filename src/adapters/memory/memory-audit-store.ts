import { auditRecordBody, auditRecordHash } from '../../audit/audit-encoding.js';
import {
  AUDIT_GENESIS_HASH,
  AUDIT_STORE_COMPONENT,
  type AuditAppend,
  type AuditArchiveRequest,
  type AuditChainHead,
  type AuditChainRead,
  type AuditCheckpoint,
  type AuditCheckpointRead,
  type AuditRow,
  type AuditStore,
  type AuditStoreQuery,
} from '../../audit/audit-store.js';
import { assertStoreOptions } from '../../core/options.js';
import type { MigrationSet } from '../../core/storage-backend.js';
import {
  archiveRefusal,
  checkAppends,
  checkArchive,
  checkChain,
  checkChainRead,
  checkCheckpoint,
  checkCheckpointRead,
  checkStoreQuery,
  checkVerifiedMark,
} from '../audit-store-input.js';
import type { MemoryBackend } from './memory-backend.js';
import {
  assertMemoryBackend,
  MemoryModuleStore,
  type MemoryStoreState,
} from './memory-module-store.js';

/** Options of {@link createMemoryAuditStore}. */
export interface MemoryAuditStoreOptions {
  /** The memory backend holding the records. */
  readonly backend: MemoryBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link AuditStore} over a {@link MemoryBackend}. */
export interface MemoryAuditStore extends AuditStore<MemoryBackend> {
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
  withBackend(backend: MemoryBackend): MemoryAuditStore;
}

/** The records collection: keys are {@link recordKey}s. */
export const MEMORY_AUDIT_RECORDS = 'audit_records';
const HEADS = 'audit_heads';
const CHECKPOINTS = 'audit_checkpoints';
const VERIFIED = 'audit_verified';

/** A record as the memory store keeps it: the row and the fields queries filter on. */
export interface MemoryAuditRecord extends AuditRow {
  readonly action: string;
  readonly actorId: string | null;
  readonly resourceType: string;
  readonly resourceId: string;
  readonly correlationId: string | null;
}

/**
 * `row` as the records collection keeps it, its query fields read from its body (none when the
 * body is not JSON): for code that writes the collection directly, as tamper tests do.
 */
export function memoryAuditRecord(row: AuditRow): MemoryAuditRecord {
  let content: {
    action?: string;
    actor?: { id?: string };
    resource?: { type?: string; id?: string };
    correlationId?: string;
  } = {};
  try {
    content = JSON.parse(row.body);
  } catch {
    // A body written around the store: no query fields.
  }
  return {
    ...row,
    action: content?.action ?? '',
    actorId: content?.actor?.id ?? null,
    resourceType: content?.resource?.type ?? '',
    resourceId: content?.resource?.id ?? '',
    correlationId: content?.correlationId ?? null,
  };
}

/** The key of record `seq` of `chain` in the records collection. */
export function recordKey(chain: string, seq: number): string {
  return `${chain}\u0000${seq}`;
}

/**
 * The schema of the memory audit store (component `audit`), applied by
 * {@link MemoryAuditStore.migrate}; exported for applications that run migrations with their own
 * tooling.
 */
export const memoryAuditStoreMigrations: MigrationSet<MemoryBackend> = {
  component: AUDIT_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'audit records',
      up: (backend) => {
        for (const name of [MEMORY_AUDIT_RECORDS, HEADS, CHECKPOINTS, VERIFIED]) {
          backend.collection(name);
        }
      },
    },
  ],
};

/**
 * Creates an audit store over an in-memory backend: for tests, examples and single-process
 * tools. Times are the backend's clock. Appends run under the backend's `exclusive()`, so they
 * are atomic with respect to each other and to the backend's transactions; an append through a
 * transaction's backend rolls back with it, head included, leaving no gap. Nothing stops code
 * holding the backend from changing its collections: the memory store proves the audit logic,
 * not a database's protection.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const backend = createMemoryBackend();
 * const store = createMemoryAuditStore({ backend });
 * await store.migrate();
 * const audit = createAuditLog({ store });
 * ```
 */
export function createMemoryAuditStore(options: MemoryAuditStoreOptions): MemoryAuditStore {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    'memory',
    'memory',
    'createMemoryBackend',
  );
  return new MemoryAuditStoreImpl(backend, ownsBackend, { migrated: false });
}

class MemoryAuditStoreImpl extends MemoryModuleStore implements MemoryAuditStore {
  constructor(backend: MemoryBackend, ownsBackend: boolean, state: MemoryStoreState) {
    super(backend, ownsBackend, state, memoryAuditStoreMigrations);
  }

  withBackend(backend: MemoryBackend): MemoryAuditStore {
    assertMemoryBackend(backend);
    return new MemoryAuditStoreImpl(backend, false, this.state);
  }

  async append(entries: readonly AuditAppend[]): Promise<readonly AuditRow[]> {
    if (!this.state.migrated) await this.assertMigrated();
    checkAppends(entries);
    if (entries.length === 0) return [];
    return this.backend.exclusive(() => {
      const records = this.backend.collection<MemoryAuditRecord>(MEMORY_AUDIT_RECORDS);
      const heads = this.backend.collection<AuditChainHead>(HEADS);
      const now = this.backend.clock.now().getTime();
      // Heads move in a local copy first: nothing is written unless every entry is.
      const moved = new Map<string, AuditChainHead>();
      const rows: MemoryAuditRecord[] = [];
      for (const entry of entries) {
        const head = moved.get(entry.chain) ??
          heads.get(entry.chain) ?? {
            chain: entry.chain,
            seq: 0,
            hash: AUDIT_GENESIS_HASH,
            archivedThrough: 0,
          };
        const seq = head.seq + 1;
        const body = auditRecordBody(entry.chain, seq, now, entry.content);
        const hash = auditRecordHash(head.hash, body);
        rows.push({
          chain: entry.chain,
          seq,
          recordedAt: now,
          body,
          prevHash: head.hash,
          hash,
          action: entry.action,
          actorId: entry.actorId,
          resourceType: entry.resourceType,
          resourceId: entry.resourceId,
          correlationId: entry.correlationId,
        });
        moved.set(entry.chain, { ...head, seq, hash });
      }
      for (const row of rows) records.set(recordKey(row.chain, row.seq), row);
      for (const [chain, head] of moved) heads.set(chain, head);
      return rows.map(toRow);
    });
  }

  async readChain(read: AuditChainRead): Promise<readonly AuditRow[]> {
    await this.assertMigrated();
    checkChainRead(read);
    const records = this.backend.collection<MemoryAuditRecord>(MEMORY_AUDIT_RECORDS);
    const head = this.backend.collection<AuditChainHead>(HEADS).get(read.chain);
    // Sequence numbers are dense, so a range is read key by key up to the head (or the bound),
    // and past the head as long as records follow: as the SQL stores do, records put there
    // around the store are returned, for verification to report.
    const last = read.throughSeq ?? Number.MAX_SAFE_INTEGER;
    const headSeq = head?.seq ?? 0;
    const rows: AuditRow[] = [];
    for (let seq = read.afterSeq + 1; seq <= last && rows.length < read.limit; seq++) {
      const record = records.get(recordKey(read.chain, seq));
      if (record !== undefined) rows.push(toRow(record));
      else if (seq > headSeq) break;
    }
    return rows;
  }

  async heads(chain?: string): Promise<readonly AuditChainHead[]> {
    await this.assertMigrated();
    if (chain !== undefined) checkChain(chain);
    const heads = this.backend.collection<AuditChainHead>(HEADS);
    if (chain !== undefined) {
      const head = heads.get(chain);
      return head === undefined ? [] : [head];
    }
    return [...heads.values()].sort((a, b) => compareText(a.chain, b.chain));
  }

  async query(query: AuditStoreQuery): Promise<readonly AuditRow[]> {
    await this.assertMigrated();
    checkStoreQuery(query);
    const after = query.after;
    const matches = [
      ...this.backend.collection<MemoryAuditRecord>(MEMORY_AUDIT_RECORDS).values(),
    ].filter(
      (r) =>
        (query.chain === undefined || r.chain === query.chain) &&
        (query.action === undefined || r.action === query.action) &&
        (query.actorId === undefined || r.actorId === query.actorId) &&
        (query.resourceType === undefined || r.resourceType === query.resourceType) &&
        (query.resourceId === undefined || r.resourceId === query.resourceId) &&
        (query.correlationId === undefined || r.correlationId === query.correlationId) &&
        (query.from === undefined || r.recordedAt >= query.from) &&
        (query.to === undefined || r.recordedAt < query.to) &&
        (after === undefined || comparePosition(r, after) > 0),
    );
    return matches.sort(comparePosition).slice(0, query.limit).map(toRow);
  }

  async addCheckpoint(checkpoint: AuditCheckpoint): Promise<void> {
    await this.assertMigrated();
    checkCheckpoint(checkpoint);
    const key = `${recordKey(checkpoint.chain, checkpoint.seq)}\u0000${checkpoint.keyId}`;
    await this.backend.exclusive(() => {
      const checkpoints = this.backend.collection<AuditCheckpoint>(CHECKPOINTS);
      if (!checkpoints.has(key)) checkpoints.set(key, { ...checkpoint });
    });
  }

  async checkpoints(read: AuditCheckpointRead): Promise<readonly AuditCheckpoint[]> {
    await this.assertMigrated();
    checkCheckpointRead(read);
    return [...this.backend.collection<AuditCheckpoint>(CHECKPOINTS).values()]
      .filter((c) => c.chain === read.chain && c.seq > read.afterSeq)
      .sort((a, b) => a.seq - b.seq || compareText(a.keyId, b.keyId))
      .slice(0, read.limit)
      .map((c) => ({ ...c }));
  }

  async markVerified(chain: string, seq: number, hash: string): Promise<void> {
    await this.assertMigrated();
    checkVerifiedMark(chain, seq, hash);
    await this.backend.exclusive(() => {
      this.backend.collection<{ seq: number; hash: string }>(VERIFIED).set(chain, { seq, hash });
    });
  }

  async lastVerified(chain: string): Promise<{ seq: number; hash: string } | undefined> {
    await this.assertMigrated();
    checkChain(chain);
    const mark = this.backend.collection<{ seq: number; hash: string }>(VERIFIED).get(chain);
    return mark === undefined ? undefined : { ...mark };
  }

  async archive(request: AuditArchiveRequest): Promise<number> {
    await this.assertMigrated();
    checkArchive(request);
    return this.backend.exclusive(() => {
      const heads = this.backend.collection<AuditChainHead>(HEADS);
      const head = heads.get(request.chain);
      const { chain, throughSeq } = request;
      const covered = [...this.backend.collection<AuditCheckpoint>(CHECKPOINTS).values()].some(
        (c) => c.chain === chain && c.seq === throughSeq,
      );
      const refusal = archiveRefusal(request, head?.seq ?? 0, head?.archivedThrough ?? 0, covered);
      if (refusal !== undefined) throw refusal;
      if (head === undefined) return 0;
      heads.set(chain, { ...head, archivedThrough: throughSeq });
      const records = this.backend.collection<MemoryAuditRecord>(MEMORY_AUDIT_RECORDS);
      let deleted = 0;
      for (let seq = 1; seq <= throughSeq && deleted < request.limit; seq++) {
        if (records.delete(recordKey(chain, seq))) deleted++;
      }
      return deleted;
    });
  }
}

function toRow(record: MemoryAuditRecord): AuditRow {
  return {
    chain: record.chain,
    seq: record.seq,
    recordedAt: record.recordedAt,
    body: record.body,
    prevHash: record.prevHash,
    hash: record.hash,
  };
}

function comparePosition(
  a: { readonly recordedAt: number; readonly chain: string; readonly seq: number },
  b: { readonly recordedAt: number; readonly chain: string; readonly seq: number },
): number {
  return a.recordedAt - b.recordedAt || compareText(a.chain, b.chain) || a.seq - b.seq;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
