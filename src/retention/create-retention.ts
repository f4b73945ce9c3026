/**
 * The retention module: erasure requests run end to end (soft state at once, a grace period, then
 * every location of the data map erased as a durable flow with a receipt each), legal holds,
 * deadlines, the ledger that survives backup restores, and sweeps that apply the retention
 * policies to registered tables.
 */
import type { AuditActor } from '../audit/audit-entry.js';
import { parseInstant, toUtcIso } from '../core/clock.js';
import { describeValue, FlowproofError, isFlowproofError } from '../core/errors.js';
import { createId } from '../core/ids.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../core/logger.js';
import {
  assertFunction,
  assertInteger,
  assertNonEmptyString,
  assertSignal,
  readable,
  readObject,
  unstorableText,
} from '../core/options.js';
import { assertRetryPolicy, type RetryPolicy } from '../core/retry-policy.js';
import type { StorageBackend } from '../core/storage-backend.js';
import { createSagas, type Sagas } from '../saga/create-sagas.js';
import type { SagaDefinition } from '../saga/define-saga.js';
import type { SagaStore } from '../saga/saga-store.js';
import type { DataMap, PlannedErasureStep } from './data-map.js';
import {
  type DeadlineExtension,
  dataTypesOf,
  type ErasureReceipt,
  type ErasureReport,
  type ErasureRequest,
  scopeOf,
  toErasureRequest,
  toLocationReport,
} from './erasure-records.js';
import {
  defineEraseLocationSaga,
  type EraseLocationInput,
  eraseAndVerify,
  eraseLocationSagaId,
  HELD_ERROR_CODE,
} from './location-erasure.js';
import {
  RETENTION_AUDIT_ACTIONS,
  RETENTION_SYSTEM_ACTOR,
  type RetentionAuditLog,
} from './retention-audit.js';
import {
  addRetentionDuration,
  parseRetentionDuration,
  type RetentionDuration,
} from './retention-durations.js';
import type { RetentionPolicies } from './retention-policies.js';
import {
  type ErasureLocationRow,
  type ErasureRequestRow,
  type LegalHoldRow,
  OPEN_ERASURE_STATUSES,
  type RetentionStore,
} from './retention-store.js';
import {
  checkSweptTable,
  type OwnDataPurge,
  type SweepOptions,
  type SweepReport,
  type SweptTable,
  sweepTables,
} from './sweeper.js';

/** A length of time: text (`"30 days"`, `"P30D"`) or a parsed {@link RetentionDuration}. */
export type DurationInput = string | RetentionDuration;

/** Hooks the erasure flow calls in the application. Each must be idempotent. */
export interface ErasureHooks {
  /**
   * Runs as soon as a request is accepted: disable the account (block login, stop emails). Called
   * again if the process died before the request was fully registered.
   */
  readonly disable?: (subject: string, context: { readonly requestId: string }) => unknown;
  /** Runs when a request is cancelled during its grace period: undo what `disable` did. */
  readonly restore?: (subject: string, context: { readonly requestId: string }) => unknown;
}

/** Options of {@link createRetention}. */
export interface RetentionOptions {
  /** Requests, holds, progress, receipts and the ledger. Keep it out of the database you restore from backups. */
  readonly store: RetentionStore;
  /**
   * Where requests, holds and receipts are recorded: `createAuditLog(...)` over an audit store on
   * the retention store's backend (each record commits with the change it describes).
   */
  readonly audit: RetentionAuditLog;
  /** Where each location's erasure runs as a durable saga (a saga store; any backend). */
  readonly sagaStore: SagaStore;
  /** Every place a subject's data lives. */
  readonly dataMap: DataMap;
  /** The retention policies (deadlines per data type, consent withdrawal, sweeps). */
  readonly policies?: RetentionPolicies;
  /** Called in the application when a request arrives and when one is cancelled. */
  readonly hooks?: ErasureHooks;
  /** How long a request waits before anything is erased (cancellable meanwhile). @default "30 days" */
  readonly grace?: DurationInput;
  /** The deadline after receipt, when no policy of the request's data types sets one. @default "1 month" */
  readonly deadline?: DurationInput;
  /** The longest extension of a deadline, counted from the first deadline. @default "2 months" */
  readonly maxExtension?: DurationInput;
  /**
   * How a location's erasure is retried (p-retry's options) before it is dead-lettered.
   * @default `{ retries: 8, minTimeout: 1000, maxTimeout: 300000 }`
   */
  readonly retry?: RetryPolicy;
  /** The application tables the sweeper applies the policies to. */
  readonly tables?: readonly SweptTable[];
  /** flowproof's own data the sweeper purges (see `ownData`). */
  readonly ownData?: readonly OwnDataPurge[];
  /** Where events go (pino fits). @default silent */
  readonly logger?: Logger;
  /** How often the worker started by {@link Retention.start} looks for work. @default 5000 */
  readonly pollIntervalMs?: number;
  /** The saga runner's lease: a crashed process's erasures resume after it. @default 30000 */
  readonly leaseMs?: number;
}

/** Options of {@link Retention.requestErasure}. */
export interface RequestErasureOptions {
  /** Where the request came from: `user_request`, `support`, `consent_withdrawal`… */
  readonly source: string;
  /** Why (kept in the request and its audit record; no personal data). */
  readonly reason?: string;
  /** Who asked. @default the flow context's actor, else the subject */
  readonly actor?: AuditActor;
  /** Only these data types (consent withdrawal); every location otherwise. */
  readonly dataTypes?: readonly string[];
  /** This request's grace period. @default the retention's `grace` */
  readonly grace?: DurationInput;
}

/** Options of {@link Retention.extendDeadline}. */
export interface ExtendDeadlineOptions {
  /** How much later (`"2 months"`). Exactly one of `by` and `until`. */
  readonly by?: DurationInput;
  /** The new deadline. */
  readonly until?: Date | string;
  /** Why the extension is needed (told to the data subject). */
  readonly reason: string;
  /** Who granted it. */
  readonly actor?: AuditActor;
}

/** What {@link Retention.dueErasures} returns. */
export interface DueErasures {
  /** Open requests past their deadline, earliest first. */
  readonly overdue: readonly ErasureRequest[];
  /** Open requests due within the window asked for, earliest first. */
  readonly dueSoon: readonly ErasureRequest[];
}

/** A legal hold as {@link Retention.placeHold} returns it. */
export interface LegalHold {
  /** The hold's id (a ULID). */
  readonly id: string;
  /** The held subject, or `null` (a hold on a data type). */
  readonly subject: string | null;
  /** The held data type, or `null` (everything of the subject). */
  readonly dataType: string | null;
  /** Why. */
  readonly reason: string;
  /** Who answers for it. */
  readonly owner: string;
  /** When it was placed (ISO 8601). */
  readonly placedAt: string;
  /** When it was released (ISO 8601), or `null` while active. */
  readonly releasedAt: string | null;
  /** Why it was released, or `null`. */
  readonly releaseReason: string | null;
}

/** Options of {@link Retention.placeHold}: a subject, a data type, or both. */
export interface PlaceHoldOptions {
  /** Hold everything of this subject (or, with `dataType`, its data of that type). */
  readonly subject?: string;
  /** Hold every record of this data type (or, with `subject`, that subject's). */
  readonly dataType?: string;
  /** Why (a case or litigation reference). */
  readonly reason: string;
  /** Who answers for it. */
  readonly owner: string;
  /** Who placed it. */
  readonly actor?: AuditActor;
}

/** A location in {@link ErasurePlan}. */
export interface PlannedLocation extends PlannedErasureStep {
  /** The holds that would stop this location now (their ids); empty when none. */
  readonly heldBy: readonly string[];
  /** The legal basis of its data type's policy, when it has one. */
  readonly legalBasis: string | undefined;
}

/** What {@link Retention.planErasure} returns: what an erasure would do, before anything runs. */
export interface ErasurePlan {
  /** The subject. */
  readonly subject: string;
  /** The data types covered; empty for everything. */
  readonly dataTypes: readonly string[];
  /** Every location, in the order they would run (by wave). */
  readonly locations: readonly PlannedLocation[];
}

/** What {@link Retention.reapplyErasures} returns. */
export interface ReapplyReport {
  /** Ledger entries processed. */
  readonly subjects: number;
  /** Location erasures run (each handler call that succeeded). */
  readonly locations: number;
  /** Rows or objects the handlers reported erased again. */
  readonly affected: number;
  /** Locations skipped because a legal hold covers them. */
  readonly held: number;
  /** What failed, by request and location. */
  readonly failures: readonly {
    /** The ledgered request. */
    readonly requestId: string;
    /** The location whose erasure failed. */
    readonly location: string;
    /** Its error's message. */
    readonly message: string;
  }[];
  /** Whether the signal stopped it before the end of the ledger. */
  readonly aborted: boolean;
}

/** The retention module. */
export interface Retention {
  /**
   * Accepts an erasure request: stores it (one open request per subject and scope: a second call
   * returns the first), audits it, runs the `disable` hook at once, then resolves and stores the
   * subject's identifiers in every location, so that neither a partial run nor a later change of
   * the data map loses the way to downstream data. Erasure starts after the grace period.
   *
   * @throws TypeError naming a bad argument; the `disable` hook's or a `resolve`'s error (the
   * request stays accepted and registration resumes on the next {@link processErasures}).
   */
  requestErasure(subject: string, options: RequestErasureOptions): Promise<ErasureRequest>;
  /**
   * Withdraws consent: an erasure of the data types whose policy says
   * `delete_immediately_on_withdrawal` (or `delete_on_consent_withdrawal`), without a grace
   * period, started at once.
   */
  withdrawConsent(
    subject: string,
    options?: Omit<RequestErasureOptions, 'dataTypes' | 'grace' | 'source'> & {
      readonly source?: string;
    },
  ): Promise<ErasureRequest>;
  /**
   * Cancels a request during its grace period, restores the soft state (`restore` hook), audits it.
   * @throws FlowproofError `RETENTION_REQUEST_NOT_FOUND`, `RETENTION_NOT_CANCELLABLE`.
   */
  cancelErasure(
    requestId: string,
    options: { readonly reason: string; readonly actor?: AuditActor },
  ): Promise<ErasureRequest>;
  /**
   * The request with each location's progress and receipt.
   * @throws FlowproofError `RETENTION_REQUEST_NOT_FOUND`.
   */
  getErasure(requestId: string): Promise<ErasureReport>;
  /** A subject's requests, newest first. */
  erasuresOf(subject: string): Promise<readonly ErasureRequest[]>;
  /** What an erasure of `subject` would do: every location, its action, order and holds. Runs nothing. */
  planErasure(
    subject: string,
    options?: { readonly dataTypes?: readonly string[] },
  ): Promise<ErasurePlan>;
  /**
   * One pass of the erasure worker: finishes registering requests, starts those whose grace period
   * is over, starts every location whose predecessors have their receipts, notices locations added
   * to the data map since, redrives locations a released hold stopped, and ends requests whose
   * locations all ended. Safe to run in many processes at once.
   */
  processErasures(options?: { readonly signal?: AbortSignal }): Promise<void>;
  /**
   * Drives one request until it ends (`completed` or `partial`), or until nothing more can happen
   * on its own — its remaining locations failed for good or are held, or it is still in its grace
   * period (then it returns at once, `pending`) — and returns its report.
   * @throws FlowproofError `RETENTION_REQUEST_NOT_FOUND`; `RETENTION_WAIT_TIMEOUT` after `timeoutMs`.
   */
  waitForErasure(
    requestId: string,
    options?: { readonly timeoutMs?: number },
  ): Promise<ErasureReport>;
  /**
   * Runs the failed locations of a request again (after a fix), each with a fresh retry budget.
   * @throws FlowproofError `RETENTION_REQUEST_NOT_FOUND`.
   */
  retryErasure(requestId: string): Promise<ErasureReport>;
  /**
   * Moves a request's deadline, by a length of time or to a date, with a reason; audited.
   * @throws FlowproofError `RETENTION_REQUEST_NOT_FOUND`; `RETENTION_EXTENSION_REFUSED` past the
   * longest extension allowed or when the request has ended.
   */
  extendDeadline(requestId: string, options: ExtendDeadlineOptions): Promise<ErasureRequest>;
  /** Open requests overdue, and those due within `within` (default `"7 days"`). */
  dueErasures(options?: {
    readonly within?: DurationInput;
    readonly limit?: number;
  }): Promise<DueErasures>;
  /** Places a legal hold (audited): nothing under it is swept or erased until it is released. */
  placeHold(options: PlaceHoldOptions): Promise<LegalHold>;
  /**
   * Releases a legal hold (audited); releasing a released hold returns it unchanged.
   * @throws FlowproofError `RETENTION_HOLD_NOT_FOUND`.
   */
  releaseHold(
    holdId: string,
    options: { readonly reason: string; readonly actor?: AuditActor },
  ): Promise<LegalHold>;
  /** Holds, in id order, a page at a time. */
  holds(options?: {
    readonly activeOnly?: boolean;
    readonly after?: string;
    readonly limit?: number;
  }): Promise<readonly LegalHold[]>;
  /**
   * After a backup restore: erases again every subject in the ledger, location by location in the
   * data map's order (resolving identifiers from the restored data), skipping held locations.
   */
  reapplyErasures(options?: {
    readonly signal?: AbortSignal;
    readonly onProgress?: (progress: { readonly subjects: number }) => void;
    readonly batchSize?: number;
  }): Promise<ReapplyReport>;
  /** Applies the policies to the registered tables and purges flowproof's own data past its retention. */
  sweep(options?: SweepOptions): Promise<SweepReport>;
  /** Starts the worker in this process: the saga runner and a {@link processErasures} pass every `pollIntervalMs`. */
  start(): void;
  /** Stops the worker and the saga engine. Idempotent. */
  close(): Promise<void>;
}

const OPTION_KEYS =
  'store audit sagaStore dataMap policies hooks grace deadline maxExtension retry tables ownData logger pollIntervalMs leaseMs';
const DEFAULT_RETRY: RetryPolicy = Object.freeze({
  retries: 8,
  minTimeout: 1_000,
  maxTimeout: 300_000,
});
const PAGE = 100;

/**
 * Creates the retention module.
 *
 * @throws TypeError naming the option that is missing or invalid.
 *
 * @example
 * ```ts
 * const retention = createRetention({ store, audit, sagaStore, dataMap, policies });
 * const request = await retention.requestErasure('user-42', { source: 'user_request' });
 * retention.start(); // erases every location once the grace period is over
 * ```
 */
export function createRetention(options: RetentionOptions): Retention {
  return new RetentionModule(options);
}

class RetentionModule implements Retention {
  readonly #store: RetentionStore;
  readonly #audit: RetentionAuditLog;
  readonly #dataMap: DataMap;
  readonly #policies: RetentionPolicies | undefined;
  readonly #hooks: ErasureHooks;
  readonly #grace: RetentionDuration;
  readonly #deadline: RetentionDuration;
  readonly #maxExtension: RetentionDuration;
  readonly #tables: readonly SweptTable[];
  readonly #ownData: readonly OwnDataPurge[];
  readonly #logger: Logger;
  readonly #pollIntervalMs: number;
  readonly #sagas: Sagas;
  readonly #saga: SagaDefinition<EraseLocationInput, unknown>;
  #timer: ReturnType<typeof setInterval> | undefined;
  #passing: Promise<void> | undefined;
  #closed = false;

  constructor(options: RetentionOptions) {
    const o = readObject(options, 'options', OPTION_KEYS) as unknown as RetentionOptions;
    this.#store = checkStore(o.store);
    this.#audit = checkHas(o.audit, 'options.audit', ['record']) as RetentionAuditLog;
    const sagaStore = checkHas(o.sagaStore, 'options.sagaStore', ['claim', 'create']) as SagaStore;
    this.#dataMap = checkHas(o.dataMap, 'options.dataMap', ['plan', 'get']) as DataMap;
    this.#policies =
      o.policies === undefined
        ? undefined
        : (checkHas(o.policies, 'options.policies', ['get']) as RetentionPolicies);
    const hooks =
      o.hooks === undefined ? {} : readObject(o.hooks, 'options.hooks', 'disable restore');
    if (hooks.disable !== undefined) assertFunction(hooks.disable, 'options.hooks.disable');
    if (hooks.restore !== undefined) assertFunction(hooks.restore, 'options.hooks.restore');
    this.#hooks = Object.freeze({ ...hooks }) as ErasureHooks;
    this.#grace = durationOption(o.grace ?? '30 days', 'options.grace');
    this.#deadline = durationOption(o.deadline ?? '1 month', 'options.deadline');
    assertWithin(this.#grace, 'options.grace');
    assertWithin(this.#deadline, 'options.deadline');
    if (lengthOf(this.#grace) > lengthOf(this.#deadline)) {
      throw new TypeError(
        `options.deadline (${this.#deadline.text}) must not end before options.grace (${this.#grace.text}): the erasure would be late by design`,
      );
    }
    for (const type of this.#policies?.dataTypes ?? []) {
      const due = this.#policies?.get(type)?.erasureDeadline;
      if (due !== undefined && lengthOf(this.#grace) > lengthOf(due)) {
        throw new TypeError(
          `options.grace (${this.#grace.text}) must end before the erasure_deadline of data type ${JSON.stringify(type)} (${due.text}) in options.policies`,
        );
      }
    }
    this.#maxExtension = durationOption(o.maxExtension ?? '2 months', 'options.maxExtension');
    const retry = o.retry ?? DEFAULT_RETRY;
    assertRetryPolicy(retry, 'options.retry');
    this.#tables = Object.freeze(
      arrayOption(o.tables, 'options.tables').map((t, i) =>
        checkSweptTable(t, `options.tables[${i}]`),
      ),
    );
    this.#tables.forEach((table, i) => {
      const first = this.#tables.findIndex(
        (other) => other.table === table.table && other.sweeper === table.sweeper,
      );
      if (first !== i) {
        throw new TypeError(
          `options.tables[${i}] registers ${JSON.stringify(table.table)} again (options.tables[${first}]): it would be swept twice`,
        );
      }
    });
    this.#ownData = Object.freeze(
      arrayOption(o.ownData, 'options.ownData').map(
        (p, i) => checkHas(p, `options.ownData[${i}]`, ['purge']) as OwnDataPurge,
      ),
    );
    const logger = o.logger ?? silentLogger;
    assertLogger(logger, 'options.logger');
    this.#logger = logger;
    this.#pollIntervalMs = o.pollIntervalMs ?? 5_000;
    assertInteger(this.#pollIntervalMs, 'options.pollIntervalMs', 10, 3_600_000);
    const leaseMs = o.leaseMs ?? 30_000;
    assertInteger(leaseMs, 'options.leaseMs', 100, 3_600_000);
    this.#saga = defineEraseLocationSaga(
      {
        store: this.#store,
        audit: this.#audit,
        locationNamed: (name) => this.#dataMap.get(name),
        holdsOn: (subject, dataType) => this.#holdsOn(subject, dataType),
        inTransaction: (fn) => this.#inTransaction(fn),
      },
      retry,
    ) as never;
    this.#sagas = createSagas({
      store: sagaStore,
      sagas: [this.#saga as never],
      logger,
      leaseMs,
      // A location that settles lets the next wave start without waiting for the next poll.
      onSettled: () => this.#soon(),
    });
  }

  // ─── requests ────────────────────────────────────────────────────────────────────────────────

  async requestErasure(subject: string, options: RequestErasureOptions): Promise<ErasureRequest> {
    this.#assertOpen();
    assertText(subject, 'subject');
    const o = readObject(options, 'options', 'source reason actor dataTypes grace');
    assertText(o.source, 'options.source');
    if (o.reason !== undefined) assertText(o.reason, 'options.reason');
    const actor = o.actor === undefined ? null : checkActor(o.actor, 'options.actor');
    const dataTypes =
      o.dataTypes === undefined ? undefined : this.#knownDataTypes(checkDataTypes(o.dataTypes));
    const grace = o.grace === undefined ? this.#grace : durationOption(o.grace, 'options.grace');
    assertWithin(grace, 'options.grace');
    // The plan is checked before anything is stored: an unknown `after` fails now, not later.
    this.#dataMap.plan(dataTypes === undefined ? {} : { dataTypes });
    const deadline = this.#deadlineFor(dataTypes);
    if (lengthOf(grace) > lengthOf(deadline)) {
      throw new TypeError(
        `options.grace (${grace.text}) must end before the request's deadline (${deadline.text})`,
      );
    }
    const now = (await this.#store.now()).getTime();
    const scope = scopeOf(dataTypes);
    const { row, created } = await this.#inTransaction(async (store, backend) => {
      const made = await store.createRequest({
        id: createId(),
        subject,
        scope,
        source: o.source as string,
        reason: (o.reason as string | undefined) ?? null,
        actor: actor === null ? null : JSON.stringify(actor),
        graceMs: addRetentionDuration(now, grace).getTime() - now,
        dueInMs: addRetentionDuration(now, deadline).getTime() - now,
      });
      if (made.created) {
        await this.#audit.record(
          {
            action: RETENTION_AUDIT_ACTIONS.requested,
            ...(actor === null ? {} : { actor }),
            resource: { type: 'erasure-request', id: made.row.id },
            subject,
            ...(o.reason === undefined ? {} : { reason: o.reason as string }),
            metadata: {
              source: o.source,
              dataTypes: dataTypes ?? null,
              eraseAfter: toUtcIso(new Date(made.row.eraseAfter)),
              dueAt: toUtcIso(new Date(made.row.dueAt)),
            },
          },
          { transaction: backend },
        );
      }
      return made;
    });
    logEvent(
      this.#logger,
      'info',
      { event: 'retention.erasure.requested', requestId: row.id, created },
      created ? `erasure request ${row.id} accepted` : `erasure request ${row.id} already open`,
    );
    if (row.status !== 'resolving') return toErasureRequest(row);
    return toErasureRequest(await this.#register(row));
  }

  async withdrawConsent(
    subject: string,
    options: Omit<RequestErasureOptions, 'dataTypes' | 'grace' | 'source'> & {
      readonly source?: string;
    } = {},
  ): Promise<ErasureRequest> {
    this.#assertOpen();
    const o = readObject(options, 'options', 'source reason actor');
    const dataTypes = this.#policies?.consentWithdrawalTypes ?? [];
    if (dataTypes.length === 0) {
      throw new TypeError(
        'withdrawConsent needs options.policies with at least one data type whose policy says delete_immediately_on_withdrawal',
      );
    }
    const request = await this.requestErasure(subject, {
      source: (o.source as string | undefined) ?? 'consent_withdrawal',
      ...(o.reason === undefined ? {} : { reason: o.reason as string }),
      ...(o.actor === undefined ? {} : { actor: o.actor as AuditActor }),
      dataTypes,
      grace: '0 days',
    });
    await this.#drive(request.id);
    return toErasureRequest(await this.#requestRow(request.id));
  }

  async cancelErasure(
    requestId: string,
    options: { readonly reason: string; readonly actor?: AuditActor },
  ): Promise<ErasureRequest> {
    this.#assertOpen();
    assertText(requestId, 'requestId');
    const o = readObject(options, 'options', 'reason actor');
    assertText(o.reason, 'options.reason');
    const actor = o.actor === undefined ? null : checkActor(o.actor, 'options.actor');
    for (;;) {
      const row = await this.#requestRow(requestId);
      if (row.status === 'cancelled') return toErasureRequest(row);
      const now = (await this.#store.now()).getTime();
      if (
        (row.status !== 'resolving' && row.status !== 'pending') ||
        (row.status === 'pending' && now >= row.eraseAfter)
      ) {
        throw new FlowproofError(
          'RETENTION_NOT_CANCELLABLE',
          `erasure request ${requestId} can no longer be cancelled: it is ${row.status === 'pending' ? 'past its grace period' : row.status}`,
          { details: { requestId, status: row.status } },
        );
      }
      const cancelled = await this.#inTransaction(async (store, backend) => {
        const updated = await store.updateRequest(requestId, row.version, { status: 'cancelled' });
        if (updated === undefined) return undefined;
        await store.clearIdentifiers(requestId);
        await this.#audit.record(
          {
            action: RETENTION_AUDIT_ACTIONS.cancelled,
            ...(actor === null ? {} : { actor }),
            resource: { type: 'erasure-request', id: requestId },
            subject: row.subject,
            reason: o.reason as string,
          },
          { transaction: backend },
        );
        return updated;
      });
      if (cancelled === undefined) continue; // it moved on meanwhile: look again
      await this.#hooks.restore?.(row.subject, { requestId });
      return toErasureRequest(cancelled);
    }
  }

  async getErasure(requestId: string): Promise<ErasureReport> {
    this.#assertOpen();
    assertText(requestId, 'requestId');
    const row = await this.#requestRow(requestId);
    const locations = await this.#store.locations(requestId);
    return Object.freeze({
      ...toErasureRequest(row),
      locations: Object.freeze(locations.map(toLocationReport)),
    });
  }

  async erasuresOf(subject: string): Promise<readonly ErasureRequest[]> {
    this.#assertOpen();
    assertText(subject, 'subject');
    return Object.freeze(
      (await this.#store.requestsOfSubject(subject, 1000)).map(toErasureRequest),
    );
  }

  async planErasure(
    subject: string,
    options: { readonly dataTypes?: readonly string[] } = {},
  ): Promise<ErasurePlan> {
    this.#assertOpen();
    assertText(subject, 'subject');
    const o = readObject(options, 'options', 'dataTypes');
    const dataTypes =
      o.dataTypes === undefined ? undefined : this.#knownDataTypes(checkDataTypes(o.dataTypes));
    const steps = this.#dataMap.plan(dataTypes === undefined ? {} : { dataTypes });
    const holds = await this.#holdsOfPlan(subject, steps);
    return Object.freeze({
      subject,
      dataTypes: Object.freeze([...(dataTypes ?? [])]),
      locations: Object.freeze(
        steps.map((step) =>
          Object.freeze({
            ...step,
            heldBy: Object.freeze(holdsCovering(holds, subject, step.dataType).map((h) => h.id)),
            legalBasis:
              step.dataType === undefined
                ? undefined
                : this.#policies?.get(step.dataType)?.legalBasis,
          }),
        ),
      ),
    });
  }

  // ─── the worker ──────────────────────────────────────────────────────────────────────────────

  async processErasures(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    this.#assertOpen();
    const o = readObject(options, 'options', 'signal');
    assertSignal(o.signal);
    const signal = o.signal as AbortSignal | undefined;
    const now = (await this.#store.now()).getTime();
    // Requests whose registration a crash (or a failing resolve) interrupted.
    for await (const row of this.#requests(['resolving'], undefined, signal)) {
      await this.#attempt(row.id, () => this.#register(row));
    }
    for await (const row of this.#requests(['pending'], now, signal)) {
      await this.#attempt(row.id, () => this.#begin(row));
    }
    for await (const row of this.#requests(['running'], undefined, signal)) {
      await this.#attempt(row.id, () => this.#advance(row));
    }
  }

  async waitForErasure(
    requestId: string,
    options: { readonly timeoutMs?: number } = {},
  ): Promise<ErasureReport> {
    this.#assertOpen();
    assertText(requestId, 'requestId');
    const o = readObject(options, 'options', 'timeoutMs');
    const timeoutMs = (o.timeoutMs as number | undefined) ?? 60_000;
    assertInteger(timeoutMs, 'options.timeoutMs', 1);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const settledEnough = await this.#drive(requestId);
      if (settledEnough) return this.getErasure(requestId);
      if (Date.now() > deadline) {
        throw new FlowproofError(
          'RETENTION_WAIT_TIMEOUT',
          `erasure request ${requestId} did not end within ${timeoutMs} ms`,
          { details: { requestId, timeoutMs } },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async retryErasure(requestId: string): Promise<ErasureReport> {
    this.#assertOpen();
    assertText(requestId, 'requestId');
    let row = await this.#requestRow(requestId);
    if (row.status === 'partial') {
      const reopened = await this.#store.updateRequest(requestId, row.version, {
        status: 'running',
      });
      if (reopened !== undefined) row = reopened;
    }
    for (const location of await this.#store.locations(requestId)) {
      if (location.status !== 'failed') continue;
      await this.#redrive(requestId, location.location);
    }
    return this.getErasure(requestId);
  }

  async extendDeadline(requestId: string, options: ExtendDeadlineOptions): Promise<ErasureRequest> {
    this.#assertOpen();
    assertText(requestId, 'requestId');
    const o = readObject(options, 'options', 'by until reason actor');
    assertText(o.reason, 'options.reason');
    if ((o.by === undefined) === (o.until === undefined)) {
      throw new TypeError('options.by or options.until must be given, not both');
    }
    const by = o.by === undefined ? undefined : durationOption(o.by, 'options.by');
    const until = o.until === undefined ? undefined : instantOption(o.until, 'options.until');
    const actor = o.actor === undefined ? null : checkActor(o.actor, 'options.actor');
    for (;;) {
      const row = await this.#requestRow(requestId);
      if (!OPEN_ERASURE_STATUSES.includes(row.status)) {
        throw new FlowproofError(
          'RETENTION_EXTENSION_REFUSED',
          `erasure request ${requestId} has ended (${row.status}): its deadline no longer applies`,
          { details: { requestId, status: row.status } },
        );
      }
      const extensions: DeadlineExtension[] =
        row.extensions === null ? [] : (JSON.parse(row.extensions) as DeadlineExtension[]);
      const firstDue = extensions.length === 0 ? row.dueAt : Date.parse(extensions[0]?.from ?? '');
      const latest = addRetentionDuration(firstDue, this.#maxExtension).getTime();
      const to =
        by !== undefined ? addRetentionDuration(row.dueAt, by).getTime() : (until as number);
      if (to > latest || to <= row.dueAt) {
        throw new FlowproofError(
          'RETENTION_EXTENSION_REFUSED',
          to <= row.dueAt
            ? `the new deadline of erasure request ${requestId} must be later than the current one (${toUtcIso(new Date(row.dueAt))})`
            : `erasure request ${requestId} cannot be due later than ${toUtcIso(new Date(latest))} (${this.#maxExtension.text} after its first deadline)`,
          { details: { requestId, status: row.status, latestDueAt: toUtcIso(new Date(latest)) } },
        );
      }
      const at = toUtcIso(await this.#store.now());
      const extension: DeadlineExtension = {
        from: toUtcIso(new Date(row.dueAt)),
        to: toUtcIso(new Date(to)),
        reason: o.reason as string,
        at,
      };
      const updated = await this.#inTransaction(async (store, backend) => {
        const next = await store.updateRequest(requestId, row.version, {
          dueAt: to,
          extensions: JSON.stringify([...extensions, extension]),
        });
        if (next === undefined) return undefined;
        await this.#audit.record(
          {
            action: RETENTION_AUDIT_ACTIONS.deadlineExtended,
            ...(actor === null ? {} : { actor }),
            resource: { type: 'erasure-request', id: requestId },
            subject: row.subject,
            reason: o.reason as string,
            metadata: { from: extension.from, to: extension.to },
          },
          { transaction: backend },
        );
        return next;
      });
      if (updated !== undefined) return toErasureRequest(updated);
    }
  }

  async dueErasures(
    options: { readonly within?: DurationInput; readonly limit?: number } = {},
  ): Promise<DueErasures> {
    this.#assertOpen();
    const o = readObject(options, 'options', 'within limit');
    const within = durationOption(o.within ?? '7 days', 'options.within');
    const limit = (o.limit as number | undefined) ?? 1000;
    assertInteger(limit, 'options.limit', 1, 10_000);
    const now = (await this.#store.now()).getTime();
    const rows = await this.#store.requestsDueBefore({
      dueBefore: addRetentionDuration(now, within).getTime(),
      limit,
    });
    const requests = rows.map(toErasureRequest);
    return Object.freeze({
      overdue: Object.freeze(requests.filter((_, i) => (rows[i]?.dueAt ?? 0) <= now)),
      dueSoon: Object.freeze(requests.filter((_, i) => (rows[i]?.dueAt ?? 0) > now)),
    });
  }

  // ─── holds ───────────────────────────────────────────────────────────────────────────────────

  async placeHold(options: PlaceHoldOptions): Promise<LegalHold> {
    this.#assertOpen();
    const o = readObject(options, 'options', 'subject dataType reason owner actor');
    if (o.subject === undefined && o.dataType === undefined) {
      throw new TypeError('options must name a subject, a dataType, or both');
    }
    if (o.subject !== undefined) assertText(o.subject, 'options.subject');
    if (o.dataType !== undefined) {
      assertText(o.dataType, 'options.dataType');
      this.#knownDataTypes([o.dataType], 'options.dataType');
    }
    assertText(o.reason, 'options.reason');
    assertText(o.owner, 'options.owner');
    const actor = o.actor === undefined ? null : checkActor(o.actor, 'options.actor');
    const row = await this.#inTransaction(async (store, backend) => {
      const hold = await store.placeHold({
        id: createId(),
        subject: (o.subject as string | undefined) ?? null,
        dataType: (o.dataType as string | undefined) ?? null,
        reason: o.reason as string,
        owner: o.owner as string,
      });
      await this.#audit.record(
        {
          action: RETENTION_AUDIT_ACTIONS.holdPlaced,
          ...(actor === null ? {} : { actor }),
          resource: { type: 'legal-hold', id: hold.id },
          ...(hold.subject === null ? {} : { subject: hold.subject }),
          reason: hold.reason,
          metadata: { dataType: hold.dataType, owner: hold.owner },
        },
        { transaction: backend },
      );
      return hold;
    });
    return toLegalHold(row);
  }

  async releaseHold(
    holdId: string,
    options: { readonly reason: string; readonly actor?: AuditActor },
  ): Promise<LegalHold> {
    this.#assertOpen();
    assertText(holdId, 'holdId');
    const o = readObject(options, 'options', 'reason actor');
    assertText(o.reason, 'options.reason');
    const actor = o.actor === undefined ? null : checkActor(o.actor, 'options.actor');
    const row = await this.#inTransaction(async (store, backend) => {
      const before = await store.getHold(holdId);
      if (before === undefined) {
        throw new FlowproofError('RETENTION_HOLD_NOT_FOUND', `no legal hold ${holdId}`, {
          details: { holdId },
        });
      }
      if (before.releasedAt !== null) return before;
      const released = (await store.releaseHold(holdId, o.reason as string)) ?? before;
      await this.#audit.record(
        {
          action: RETENTION_AUDIT_ACTIONS.holdReleased,
          ...(actor === null ? {} : { actor }),
          resource: { type: 'legal-hold', id: holdId },
          ...(before.subject === null ? {} : { subject: before.subject }),
          reason: o.reason as string,
          metadata: { dataType: before.dataType, owner: before.owner },
        },
        { transaction: backend },
      );
      return released;
    });
    this.#soon();
    return toLegalHold(row);
  }

  async holds(
    options: {
      readonly activeOnly?: boolean;
      readonly after?: string;
      readonly limit?: number;
    } = {},
  ): Promise<readonly LegalHold[]> {
    this.#assertOpen();
    const o = readObject(options, 'options', 'activeOnly after limit');
    if (o.activeOnly !== undefined && typeof o.activeOnly !== 'boolean') {
      throw new TypeError(
        `options.activeOnly must be a boolean, got ${describeValue(o.activeOnly)}`,
      );
    }
    if (o.after !== undefined) assertText(o.after, 'options.after');
    const limit = (o.limit as number | undefined) ?? 100;
    assertInteger(limit, 'options.limit', 1, 1000);
    const rows = await this.#store.listHolds({
      ...(o.activeOnly === undefined ? {} : { activeOnly: o.activeOnly as boolean }),
      ...(o.after === undefined ? {} : { afterId: o.after as string }),
      limit,
    });
    return Object.freeze(rows.map(toLegalHold));
  }

  // ─── backups and sweeps ──────────────────────────────────────────────────────────────────────

  async reapplyErasures(
    options: {
      readonly signal?: AbortSignal;
      readonly onProgress?: (progress: { readonly subjects: number }) => void;
      readonly batchSize?: number;
    } = {},
  ): Promise<ReapplyReport> {
    this.#assertOpen();
    const o = readObject(options, 'options', 'signal onProgress batchSize');
    assertSignal(o.signal);
    if (o.onProgress !== undefined) assertFunction(o.onProgress, 'options.onProgress');
    const batchSize = (o.batchSize as number | undefined) ?? 100;
    assertInteger(batchSize, 'options.batchSize', 1, 10_000);
    const signal = (o.signal as AbortSignal | undefined) ?? new AbortController().signal;
    const onProgress = o.onProgress as ((p: { readonly subjects: number }) => void) | undefined;
    let subjects = 0;
    let locations = 0;
    let affected = 0;
    let held = 0;
    let aborted = false;
    const failures: { requestId: string; location: string; message: string }[] = [];
    let after: string | undefined;
    outer: for (;;) {
      const page = await this.#store.ledger({
        ...(after === undefined ? {} : { afterRequestId: after }),
        limit: batchSize,
      });
      for (const entry of page) {
        if (signal.aborted) {
          aborted = true;
          break outer;
        }
        after = entry.requestId;
        const steps = this.#dataMap.plan(
          entry.scope === '' ? {} : { dataTypes: dataTypesOf(entry.scope) },
        );
        const holds = await this.#holdsOfPlan(entry.subject, steps);
        for (const step of steps) {
          const location = this.#dataMap.get(step.location);
          if (
            location?.erase === undefined ||
            step.action === 'retain' ||
            step.action === 'unsupported'
          ) {
            continue;
          }
          if (holdsCovering(holds, entry.subject, step.dataType).length > 0) {
            held++;
            continue;
          }
          try {
            const identifiers =
              location.resolve === undefined
                ? [entry.subject]
                : await location.resolve(entry.subject, { signal });
            const context = Object.freeze({
              subject: entry.subject,
              identifiers,
              requestId: entry.requestId,
              location: step.location,
              idempotencyKey: `${eraseLocationSagaId(entry.requestId, step.location)}:reapply`,
              attempt: 1,
              signal,
            });
            const erased = await eraseAndVerify(location, context);
            locations++;
            affected += erased.affected ?? 0;
          } catch (error) {
            failures.push({
              requestId: entry.requestId,
              location: step.location,
              message: error instanceof Error ? error.message : String(error),
            });
          }
        }
        subjects++;
        onProgress?.({ subjects });
      }
      if (page.length < batchSize) break;
    }
    await this.#audit.record({
      action: RETENTION_AUDIT_ACTIONS.reapplied,
      actor: RETENTION_SYSTEM_ACTOR,
      resource: { type: 'erasure-ledger', id: 'ledger' },
      result:
        failures.length === 0
          ? { status: 'success' }
          : { status: 'failure', errorCode: 'RETENTION_LOCATION_FAILED' },
      metadata: { subjects, locations, affected, held, failures: failures.length, aborted },
    });
    return Object.freeze({
      subjects,
      locations,
      affected,
      held,
      failures: Object.freeze(failures),
      aborted,
    });
  }

  async sweep(options: SweepOptions = {}): Promise<SweepReport> {
    this.#assertOpen();
    if (this.#policies === undefined && this.#tables.length > 0) {
      throw new TypeError('sweeping tables needs options.policies');
    }
    return sweepTables(
      {
        policies: this.#policies as RetentionPolicies,
        holds: () => this.#allActiveHolds(),
        tables: this.#tables,
        own: this.#ownData,
        logger: this.#logger,
      },
      options,
    );
  }

  start(): void {
    this.#assertOpen();
    if (this.#timer !== undefined) return;
    this.#sagas.startRunner();
    this.#timer = setInterval(() => this.#soon(), this.#pollIntervalMs);
    this.#timer.unref?.();
    this.#soon();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#passing?.catch(() => undefined);
    await this.#sagas.close();
  }

  // ─── the flow's steps ────────────────────────────────────────────────────────────────────────

  /** Finishes registering a request: `disable`, identifiers of every location, then `pending`. */
  async #register(row: ErasureRequestRow): Promise<ErasureRequestRow> {
    await this.#hooks.disable?.(row.subject, { requestId: row.id });
    await this.#addLocations(row, await this.#store.locations(row.id));
    for (;;) {
      const updated = await this.#store.updateRequest(row.id, row.version, { status: 'pending' });
      if (updated !== undefined) return updated;
      row = await this.#requestRow(row.id);
      if (row.status !== 'resolving') return row;
    }
  }

  /** Resolves and stores the identifiers of every planned location the request does not have yet. */
  async #addLocations(
    row: ErasureRequestRow,
    known: readonly ErasureLocationRow[],
  ): Promise<readonly PlannedErasureStep[]> {
    const steps = this.#plan(row);
    const have = new Set(known.map((l) => l.location));
    const added: { location: string; identifiers: string | null }[] = [];
    const signal = new AbortController().signal;
    for (const step of steps) {
      if (have.has(step.location)) continue;
      const location = this.#dataMap.get(step.location);
      let identifiers: string | null = null;
      if (location?.resolve !== undefined) {
        const resolved = await location.resolve(row.subject, { signal });
        identifiers = encodeIdentifiers(resolved, step.location);
      }
      added.push({ location: step.location, identifiers });
    }
    if (added.length > 0) await this.#store.addLocations(row.id, added);
    return steps;
  }

  /** The grace period is over: `running`, audited. */
  async #begin(row: ErasureRequestRow): Promise<void> {
    await this.#inTransaction(async (store, backend) => {
      const updated = await store.updateRequest(row.id, row.version, { status: 'running' });
      if (updated === undefined) return;
      await this.#audit.record(
        {
          action: RETENTION_AUDIT_ACTIONS.started,
          actor: RETENTION_SYSTEM_ACTOR,
          resource: { type: 'erasure-request', id: row.id },
          subject: row.subject,
        },
        { transaction: backend },
      );
    });
    const running = await this.#requestRow(row.id);
    if (running.status === 'running') await this.#advance(running);
  }

  /**
   * Moves a running request on: starts the locations whose predecessors are done, notices the
   * failed and the new, ends the request when every location has ended. Returns whether nothing
   * more can happen without a fix or a released hold.
   */
  async #advance(row: ErasureRequestRow): Promise<boolean> {
    let locations = await this.#store.locations(row.id);
    const steps = await this.#addLocations(row, locations);
    if (steps.length !== locations.length) locations = await this.#store.locations(row.id);
    const byName = new Map(locations.map((l) => [l.location, l]));
    const stepByName = new Map(steps.map((s) => [s.location, s]));
    const holds = await this.#holdsOfPlan(row.subject, steps);
    // Whether anything runs or was just started: otherwise what is left waits for a fix (a
    // failed location) or a release (a held one), directly or through its predecessors.
    let moving = false;
    for (const location of locations) {
      if (location.status === 'done') continue;
      const step = stepByName.get(location.location);
      const isHeld =
        step !== undefined && holdsCovering(holds, row.subject, step.dataType).length > 0;
      if (location.status === 'failed') {
        const error =
          location.error === null ? undefined : (JSON.parse(location.error) as { code?: string });
        if (error?.code === HELD_ERROR_CODE && !isHeld) {
          await this.#redrive(row.id, location.location);
          moving = true;
        }
        continue;
      }
      if (location.status === 'started') {
        const saga = await this.#sagas.get(eraseLocationSagaId(row.id, location.location));
        if (saga === undefined) {
          // Marked, then the process died before the start: start it now.
          await this.#startLocation(row.id, location.location);
          moving = true;
        } else if (saga.deadLettered) {
          const error = saga.error ?? saga.failure;
          await this.#store.markLocation(
            row.id,
            location.location,
            'failed',
            JSON.stringify({
              code: error?.code ?? 'RETENTION_LOCATION_FAILED',
              message: error?.message ?? 'the erasure failed',
            }),
          );
        } else {
          moving = true;
        }
        continue;
      }
      // pending: it starts once its predecessors are all done, unless a hold covers it.
      if (isHeld) continue;
      if ((step?.after ?? []).every((name) => byName.get(name)?.status === 'done')) {
        await this.#store.markLocation(row.id, location.location, 'started');
        await this.#startLocation(row.id, location.location);
        moving = true;
      }
    }
    if (moving) return false;
    const final = await this.#store.locations(row.id);
    if (final.some((l) => l.status !== 'done')) return true;
    await this.#finish(row, final);
    return true;
  }

  /** Every location has its receipt: `completed` or `partial`, ledgered, audited, identifiers cleared. */
  async #finish(row: ErasureRequestRow, locations: readonly ErasureLocationRow[]): Promise<void> {
    const receipts = locations.map((l) => JSON.parse(l.receipt ?? 'null') as ErasureReceipt);
    const partial = receipts.some((r) => r.outcome === 'unsupported');
    await this.#inTransaction(async (store, backend) => {
      const updated = await store.updateRequest(row.id, row.version, {
        status: partial ? 'partial' : 'completed',
      });
      if (updated === undefined) return;
      await store.clearIdentifiers(row.id);
      await store.appendLedger({ requestId: row.id, subject: row.subject, scope: row.scope });
      const outcomes: Record<string, number> = {};
      for (const receipt of receipts)
        outcomes[receipt.outcome] = (outcomes[receipt.outcome] ?? 0) + 1;
      await this.#audit.record(
        {
          action: RETENTION_AUDIT_ACTIONS.finished,
          actor: RETENTION_SYSTEM_ACTOR,
          resource: { type: 'erasure-request', id: row.id },
          subject: row.subject,
          result: partial
            ? { status: 'failure', errorCode: 'partial', message: 'some locations could not erase' }
            : { status: 'success' },
          metadata: {
            status: updated.status,
            outcomes,
            receipts: receipts.map((r) => r.auditRecordId),
          },
        },
        { transaction: backend },
      );
    });
  }

  async #startLocation(requestId: string, location: string): Promise<void> {
    await this.#sagas.start(this.#saga, { requestId, location } as never, {
      id: eraseLocationSagaId(requestId, location),
    });
  }

  async #redrive(requestId: string, location: string): Promise<void> {
    const id = eraseLocationSagaId(requestId, location);
    const saga = await this.#sagas.get(id);
    await this.#store.markLocation(requestId, location, 'started');
    if (saga === undefined) await this.#startLocation(requestId, location);
    else if (saga.deadLettered) {
      await this.#sagas.redrive(id);
      // The redrive is claimed now but recorded a moment later: until then the saga still reads
      // dead-lettered, and a pass in between would mark the location failed again with the old
      // error (and report the request as waiting for a fix). Wait for the record.
      const until = Date.now() + 5_000;
      for (;;) {
        const now = await this.#sagas.get(id);
        if (now === undefined || !now.deadLettered || now.redrives > saga.redrives) break;
        if (Date.now() > until) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  }

  /** One coordinator pass for one request; returns whether it ended or cannot move on its own. */
  async #drive(requestId: string): Promise<boolean> {
    let row = await this.#requestRow(requestId);
    if (row.status === 'resolving') row = await this.#register(row);
    if (row.status === 'pending') {
      if ((await this.#store.now()).getTime() < row.eraseAfter) return true;
      await this.#begin(row);
      row = await this.#requestRow(requestId);
    }
    if (row.status !== 'running') return true;
    return this.#advance(row);
  }

  // ─── helpers ─────────────────────────────────────────────────────────────────────────────────

  #plan(row: ErasureRequestRow): readonly PlannedErasureStep[] {
    return this.#dataMap.plan(row.scope === '' ? {} : { dataTypes: dataTypesOf(row.scope) });
  }

  /** The shortest deadline of the request's data types: a policy's own, else the module's. */
  #deadlineFor(dataTypes: readonly string[] | undefined): RetentionDuration {
    const policies = this.#policies;
    if (policies === undefined) return this.#deadline;
    let shortest = this.#deadline;
    for (const type of dataTypes ?? policies.dataTypes) {
      const d = policies.get(type)?.erasureDeadline;
      if (d !== undefined && lengthOf(d) < lengthOf(shortest)) shortest = d;
    }
    return shortest;
  }

  /**
   * `dataTypes`, each checked to be one the data map, the policies or the swept tables know: a
   * misspelt type would make an erasure that erases nothing, or a hold that holds nothing.
   */
  #knownDataTypes(dataTypes: readonly string[], name = 'options.dataTypes'): readonly string[] {
    const known = new Set<string>(this.#policies?.dataTypes ?? []);
    for (const step of this.#dataMap.plan({}))
      if (step.dataType !== undefined) known.add(step.dataType);
    for (const table of this.#tables) known.add(table.dataType);
    dataTypes.forEach((type, i) => {
      if (!known.has(type)) {
        throw new TypeError(
          `${dataTypes.length === 1 && name === 'options.dataType' ? name : `${name}[${i}]`} ${JSON.stringify(type)} is no data type of the data map, the policies or the swept tables (${[...known].sort().join(', ') || 'none'})`,
        );
      }
    });
    return dataTypes;
  }

  /** The active holds that may cover `subject`'s data in the planned locations. */
  #holdsOfPlan(
    subject: string,
    steps: readonly PlannedErasureStep[],
  ): Promise<readonly LegalHoldRow[]> {
    const dataTypes = new Set<string>();
    for (const step of steps) if (step.dataType !== undefined) dataTypes.add(step.dataType);
    return this.#store.activeHolds({ subject, dataTypes: [...dataTypes] });
  }

  /** Every active hold, page by page: a sweep must know them all. */
  async #allActiveHolds(): Promise<readonly LegalHoldRow[]> {
    const all: LegalHoldRow[] = [];
    for (;;) {
      const after = all.at(-1)?.id;
      const page = await this.#store.listHolds({
        activeOnly: true,
        ...(after === undefined ? {} : { afterId: after }),
        limit: 1000,
      });
      all.push(...page);
      if (page.length < 1000) return all;
    }
  }

  async #holdsOn(subject: string, dataType: string | undefined): Promise<readonly LegalHoldRow[]> {
    const holds = await this.#store.activeHolds({
      subject,
      ...(dataType === undefined ? {} : { dataTypes: [dataType] }),
    });
    return holdsCovering(holds, subject, dataType);
  }

  async #inTransaction<T>(
    fn: (store: RetentionStore, backend: StorageBackend) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.#store.backend.transaction((backend) =>
        fn(this.#store.withBackend(backend), backend),
      );
    } catch (error) {
      if (error instanceof TypeError && /options\.transaction/.test(error.message)) {
        throw new TypeError(
          `options.audit must record on the retention store's database (its audit store on the same backend), so each record commits with the change it describes: ${error.message}`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  async #requestRow(requestId: string): Promise<ErasureRequestRow> {
    const row = await this.#store.getRequest(requestId);
    if (row === undefined) {
      throw new FlowproofError('RETENTION_REQUEST_NOT_FOUND', `no erasure request ${requestId}`, {
        details: { requestId },
      });
    }
    return row;
  }

  async *#requests(
    statuses: readonly ('resolving' | 'pending' | 'running')[],
    eraseBy: number | undefined,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<ErasureRequestRow> {
    let afterId: string | undefined;
    for (;;) {
      if (signal?.aborted) return;
      const page = await this.#store.requestsByStatus({
        statuses,
        ...(eraseBy === undefined ? {} : { eraseBy }),
        ...(afterId === undefined ? {} : { afterId }),
        limit: PAGE,
      });
      for (const row of page) {
        if (signal?.aborted) return;
        yield row;
        afterId = row.id;
      }
      if (page.length < PAGE) return;
    }
  }

  /** Runs one request's work; a failure is logged and left for the next pass. */
  async #attempt(requestId: string, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (error) {
      logEvent(
        this.#logger,
        'warn',
        {
          event: 'retention.erasure.pass-failed',
          requestId,
          code: isFlowproofError(error) ? error.code : undefined,
          err: error,
        },
        `erasure request ${requestId}: this pass failed, the next one tries again`,
      );
    }
  }

  /** A worker pass soon (coalesced): after a location settles, or a hold is released. */
  #soon(): void {
    if (this.#closed || this.#timer === undefined || this.#passing !== undefined) return;
    this.#passing = this.processErasures()
      .catch((error) => {
        logEvent(
          this.#logger,
          'error',
          { event: 'retention.worker-failed', err: error },
          'erasure worker pass failed',
        );
      })
      .finally(() => {
        this.#passing = undefined;
      });
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new FlowproofError('RETENTION_CLOSED', 'the retention module was used after close()');
    }
  }
}

// ─── checks ──────────────────────────────────────────────────────────────────────────────────────

function holdsCovering(
  holds: readonly LegalHoldRow[],
  subject: string,
  dataType: string | undefined,
): LegalHoldRow[] {
  return holds.filter(
    (h) =>
      (h.subject === null || h.subject === subject) &&
      (h.dataType === null || h.dataType === dataType) &&
      (h.subject !== null || h.dataType !== null),
  );
}

function toLegalHold(row: LegalHoldRow): LegalHold {
  return Object.freeze({
    id: row.id,
    subject: row.subject,
    dataType: row.dataType,
    reason: row.reason,
    owner: row.owner,
    placedAt: toUtcIso(new Date(row.placedAt)),
    releasedAt: row.releasedAt === null ? null : toUtcIso(new Date(row.releasedAt)),
    releaseReason: row.releaseReason,
  });
}

function encodeIdentifiers(value: unknown, location: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new TypeError(
      `the resolve of location ${JSON.stringify(location)} must return JSON data (it is stored), got ${describeValue(value)}`,
      { cause: error },
    );
  }
  if (text === undefined) {
    throw new TypeError(
      `the resolve of location ${JSON.stringify(location)} must return JSON data (it is stored), got ${describeValue(value)}`,
    );
  }
  return text;
}

function assertText(value: unknown, name: string): asserts value is string {
  assertNonEmptyString(value, name);
  if (value.length > 1000) throw new TypeError(`${name} must be at most 1000 characters`);
  const problem = unstorableText(value);
  if (problem !== undefined) throw new TypeError(`${name} ${problem}`);
}

function checkActor(value: unknown, name: string): AuditActor {
  const o = readObject(value, name, 'id type ip sessionId userAgent');
  assertText(o.id, `${name}.id`);
  for (const key of ['type', 'ip', 'sessionId', 'userAgent'] as const) {
    if (o[key] !== undefined) assertText(o[key], `${name}.${key}`);
  }
  return Object.freeze({ ...o }) as unknown as AuditActor;
}

function checkDataTypes(value: unknown): readonly string[] {
  const items = readable('options.dataTypes', () =>
    Array.isArray(value) ? [...value] : undefined,
  );
  if (items === undefined || items.length === 0) {
    throw new TypeError(
      `options.dataTypes must be a non-empty array of data types, got ${describeValue(value)}`,
    );
  }
  return items.map((t: unknown, i: number) => {
    assertText(t, `options.dataTypes[${i}]`);
    if (t.includes(',')) throw new TypeError(`options.dataTypes[${i}] must not contain ','`);
    return t;
  });
}

/** A copy of an optional array option, read safely. */
function arrayOption(value: unknown, name: string): unknown[] {
  if (value === undefined) return [];
  const items = readable(name, () => (Array.isArray(value) ? [...value] : undefined));
  if (items === undefined) {
    throw new TypeError(`${name} must be an array, got ${describeValue(value)}`);
  }
  return items;
}

function checkStore(value: unknown): RetentionStore {
  const store = checkHas(value, 'options.store', [
    'createRequest',
    'settleLocation',
    'activeHolds',
    'ledger',
    'withBackend',
  ]) as RetentionStore;
  return store;
}

function checkHas(value: unknown, name: string, methods: readonly string[]): object {
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${name} must be an object, got ${describeValue(value)}`);
  }
  for (const method of methods) {
    let member: unknown;
    try {
      member = (value as Record<string, unknown>)[method];
    } catch (error) {
      throw new TypeError(`${name}.${method} could not be read`, { cause: error });
    }
    if (typeof member !== 'function') {
      throw new TypeError(`${name} must have a ${method}() method, got ${describeValue(value)}`);
    }
  }
  return value;
}

function durationOption(value: unknown, name: string): RetentionDuration {
  if (typeof value === 'string') return parseRetentionDuration(value, name);
  const text = readable(name, () =>
    typeof value === 'object' && value !== null ? (value as { text?: unknown }).text : undefined,
  );
  if (typeof text === 'string') return parseRetentionDuration(text, name);
  throw new TypeError(
    `${name} must be a duration such as "30 days" or "P30D", got ${describeValue(value)}`,
  );
}

/** A duration's length from a fixed start, for comparing durations (months vary). */
function lengthOf(d: RetentionDuration): number {
  const base = Date.UTC(2001, 0, 1);
  return addRetentionDuration(base, d).getTime() - base;
}

const TEN_YEARS = lengthOf(parseRetentionDuration('10 years'));

function assertWithin(d: RetentionDuration, name: string): void {
  if (lengthOf(d) > TEN_YEARS) {
    throw new TypeError(`${name} must be at most 10 years, got ${JSON.stringify(d.text)}`);
  }
}

function instantOption(value: unknown, name: string): number {
  return parseInstant(value as Date | string, name).getTime();
}
