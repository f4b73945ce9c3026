/**
 * The audit log: records entries on an {@link AuditStore} (in the application's transaction when
 * given one), protects personal data in their changes, signs checkpoints and sends them to
 * witnesses, answers queries, verifies chains, exports and archives ranges.
 */
import { MAX_TIMER_MS } from '../core/async.js';
import { canonicalJson } from '../core/canonical-json.js';
import { parseInstant } from '../core/clock.js';
import { type FlowContext, getContext } from '../core/context.js';
import { FlowproofError, isFlowproofError } from '../core/errors.js';
import { assertLogger, type Logger, silentLogger } from '../core/logger.js';
import {
  assertFunction,
  assertInteger,
  assertKnownKeys,
  assertNonEmptyString,
  assertOptionsObject,
  unstorableText,
} from '../core/options.js';
import { auditCheckpointMessage } from './audit-encoding.js';
import {
  type AuditActor,
  type AuditChange,
  type AuditChanges,
  type AuditContent,
  type AuditEntry,
  type AuditResource,
  type AuditResult,
  type AuditWhere,
  changeEntries,
  checkEntry,
  encodeContent,
} from './audit-entry.js';
import { archiveRefused, chainBroken } from './audit-errors.js';
import { exportLines, parseCheckpoint, verifierMap } from './audit-export.js';
import { AUDIT_UNREADABLE, type AuditProtector } from './audit-protector.js';
import {
  AUDIT_GENESIS_HASH,
  type AuditAppend,
  type AuditChainHead,
  type AuditCheckpoint,
  type AuditRow,
  type AuditStore,
} from './audit-store.js';
import {
  type AuditChainReport,
  type AuditWalkStart,
  checkpointSignatureValid,
  walkChain,
} from './chain-verifier.js';
import type { CheckpointSigner, CheckpointVerifier } from './checkpoint-keys.js';
import type { AuditWitness } from './witnesses.js';

/** A stored record, as queries and `record` return it. Its `changes` are in stored form. */
export interface AuditRecord {
  /** The chain. */
  readonly chain: string;
  /** Its sequence number in the chain. */
  readonly seq: number;
  /** When it was recorded: ISO 8601 in UTC (`2026-03-01T09:30:00.000Z`), the store's clock. */
  readonly recordedAt: string;
  /** Its hash. */
  readonly hash: string;
  /** The hash of the record before it. */
  readonly prevHash: string;
  /** What was done. */
  readonly action: string;
  /** Who did it, or `null`. */
  readonly actor: AuditActor | null;
  /** What it was done to. */
  readonly resource: AuditResource;
  /** The data subject the changes belong to, or `null`. */
  readonly subject: string | null;
  /** The changes as stored (after the protector); `null` when none were recorded. */
  readonly changes: AuditChanges | null;
  /** Why, or `null`. */
  readonly reason: string | null;
  /** How it ended. */
  readonly result: AuditResult;
  /** Where, or `null`. */
  readonly where: AuditWhere | null;
  /** The flow context's correlation id when it was recorded, or `null`. */
  readonly correlationId: string | null;
  /** The flow context's causation id, or `null`. */
  readonly causationId: string | null;
  /** The entry's metadata, or `null`. */
  readonly metadata: Readonly<Record<string, unknown>> | null;
}

/** A change with its values read back through the protector. */
export interface RevealedChange extends AuditChange {
  /** The sides whose values can no longer be read (key destroyed, or redacted). */
  readonly unreadable?: readonly ('before' | 'after')[];
}

/** A record whose changes were read back through the protector. */
export interface RevealedAuditRecord extends Omit<AuditRecord, 'changes'> {
  /** The changes, readable values in clear, unreadable ones left out and named. */
  readonly changes: Readonly<Record<string, RevealedChange>> | null;
}

/** What {@link AuditLog.query} selects; every criterion given must match. */
export interface AuditQuery {
  /** Only this chain. */
  readonly chain?: string;
  /** Only this action. */
  readonly action?: string;
  /** Only this actor's records. */
  readonly actorId?: string;
  /** Only records about resources of this type, or this one resource. */
  readonly resource?: {
    /** The resource type. */
    readonly type: string;
    /** One resource of that type. */
    readonly id?: string;
  };
  /** Only records of this correlation id (one flow across services). */
  readonly correlationId?: string;
  /** Only records at or after this time: a `Date`, or ISO 8601 text with its offset (`…Z`). */
  readonly from?: Date | string;
  /** Only records before this time: a `Date`, or ISO 8601 text with its offset (`…Z`). */
  readonly to?: Date | string;
  /** The previous page's `cursor`. */
  readonly cursor?: string;
  /**
   * At most this many records.
   * @default 100
   */
  readonly limit?: number;
}

/** A page of {@link AuditLog.query}. */
export interface AuditPage {
  /** The records, oldest first. */
  readonly records: readonly AuditRecord[];
  /** Pass it back as `cursor` for the next page; absent on the last page. */
  readonly cursor?: string;
}

/** Options of {@link AuditLog.verify}. */
export interface AuditVerifyOptions {
  /** Only this chain; every chain when omitted. */
  readonly chain?: string;
  /**
   * `last-verified` (the default) starts after the last checkpoint an earlier verification
   * passed; `start` walks the whole chain (from its archive boundary).
   */
  readonly from?: 'last-verified' | 'start';
  /**
   * Checkpoints kept outside the database (what a witness holds): each must verify and match the
   * chain, so a rewrite of the audit tables, checkpoints included, is caught — and a chain they
   * vouch for that the database no longer holds is reported `truncated`.
   * @throws TypeError naming an entry that is not a checkpoint.
   */
  readonly checkpoints?: readonly AuditCheckpoint[];
}

/** What {@link AuditLog.verify} found. */
export interface AuditVerification {
  /** Whether every chain verified. */
  readonly ok: boolean;
  /** One report per chain, ordered by chain. */
  readonly chains: readonly AuditChainReport[];
}

/** Options of {@link AuditLog.exportRange}. */
export interface AuditExportOptions {
  /** The chain. */
  readonly chain: string;
  /**
   * Records after this sequence number; a checkpoint must cover it (unless 0).
   * @default the chain's archive boundary
   */
  readonly afterSeq?: number;
  /**
   * Through this one.
   * @default the head
   */
  readonly throughSeq?: number;
}

/** Options of {@link AuditLog.archive}. */
export interface AuditArchiveOptions {
  /** The chain. */
  readonly chain: string;
  /** Archive records through this sequence number. Give this or `before`. */
  readonly throughSeq?: number;
  /** Archive records recorded before this time: a `Date`, or ISO 8601 text with its offset. */
  readonly before?: Date | string;
  /**
   * Receives the archived range as NDJSON lines (see {@link AuditLog.exportRange}) and resolves
   * once it has stored them durably (a file, object storage). Nothing is deleted unless it
   * resolves.
   */
  readonly sink: (lines: AsyncIterable<string>) => Promise<void>;
  /**
   * Delete in batches of this many records.
   * @default 1000
   */
  readonly batchSize?: number;
}

/** What {@link AuditLog.archive} did. */
export interface AuditArchiveReport {
  /** The chain. */
  readonly chain: string;
  /** Records after this one were archived (the previous boundary). */
  readonly afterSeq: number;
  /** The new boundary: the oldest record kept is the one after it. */
  readonly throughSeq: number;
  /** Records exported and deleted. */
  readonly records: number;
  /** The checkpoint at the new boundary, which the chain now starts from. */
  readonly checkpoint?: AuditCheckpoint;
}

/** How records are spread over chains. */
export type AuditChainChoice =
  | 'global'
  | 'tenant'
  | ((entry: AuditEntry, context: FlowContext | undefined) => string);

/** Options of {@link createAuditLog}. */
export interface AuditLogOptions<S extends AuditStore<unknown>> {
  /** Where records are kept (`createPostgresAuditStore`…), migrated. */
  readonly store: S;
  /**
   * `global` (the default): one chain. `tenant`: one chain per tenant of the flow context (a
   * record outside a tenant's context is refused). A function: the chain of each entry.
   * Appenders of one chain queue on its head, so separate chains also append in parallel.
   */
  readonly chain?: AuditChainChoice;
  /** The `where.service` of entries that name none. */
  readonly service?: string;
  /** Turns change values into their stored form (redacted, encrypted); kept as given without. */
  readonly protector?: AuditProtector;
  /** Signed checkpoints: needed by `checkpoint()` and `archive()`. */
  readonly checkpoints?: {
    /** The key checkpoints are signed with. */
    readonly signer: CheckpointSigner;
    /** Sign a chain's head after this many records appended through this log. */
    readonly everyRecords?: number;
    /** And at least this often (milliseconds, at most 2^31 - 1) while records come in. */
    readonly everyMs?: number;
    /** Where each checkpoint is also sent. */
    readonly witnesses?: readonly AuditWitness[];
    /** Keys of older checkpoints (after a rotation); the signer's own is always included. */
    readonly verifiers?: readonly CheckpointVerifier[];
  };
  /**
   * Verifiers when no signer is configured (an auditor's read-only log).
   */
  readonly verifiers?: readonly CheckpointVerifier[];
  /** A pino-compatible logger. */
  readonly logger?: Logger;
}

/** Options of {@link AuditLog.record} and {@link AuditLog.recordMany}. */
export interface RecordOptions<Tx> {
  /**
   * The store's backend bound to your transaction (what `backend.transaction()` gives its
   * callback, `withTransactionClient()` or `joinOpenTransaction()`): the record commits or rolls
   * back with your change. The chain's head stays locked until your transaction ends.
   */
  readonly transaction?: Tx;
}

/** The audit log {@link createAuditLog} returns. */
export interface AuditLog<Tx> {
  /**
   * Records `entry`: checks it, fills in the actor, correlation and causation ids from the flow
   * context, protects the values in `changes`, and appends it to its chain (time from the
   * store's clock).
   *
   * @throws TypeError naming the field of a malformed entry; FlowproofError
   * `AUDIT_PROTECTOR_FAILED` when the protector throws or returns a value that is not JSON data, `INVALID_CONTEXT` for a `tenant` chain
   * outside a tenant's context, `AUDIT_LOG_CLOSED` after `close()`.
   */
  record(entry: AuditEntry, options?: RecordOptions<Tx>): Promise<AuditRecord>;
  /** Records several entries in order, all or none. */
  recordMany(entries: readonly AuditEntry[], options?: RecordOptions<Tx>): Promise<AuditRecord[]>;
  /** Records matching `query`, oldest first, a page at a time. */
  query(query?: AuditQuery): Promise<AuditPage>;
  /**
   * `record` with its changes read back through the protector.
   *
   * @throws FlowproofError `AUDIT_PROTECTOR_FAILED` when the protector throws or returns a value
   * that is not JSON data (nor `AUDIT_UNREADABLE`).
   */
  reveal(record: AuditRecord): Promise<RevealedAuditRecord>;
  /**
   * Verifies chains: recomputes every hash, follows every link, checks checkpoints, and reports
   * the first bad record of each chain with the kind of break. Streams the records, so memory
   * stays bounded. A chain that verifies remembers its last checkpoint, where the next
   * verification starts (unless `from: 'start'`).
   */
  verify(options?: AuditVerifyOptions): Promise<AuditVerification>;
  /**
   * {@link verify}, throwing on a break.
   *
   * @throws FlowproofError `AUDIT_CHAIN_BROKEN` with the first break's chain, seq and kind.
   */
  assertVerified(options?: AuditVerifyOptions): Promise<AuditVerification>;
  /**
   * Signs the head of `chain` (or of every chain that moved) and sends it to the witnesses.
   *
   * @throws FlowproofError `AUDIT_SIGNER_FAILED` when the signer throws or its signature does not
   * verify with its own key (nothing is stored).
   */
  checkpoint(options?: { readonly chain?: string }): Promise<AuditCheckpoint[]>;
  /** The NDJSON lines of a range of one chain with its checkpoints; see `verifyAuditExport`. */
  exportRange(options: AuditExportOptions): AsyncIterable<string>;
  /**
   * Archives a chain's oldest records: verifies and exports them to `sink`, signs a checkpoint at
   * the new boundary, then deletes them in batches. The rest of the chain still verifies from
   * that checkpoint.
   *
   * @throws FlowproofError `AUDIT_CHAIN_BROKEN` when the range does not verify (nothing is
   * deleted), `AUDIT_ARCHIVE_REFUSED` when the boundary is not inside the chain, or when `sink`
   * resolves before it has read every line (nothing is deleted); `AUDIT_SIGNER_FAILED` when the
   * boundary's checkpoint cannot be signed (nothing is deleted).
   */
  archive(options: AuditArchiveOptions): Promise<AuditArchiveReport>;
  /**
   * Stops automatic checkpoints, first signing the head of each chain this log appended to since
   * its last checkpoint (whenever a signer is configured). Leaves the store open.
   */
  close(): Promise<void>;
}

/** The transaction type of a store: what its `withBackend` takes. */
export type TxOf<S> = S extends AuditStore<infer Tx> ? Tx : never;

const PAGE = 1000;
/** At most this many records in one batch of queued appends. */
const MAX_BATCH = 1000;

/** An append waiting for the one being written. */
interface QueuedAppend {
  readonly appends: readonly AuditAppend[];
  resolve(rows: readonly AuditRow[]): void;
  reject(error: unknown): void;
}

/** The first waiters of `queue` holding at most `max` records (at least one waiter), removed. */
function takeBatch(queue: QueuedAppend[], max: number): QueuedAppend[] {
  let records = 0;
  let n = 0;
  while (
    n < queue.length &&
    (n === 0 || records + (queue[n] as QueuedAppend).appends.length <= max)
  ) {
    records += (queue[n] as QueuedAppend).appends.length;
    n++;
  }
  return queue.splice(0, n);
}
const SIDES = ['before', 'after'] as const;
const EMPTY: RecordOptions<never> = Object.freeze({});
const MAX_LIMIT = 1000;

/**
 * Creates an audit log over `store`.
 *
 * @example
 * ```ts
 * const audit = createAuditLog({ store, service: 'accounts-api' });
 * await backend.transaction(async (tx) => {
 *   await tx.query('UPDATE users SET email = $1 WHERE id = $2', [email, id]);
 *   await audit.record(
 *     { action: 'user.updated', resource: { type: 'user', id }, changes: diffChanges(before, after) },
 *     { transaction: tx },
 *   );
 * });
 * ```
 * @throws TypeError naming the option when an option is invalid.
 */
export function createAuditLog<S extends AuditStore<unknown>>(
  options: AuditLogOptions<S>,
): AuditLog<TxOf<S>> {
  assertOptionsObject(options, 'options');
  assertKnownKeys(
    options,
    ['store', 'chain', 'service', 'protector', 'checkpoints', 'verifiers', 'logger'],
    'options',
  );
  const store = options.store;
  for (const method of ['append', 'readChain', 'heads', 'query', 'checkpoints', 'withBackend']) {
    if (typeof (store as unknown as Record<string, unknown> | undefined)?.[method] !== 'function') {
      throw new TypeError(`options.store must be an audit store (missing ${method}())`);
    }
  }
  const chain = options.chain ?? 'global';
  if (chain !== 'global' && chain !== 'tenant' && typeof chain !== 'function') {
    throw new TypeError("options.chain must be 'global', 'tenant' or a function");
  }
  if (options.service !== undefined) assertNonEmptyString(options.service, 'options.service');
  if (options.protector !== undefined) {
    assertFunction(options.protector?.protect, 'options.protector.protect');
    assertFunction(options.protector.reveal, 'options.protector.reveal');
  }
  const checkpoints = options.checkpoints;
  if (checkpoints !== undefined) {
    assertOptionsObject(checkpoints, 'options.checkpoints');
    assertKnownKeys(
      checkpoints,
      ['signer', 'everyRecords', 'everyMs', 'witnesses', 'verifiers'],
      'options.checkpoints',
    );
    assertFunction(checkpoints.signer?.sign, 'options.checkpoints.signer.sign');
    assertNonEmptyString(checkpoints.signer.keyId, 'options.checkpoints.signer.keyId');
    if (checkpoints.everyRecords !== undefined) {
      assertInteger(checkpoints.everyRecords, 'options.checkpoints.everyRecords', 1);
    }
    if (checkpoints.everyMs !== undefined) {
      assertInteger(checkpoints.everyMs, 'options.checkpoints.everyMs', 1, MAX_TIMER_MS);
    }
    const witnesses = checkpoints.witnesses ?? [];
    if (
      !Array.isArray(witnesses) ||
      witnesses.some((w) => typeof w?.publish !== 'function' || typeof w.name !== 'string')
    ) {
      throw new TypeError('options.checkpoints.witnesses must be an array of witnesses');
    }
  }
  const verifiers = new Map([
    ...verifierMap(options.verifiers, 'options.verifiers'),
    ...verifierMap(checkpoints?.verifiers, 'options.checkpoints.verifiers'),
    ...(checkpoints ? [[checkpoints.signer.keyId, checkpoints.signer] as const] : []),
  ]);
  const logger = options.logger ?? silentLogger;
  assertLogger(logger, 'options.logger');
  return new AuditLogImpl(
    store as unknown as AuditStore<TxOf<S>>,
    chain,
    options.service,
    options.protector,
    checkpoints,
    verifiers,
    logger,
  );
}

class AuditLogImpl<Tx> implements AuditLog<Tx> {
  readonly #store: AuditStore<Tx>;
  readonly #chain: AuditChainChoice;
  readonly #service: string | undefined;
  readonly #protector: AuditProtector | undefined;
  readonly #checkpoints: AuditLogOptions<AuditStore<Tx>>['checkpoints'];
  readonly #verifiers: ReadonlyMap<string, CheckpointVerifier>;
  readonly #logger: Logger;
  /** Records appended through this log since each chain's last checkpoint. */
  readonly #appended = new Map<string, number>();
  /** The sequence number of each chain's last checkpoint signed here. */
  readonly #signed = new Map<string, number>();
  /** Checkpoints run one at a time. */
  #checkpointing: Promise<unknown> = Promise.resolve();
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  /** An append outside the callers' transactions is being written. */
  #appending = false;
  /** Appends that came meanwhile, written together next. */
  readonly #waiting: QueuedAppend[] = [];

  constructor(
    store: AuditStore<Tx>,
    chain: AuditChainChoice,
    service: string | undefined,
    protector: AuditProtector | undefined,
    checkpoints: AuditLogOptions<AuditStore<Tx>>['checkpoints'],
    verifiers: ReadonlyMap<string, CheckpointVerifier>,
    logger: Logger,
  ) {
    this.#store = store;
    this.#chain = chain;
    this.#service = service;
    this.#protector = protector;
    this.#checkpoints = checkpoints;
    this.#verifiers = verifiers;
    this.#logger = logger.child({ module: 'flowproof.audit' });
    if (checkpoints?.everyMs !== undefined) {
      this.#timer = setInterval(() => this.#scheduleCheckpoint(undefined), checkpoints.everyMs);
      this.#timer.unref?.();
    }
  }

  async record(entry: AuditEntry, options: RecordOptions<Tx> = EMPTY): Promise<AuditRecord> {
    const [record] = await this.#record([entry], options, 'entry');
    return record as AuditRecord;
  }

  async recordMany(
    entries: readonly AuditEntry[],
    options: RecordOptions<Tx> = EMPTY,
  ): Promise<AuditRecord[]> {
    if (!Array.isArray(entries)) throw new TypeError('entries must be an array of audit entries');
    return this.#record(entries, options, 'entries');
  }

  async #record(
    entries: readonly AuditEntry[],
    options: RecordOptions<Tx>,
    name: string,
  ): Promise<AuditRecord[]> {
    this.#assertOpen();
    // The caller's transaction, bound first: a backend of another kind is refused up front.
    const transaction = this.#transactionOf(options);
    const store = transaction === undefined ? undefined : this.#storeIn(transaction);
    const context = getContext();
    const contents: AuditContent[] = [];
    const appends: AuditAppend[] = [];
    for (let i = 0; i < entries.length; i++) {
      const entryName = name === 'entry' ? name : `${name}[${i}]`;
      const entry = entries[i] as AuditEntry;
      const base = checkEntry(entry, entryName, context, this.#service);
      const protecting = this.#protect(entry.changes, base, `${entryName}.changes`);
      // Without a protector (or a synchronous one) nothing here waits: the hot path stays
      // free of promise turns until the store.
      const changes = protecting instanceof Promise ? await protecting : protecting;
      const content: AuditContent = { ...base, changes };
      contents.push(content);
      appends.push({
        chain: this.#chainOf(entry, context),
        content: encodeContent(content, entryName),
        action: content.action,
        actorId: content.actor?.id ?? null,
        resourceType: content.resource.type,
        resourceId: content.resource.id,
        correlationId: content.correlationId,
      });
    }
    if (appends.length === 0) return [];
    const rows =
      store === undefined ? await this.#appendOnItsOwn(appends) : await store.append(appends);
    if (this.#checkpoints !== undefined) {
      for (const append of appends) this.#counted(append.chain);
    }
    const records: AuditRecord[] = [];
    for (let i = 0; i < rows.length; i++) {
      records.push(toRecord(rows[i] as AuditRow, contents[i] as AuditContent));
    }
    return records;
  }

  /**
   * Appends records outside any transaction of the caller. While one append is being written,
   * the records that arrive are queued and then written together, in one store call (one
   * transaction), in the order they came: appenders of one chain queue on its head anyway, and
   * one transaction for many records costs about what one costs for a single record. Each caller
   * still gets its rows only once they are committed, and a failed batch fails each of its
   * callers.
   */
  #appendOnItsOwn(appends: readonly AuditAppend[]): Promise<readonly AuditRow[]> {
    if (this.#appending) {
      return new Promise((resolve, reject) => {
        this.#waiting.push({ appends, resolve, reject });
      });
    }
    return this.#appendNow(appends);
  }

  /** Writes `appends`, then whatever queued meanwhile, batch after batch. */
  async #appendNow(appends: readonly AuditAppend[]): Promise<readonly AuditRow[]> {
    this.#appending = true;
    try {
      return await this.#store.append(appends);
    } finally {
      if (this.#waiting.length > 0) void this.#appendQueued();
      else this.#appending = false;
    }
  }

  async #appendQueued(): Promise<void> {
    while (this.#waiting.length > 0) {
      const batch = takeBatch(this.#waiting, MAX_BATCH);
      try {
        const rows = await this.#store.append(batch.flatMap((waiter) => waiter.appends));
        let at = 0;
        for (const waiter of batch) {
          waiter.resolve(rows.slice(at, at + waiter.appends.length));
          at += waiter.appends.length;
        }
      } catch (error) {
        for (const waiter of batch) waiter.reject(error);
      }
    }
    this.#appending = false;
  }

  /** The `transaction` option, checked. */
  #transactionOf(options: RecordOptions<Tx>): Tx | undefined {
    if (options === EMPTY) return undefined;
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, ['transaction'], 'options');
    const transaction = options.transaction;
    if (
      transaction !== undefined &&
      (transaction as { readonly inTransaction?: unknown }).inTransaction === false
    ) {
      throw new TypeError(
        'options.transaction must be a backend bound to a transaction (the one backend.transaction() passes to its callback, withTransactionClient() or joinOpenTransaction()); leave it out to record on its own',
      );
    }
    return transaction;
  }

  /** The store bound to `transaction`, which must be a backend of the store's kind. */
  #storeIn(transaction: Tx): AuditStore<Tx> {
    try {
      return this.#store.withBackend(transaction);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      throw new TypeError(
        `options.transaction must be a transaction of this audit store's backend: ${error.message}`,
        { cause: error },
      );
    }
  }

  /** The changes' stored form: synchronous unless the protector returns promises. */
  #protect(
    changes: AuditChanges | undefined,
    base: Omit<AuditContent, 'changes'>,
    name: string,
  ): AuditChanges | null | Promise<AuditChanges> {
    const entries = changeEntries(changes, name);
    if (changes === undefined) return null;
    const protector = this.#protector;
    if (protector === undefined) return changes;
    const stored: Record<string, { before?: unknown; after?: unknown }> = {};
    const pending: Promise<void>[] = [];
    for (const [field, change] of entries) {
      const out: { before?: unknown; after?: unknown } = {};
      stored[field] = out;
      for (const side of SIDES) {
        if (change[side] === undefined) continue;
        const where = `${name}[${JSON.stringify(field)}].${side}`;
        const fail = (error: unknown) =>
          protectorFailed(`the protector failed on ${where}; nothing was recorded`, field, error);
        try {
          const value = protector.protect(change[side], {
            field,
            side,
            subject: base.subject ?? undefined,
            resource: base.resource,
            action: base.action,
          });
          if (value instanceof Promise) {
            pending.push(
              value.then(
                (resolved) => {
                  out[side] = protectedValue(resolved, where, fail);
                },
                (error) => {
                  throw fail(error);
                },
              ),
            );
          } else out[side] = protectedValue(value, where, fail);
        } catch (error) {
          throw isFlowproofError(error) ? error : fail(error);
        }
      }
    }
    return pending.length === 0 ? stored : Promise.all(pending).then(() => stored);
  }

  #chainOf(entry: AuditEntry, context: FlowContext | undefined): string {
    const choice = this.#chain;
    if (choice === 'global') return 'global';
    if (choice === 'tenant') {
      if (context?.tenant === undefined) {
        throw new FlowproofError(
          'INVALID_CONTEXT',
          'this audit log keeps a chain per tenant, and the flow context has no tenant: record inside runWithContext({ tenant }, …)',
        );
      }
      return context.tenant;
    }
    const chain = choice(entry, context);
    if (typeof chain !== 'string' || chain === '' || unstorableText(chain) !== undefined) {
      throw new TypeError('options.chain must return a non-empty string');
    }
    return chain;
  }

  /** Counts a record appended to `chain` (close() signs what moved), signing every N records. */
  #counted(chain: string): void {
    const every = this.#checkpoints?.everyRecords;
    const count = (this.#appended.get(chain) ?? 0) + 1;
    this.#appended.set(chain, count);
    if (every !== undefined && count >= every) {
      this.#appended.set(chain, 0);
      this.#scheduleCheckpoint(chain);
    }
  }

  #scheduleCheckpoint(chain: string | undefined): void {
    if (this.#closed) return;
    this.#checkpointing = this.#checkpointing
      .then(() => this.#checkpointChains(chain))
      .catch((error) => {
        this.#logger.error(
          { err: error, code: isFlowproofError(error) ? error.code : undefined },
          'automatic audit checkpoint failed',
        );
      });
  }

  async query(query: AuditQuery = {}): Promise<AuditPage> {
    this.#assertOpen();
    assertOptionsObject(query, 'query');
    assertKnownKeys(
      query,
      ['chain', 'action', 'actorId', 'resource', 'correlationId', 'from', 'to', 'cursor', 'limit'],
      'query',
    );
    const limit = query.limit ?? 100;
    assertInteger(limit, 'query.limit', 1, MAX_LIMIT);
    for (const key of ['chain', 'action', 'actorId', 'correlationId'] as const) {
      if (query[key] !== undefined) assertNonEmptyString(query[key], `query.${key}`);
    }
    if (query.resource !== undefined) {
      assertOptionsObject(query.resource, 'query.resource');
      assertKnownKeys(query.resource, ['type', 'id'], 'query.resource');
      assertNonEmptyString(query.resource.type, 'query.resource.type');
      if (query.resource.id !== undefined) {
        assertNonEmptyString(query.resource.id, 'query.resource.id');
      }
    }
    const rows = await this.#store.query({
      ...(query.chain === undefined ? {} : { chain: query.chain }),
      ...(query.action === undefined ? {} : { action: query.action }),
      ...(query.actorId === undefined ? {} : { actorId: query.actorId }),
      ...(query.resource === undefined ? {} : { resourceType: query.resource.type }),
      ...(query.resource?.id === undefined ? {} : { resourceId: query.resource.id }),
      ...(query.correlationId === undefined ? {} : { correlationId: query.correlationId }),
      ...(query.from === undefined ? {} : { from: epochMs(query.from, 'query.from') }),
      ...(query.to === undefined ? {} : { to: epochMs(query.to, 'query.to') }),
      ...(query.cursor === undefined ? {} : { after: decodeCursor(query.cursor) }),
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const records = page.map((row) => parseRecord(row));
    return rows.length > limit && last !== undefined
      ? { records, cursor: encodeCursor(last) }
      : { records };
  }

  async reveal(record: AuditRecord): Promise<RevealedAuditRecord> {
    this.#assertOpen();
    if (typeof record !== 'object' || record === null || typeof record.action !== 'string') {
      throw new TypeError('record must be an audit record (from query() or record())');
    }
    const protector = this.#protector;
    if (record.changes === null || protector === undefined) {
      return record as RevealedAuditRecord;
    }
    const changes: Record<string, RevealedChange> = {};
    for (const [field, change] of Object.entries(record.changes)) {
      const out: { before?: unknown; after?: unknown; unreadable?: ('before' | 'after')[] } = {};
      const unreadable: ('before' | 'after')[] = [];
      for (const side of SIDES) {
        if (!(side in change)) continue;
        const where = `record.changes[${JSON.stringify(field)}].${side}`;
        const fail = (error: unknown) =>
          protectorFailed(`the protector failed to reveal ${where}`, field, error);
        let value: unknown;
        try {
          value = protector.reveal(change[side], {
            field,
            side,
            subject: record.subject ?? undefined,
            resource: record.resource,
            action: record.action,
          });
          if (value instanceof Promise) value = await value;
        } catch (error) {
          throw fail(error);
        }
        if (value === AUDIT_UNREADABLE) unreadable.push(side);
        else out[side] = protectedValue(value, where, fail);
      }
      if (unreadable.length > 0) out.unreadable = unreadable;
      changes[field] = out;
    }
    return { ...record, changes };
  }

  async verify(options: AuditVerifyOptions = {}): Promise<AuditVerification> {
    this.#assertOpen();
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, ['chain', 'from', 'checkpoints'], 'options');
    const from = options.from ?? 'last-verified';
    if (from !== 'last-verified' && from !== 'start') {
      throw new TypeError("options.from must be 'last-verified' or 'start'");
    }
    if (options.chain !== undefined) assertNonEmptyString(options.chain, 'options.chain');
    const witnessed = witnessedCheckpoints(options.checkpoints, options.chain);
    const heads = await this.#store.heads(options.chain);
    const chains: AuditChainReport[] = [];
    // A chain a witness vouches for must still be there: removed whole, it has no head to walk.
    const vanished = new Map<string, number>();
    for (const c of witnessed) vanished.set(c.chain, Math.max(c.seq, vanished.get(c.chain) ?? 0));
    for (const head of heads) vanished.delete(head.chain);
    if (options.chain !== undefined && heads.length === 0 && !vanished.has(options.chain)) {
      // A chain asked for by name that has no records: say so (a misspelled name shows here),
      // rather than answer with no report at all.
      chains.push({
        chain: options.chain,
        ok: true,
        fromSeq: 0,
        throughSeq: 0,
        throughHash: AUDIT_GENESIS_HASH,
        records: 0,
        checkpoints: 0,
      });
    }
    for (const [chain, seq] of vanished) {
      chains.push({
        chain,
        ok: false,
        fromSeq: 0,
        throughSeq: 0,
        throughHash: AUDIT_GENESIS_HASH,
        records: 0,
        checkpoints: 0,
        break: {
          kind: 'truncated',
          seq: 1,
          message: `the chain has no records, but a witnessed checkpoint covers record ${seq}`,
        },
      });
    }
    for (const head of heads) {
      const external = witnessed.filter((c) => c.chain === head.chain);
      const report = await this.#verifyChain(head, from, external);
      chains.push(report);
      if (report.ok && report.lastCheckpoint !== undefined) {
        await this.#store.markVerified(
          head.chain,
          report.lastCheckpoint.seq,
          report.lastCheckpoint.hash,
        );
      }
    }
    if (vanished.size > 0) {
      chains.sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
    }
    return { ok: chains.every((c) => c.ok), chains };
  }

  async assertVerified(options?: AuditVerifyOptions): Promise<AuditVerification> {
    const verification = await this.verify(options);
    const broken = verification.chains.find((c) => !c.ok);
    if (broken?.break !== undefined) throw chainBroken(broken.chain, broken.break);
    return verification;
  }

  async #verifyChain(
    head: AuditChainHead,
    from: 'last-verified' | 'start',
    external: readonly AuditCheckpoint[],
  ): Promise<AuditChainReport> {
    const start = await this.#start(head, from);
    if ('break' in start) return start.break;
    return walkChain({
      chain: head.chain,
      start,
      // One record past the head: one moved there by a forged record before it is caught.
      rows: this.#rows(head.chain, start.seq, head.seq + 1),
      checkpoints: this.#checkpointStream(head.chain, start.seq, external),
      head: { seq: head.seq, hash: head.hash },
      verifiers: this.#verifiers,
    });
  }

  /** Where a walk of `head`'s chain starts, or why it cannot. */
  async #start(
    head: AuditChainHead,
    from: 'last-verified' | 'start',
  ): Promise<AuditWalkStart | { break: AuditChainReport }> {
    const boundary =
      head.archivedThrough === 0
        ? { seq: 0, hash: AUDIT_GENESIS_HASH }
        : await this.#validCheckpointAt(head.chain, head.archivedThrough);
    if (boundary === undefined) {
      return {
        break: {
          chain: head.chain,
          ok: false,
          fromSeq: head.archivedThrough,
          throughSeq: head.archivedThrough,
          throughHash: AUDIT_GENESIS_HASH,
          records: 0,
          checkpoints: 0,
          break: {
            kind: 'checkpoint-invalid',
            seq: head.archivedThrough,
            message: `no valid checkpoint vouches for record ${head.archivedThrough}, where the chain was archived`,
          },
        },
      };
    }
    if (from === 'start') return boundary;
    const verified = await this.#store.lastVerified(head.chain);
    if (verified === undefined || verified.seq <= boundary.seq) return boundary;
    // Only a position a valid checkpoint vouches for is trusted as a start.
    const checkpoint = await this.#validCheckpointAt(head.chain, verified.seq);
    return checkpoint !== undefined && checkpoint.hash === verified.hash ? checkpoint : boundary;
  }

  /** A stored checkpoint of `chain` at exactly `seq` whose signature verifies, or `undefined`. */
  async #validCheckpointAt(chain: string, seq: number): Promise<AuditCheckpoint | undefined> {
    const page = await this.#store.checkpoints({ chain, afterSeq: seq - 1, limit: 16 });
    return page.find((c) => c.seq === seq && checkpointSignatureValid(c, this.#verifiers));
  }

  async *#rows(chain: string, afterSeq: number, throughSeq?: number): AsyncGenerator<AuditRow> {
    let after = afterSeq;
    for (;;) {
      const page = await this.#store.readChain({
        chain,
        afterSeq: after,
        ...(throughSeq === undefined ? {} : { throughSeq }),
        limit: PAGE,
      });
      yield* page;
      const last = page.at(-1);
      if (page.length < PAGE || last === undefined) return;
      after = last.seq;
    }
  }

  /** Stored checkpoints after `afterSeq` merged with `external` ones, in sequence order. */
  async *#checkpointStream(
    chain: string,
    afterSeq: number,
    external: readonly AuditCheckpoint[],
  ): AsyncGenerator<AuditCheckpoint> {
    const outside = external.filter((c) => c.seq > afterSeq).sort((a, b) => a.seq - b.seq);
    let i = 0;
    let after = afterSeq;
    for (;;) {
      const page = await this.#store.checkpoints({ chain, afterSeq: after, limit: PAGE });
      for (const checkpoint of page) {
        while (i < outside.length && (outside[i] as AuditCheckpoint).seq <= checkpoint.seq) {
          yield outside[i++] as AuditCheckpoint;
        }
        yield checkpoint;
      }
      const last = page.at(-1);
      if (page.length < PAGE || last === undefined) break;
      after = last.seq;
    }
    while (i < outside.length) yield outside[i++] as AuditCheckpoint;
  }

  async checkpoint(options: { readonly chain?: string } = {}): Promise<AuditCheckpoint[]> {
    this.#assertOpen();
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, ['chain'], 'options');
    if (options.chain !== undefined) assertNonEmptyString(options.chain, 'options.chain');
    if (this.#checkpoints === undefined) {
      throw new TypeError('checkpoint() needs options.checkpoints.signer in createAuditLog');
    }
    const run = this.#checkpointing.then(() => this.#checkpointChains(options.chain));
    this.#checkpointing = run.catch(() => undefined);
    return run;
  }

  async #checkpointChains(chain: string | undefined): Promise<AuditCheckpoint[]> {
    const made: AuditCheckpoint[] = [];
    for (const head of await this.#store.heads(chain)) {
      if (head.seq === 0 || head.seq <= (this.#signed.get(head.chain) ?? 0)) continue;
      made.push(await this.#sign(head.chain, head.seq, head.hash));
    }
    return made;
  }

  /** Signs, stores and sends out a checkpoint of record `seq` (hash `hash`) of `chain`. */
  async #sign(chain: string, seq: number, hash: string): Promise<AuditCheckpoint> {
    const config = this.#checkpoints;
    if (config === undefined) throw new Error('unreachable: no signer');
    const signedAt = (await this.#store.now()).getTime();
    const statement = {
      chain,
      seq,
      hash,
      signedAt,
      keyId: config.signer.keyId,
      algorithm: config.signer.algorithm,
    };
    const signature = signCheckpoint(config.signer, statement);
    const checkpoint: AuditCheckpoint = { ...statement, signature };
    await this.#store.addCheckpoint(checkpoint);
    this.#signed.set(chain, Math.max(seq, this.#signed.get(chain) ?? 0));
    for (const witness of config.witnesses ?? []) {
      try {
        await witness.publish(checkpoint);
      } catch (cause) {
        const error = new FlowproofError(
          'AUDIT_WITNESS_FAILED',
          `witness ${witness.name} did not take the checkpoint at record ${seq} of chain ${JSON.stringify(chain)}`,
          { cause, details: { witness: witness.name, chain, seq } },
        );
        this.#logger.warn({ err: error, code: error.code }, error.message);
      }
    }
    return checkpoint;
  }

  exportRange(options: AuditExportOptions): AsyncIterable<string> {
    this.#assertOpen();
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, ['chain', 'afterSeq', 'throughSeq'], 'options');
    assertNonEmptyString(options.chain, 'options.chain');
    if (options.afterSeq !== undefined) assertInteger(options.afterSeq, 'options.afterSeq', 0);
    if (options.throughSeq !== undefined) {
      assertInteger(options.throughSeq, 'options.throughSeq', 0);
    }
    return this.#export(options.chain, options.afterSeq, options.throughSeq);
  }

  async *#export(
    chain: string,
    afterSeqOption: number | undefined,
    throughSeqOption: number | undefined,
  ): AsyncGenerator<string> {
    const [head] = await this.#store.heads(chain);
    const afterSeq = Math.max(afterSeqOption ?? 0, head?.archivedThrough ?? 0);
    const throughSeq = Math.min(throughSeqOption ?? head?.seq ?? 0, head?.seq ?? 0);
    let anchor: AuditCheckpoint | undefined;
    let afterHash = AUDIT_GENESIS_HASH;
    if (afterSeq > 0) {
      const page = await this.#store.checkpoints({ chain, afterSeq: afterSeq - 1, limit: 16 });
      anchor = page.find((c) => c.seq === afterSeq);
      if (anchor === undefined) {
        throw new TypeError(
          `options.afterSeq must be 0 or a checkpointed record (no checkpoint at record ${afterSeq})`,
        );
      }
      afterHash = anchor.hash;
    }
    yield* exportLines(
      {
        type: 'flowproof.audit.export',
        version: 1,
        chain,
        afterSeq,
        afterHash,
        throughSeq: Math.max(throughSeq, afterSeq),
      },
      anchor,
      this.#rows(chain, afterSeq, throughSeq),
      this.#checkpointsThrough(chain, afterSeq, throughSeq),
    );
  }

  async *#checkpointsThrough(
    chain: string,
    afterSeq: number,
    throughSeq: number,
  ): AsyncGenerator<AuditCheckpoint> {
    for await (const checkpoint of this.#checkpointStream(chain, afterSeq, [])) {
      if (checkpoint.seq > throughSeq) return;
      yield checkpoint;
    }
  }

  async archive(options: AuditArchiveOptions): Promise<AuditArchiveReport> {
    this.#assertOpen();
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, ['chain', 'throughSeq', 'before', 'sink', 'batchSize'], 'options');
    assertNonEmptyString(options.chain, 'options.chain');
    assertFunction(options.sink, 'options.sink');
    const batchSize = options.batchSize ?? 1000;
    assertInteger(batchSize, 'options.batchSize', 1, 100_000);
    if ((options.throughSeq === undefined) === (options.before === undefined)) {
      throw new TypeError('options must give one of throughSeq and before');
    }
    if (options.throughSeq !== undefined) {
      assertInteger(options.throughSeq, 'options.throughSeq', 1);
    }
    const before =
      options.before === undefined ? undefined : epochMs(options.before, 'options.before');
    if (this.#checkpoints === undefined) {
      throw new TypeError('archive() needs options.checkpoints.signer in createAuditLog');
    }
    const chain = options.chain;
    const [head] = await this.#store.heads(chain);
    const start = head === undefined ? undefined : await this.#start(head, 'start');
    if (head === undefined || start === undefined || 'break' in start) {
      if (start !== undefined && 'break' in start && start.break.break !== undefined) {
        throw chainBroken(chain, start.break.break);
      }
      throw archiveRefused(chain, options.throughSeq ?? 0, 'the chain has no records');
    }
    const target =
      options.throughSeq ?? (await this.#lastBefore(chain, start.seq, head.seq, before ?? 0));
    if (target <= start.seq || target > head.seq) {
      throw archiveRefused(
        chain,
        target,
        target > head.seq
          ? `the chain's last record is ${head.seq}`
          : options.throughSeq === undefined
            ? `no record after record ${start.seq} was recorded before ${new Date(before ?? 0).toISOString()}`
            : `records through ${start.seq} are archived already`,
      );
    }
    // Verify the range before anything leaves: a tampered range is never archived.
    const report = await walkChain({
      chain,
      start,
      rows: this.#rows(chain, start.seq, target),
      checkpoints: this.#checkpointsThrough(chain, start.seq, target),
      head: undefined,
      verifiers: this.#verifiers,
    });
    if (report.break !== undefined) throw chainBroken(chain, report.break);
    if (report.throughSeq !== target) {
      throw chainBroken(chain, {
        kind: 'truncated',
        seq: report.throughSeq + 1,
        message: `the chain ends at record ${report.throughSeq}, before record ${target}`,
      });
    }
    const checkpoint = await this.#sign(chain, target, report.throughHash);
    const anchor = start.seq === 0 ? undefined : await this.#validCheckpointAt(chain, start.seq);
    // A sink that resolves before it has read the whole export has not stored it: deleting then
    // would lose records.
    let exported = false;
    const lines = exportLines(
      {
        type: 'flowproof.audit.export',
        version: 1,
        chain,
        afterSeq: start.seq,
        afterHash: start.hash,
        throughSeq: target,
      },
      anchor,
      this.#rows(chain, start.seq, target),
      this.#checkpointsThrough(chain, start.seq, target),
    );
    await options.sink(
      (async function* () {
        yield* lines;
        exported = true;
      })(),
    );
    if (!exported) {
      throw archiveRefused(
        chain,
        target,
        'the sink resolved before it had read every line of the export; nothing was deleted',
      );
    }
    let deleted = 0;
    for (;;) {
      const n = await this.#store.archive({ chain, throughSeq: target, limit: batchSize });
      deleted += n;
      if (n === 0) break;
    }
    return { chain, afterSeq: start.seq, throughSeq: target, records: deleted, checkpoint };
  }

  /** The last sequence number after `afterSeq` recorded before `before` (`afterSeq` if none). */
  async #lastBefore(chain: string, afterSeq: number, headSeq: number, before: number) {
    let last = afterSeq;
    for await (const row of this.#rows(chain, afterSeq, headSeq)) {
      if (row.recordedAt >= before) break;
      last = row.seq;
    }
    return last;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    const pending = this.#checkpointing;
    if (this.#checkpoints !== undefined && [...this.#appended.values()].some((n) => n > 0)) {
      this.#scheduleCheckpoint(undefined);
    }
    this.#closed = true;
    await pending;
    await this.#checkpointing;
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new FlowproofError('AUDIT_LOG_CLOSED', 'the audit log was used after close()');
    }
  }
}

/**
 * The base64url signature of `statement` by `signer`, checked with the signer's own key: a
 * signer that throws or signs wrongly fails here with `AUDIT_SIGNER_FAILED`, before a checkpoint
 * that would later read as tampering is stored.
 */
function signCheckpoint(
  signer: CheckpointSigner,
  statement: Omit<AuditCheckpoint, 'signature'>,
): string {
  const message = Buffer.from(auditCheckpointMessage(statement), 'utf8');
  const { chain, seq, keyId } = statement;
  const fail = (reason: string, cause?: unknown) =>
    new FlowproofError(
      'AUDIT_SIGNER_FAILED',
      `the checkpoint signer ${JSON.stringify(keyId)} failed at record ${seq} of chain ${JSON.stringify(chain)}: ${reason}`,
      { ...(cause === undefined ? {} : { cause }), details: { chain, seq, keyId } },
    );
  let signature: unknown;
  try {
    signature = signer.sign(message);
  } catch (error) {
    throw fail('it threw', error);
  }
  if (!(signature instanceof Uint8Array)) {
    throw fail('it returned no signature bytes (sign() must return a Uint8Array, synchronously)');
  }
  let valid = false;
  try {
    valid = signer.verify(message, signature);
  } catch (error) {
    throw fail('its own verify() threw', error);
  }
  if (!valid) throw fail('its own key does not verify the signature');
  return Buffer.from(signature).toString('base64url');
}

/**
 * The `checkpoints` option of `verify()`, each checked to be a checkpoint; only those of `chain`
 * when one is given.
 */
function witnessedCheckpoints(
  checkpoints: readonly AuditCheckpoint[] | undefined,
  chain: string | undefined,
): AuditCheckpoint[] {
  if (checkpoints === undefined) return [];
  if (!Array.isArray(checkpoints)) {
    throw new TypeError('options.checkpoints must be an array of checkpoints');
  }
  return checkpoints
    .map((checkpoint, i) => {
      try {
        return parseCheckpoint(checkpoint, i + 1);
      } catch (error) {
        const reason = isFlowproofError(error, 'AUDIT_EXPORT_MALFORMED')
          ? error.details.reason
          : String(error);
        throw new TypeError(`options.checkpoints[${i}] is not a checkpoint: ${reason}`);
      }
    })
    .filter((c) => chain === undefined || c.chain === chain);
}

/** `AUDIT_PROTECTOR_FAILED` for `field`, with the protector's own error as `cause`. */
function protectorFailed(message: string, field: string, cause: unknown): FlowproofError {
  return new FlowproofError('AUDIT_PROTECTOR_FAILED', message, { cause, details: { field } });
}

/** `value`, a protector's result, if it is JSON data; otherwise the error `fail` makes. */
function protectedValue(value: unknown, where: string, fail: (error: unknown) => Error): unknown {
  try {
    canonicalJson(value, `the protector's result for ${where}`);
  } catch (error) {
    throw fail(error);
  }
  return value;
}

function toRecord(row: AuditRow, content: AuditContent): AuditRecord {
  return {
    chain: row.chain,
    seq: row.seq,
    recordedAt: new Date(row.recordedAt).toISOString(),
    hash: row.hash,
    prevHash: row.prevHash,
    action: content.action,
    actor: content.actor,
    resource: content.resource,
    subject: content.subject,
    changes: content.changes,
    reason: content.reason,
    result: content.result,
    where: content.where,
    correlationId: content.correlationId,
    causationId: content.causationId,
    metadata: content.metadata,
  };
}

/** A stored row as a record, its content read from the body the hash covers. */
function parseRecord(row: AuditRow): AuditRecord {
  let body: Partial<AuditContent>;
  try {
    body = JSON.parse(row.body) as Partial<AuditContent>;
  } catch (cause) {
    throw new FlowproofError(
      'STORE_DATA_CORRUPT',
      `audit record ${row.seq} of chain ${JSON.stringify(row.chain)} is not JSON`,
      { cause },
    );
  }
  return toRecord(row, {
    action: body.action ?? '',
    actor: body.actor ?? null,
    causationId: body.causationId ?? null,
    changes: body.changes ?? null,
    correlationId: body.correlationId ?? null,
    metadata: body.metadata ?? null,
    reason: body.reason ?? null,
    resource: body.resource ?? { type: '', id: '' },
    result: body.result ?? { status: 'success' },
    subject: body.subject ?? null,
    where: body.where ?? null,
  });
}

/** `value` in epoch milliseconds: a `Date`, or ISO 8601 text with its offset (never local time). */
function epochMs(value: Date | string, name: string): number {
  return parseInstant(value, name).getTime();
}

function encodeCursor(row: AuditRow): string {
  return Buffer.from(JSON.stringify([row.recordedAt, row.chain, row.seq]), 'utf8').toString(
    'base64url',
  );
}

function decodeCursor(cursor: string): { recordedAt: number; chain: string; seq: number } {
  try {
    const [recordedAt, chain, seq] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Number.isSafeInteger(recordedAt) &&
      typeof chain === 'string' &&
      Number.isSafeInteger(seq)
    ) {
      return { recordedAt, chain, seq };
    }
  } catch {
    // reported below
  }
  throw new TypeError('query.cursor must be a cursor from a previous page');
}
