/**
 * One location of one erasure request, erased as a durable saga: the saga module records the
 * attempt before the handler runs, retries it with backoff, and hands it to another process when
 * this one dies. The receipt and its audit record commit in one transaction, written once, so a
 * crash after the handler and before the receipt runs the (idempotent) handler again and still
 * ends with exactly one receipt.
 */
import { createHash } from 'node:crypto';
import { toUtcIso } from '../core/clock.js';
import { describeValue, FlowproofError, isFlowproofError } from '../core/errors.js';
import { NonRetryableError, type RetryPolicy } from '../core/retry-policy.js';
import type { StorageBackend } from '../core/storage-backend.js';
import { defineSaga, type SagaDefinition } from '../saga/define-saga.js';
import type { DataLocation, ErasureContext } from './data-map.js';
import type { ErasureOutcomeKind, ErasureReceipt } from './erasure-records.js';
import {
  RETENTION_AUDIT_ACTIONS,
  RETENTION_SYSTEM_ACTOR,
  type RetentionAuditLog,
} from './retention-audit.js';
import type { ErasureRequestRow, LegalHoldRow, RetentionStore } from './retention-store.js';

/** The saga that erases one location. */
export const ERASE_LOCATION_SAGA = 'flowproof.retention.erase-location';

/** What the erasure saga is started with. */
export interface EraseLocationInput {
  /** The erasure request. */
  readonly requestId: string;
  /** The location's name. */
  readonly location: string;
}

/** The saga id of one location of one request: stable, so starting it twice starts it once. */
export function eraseLocationSagaId(requestId: string, location: string): string {
  // Location names may be long or hold any character; saga ids are bounded.
  const digest = createHash('sha256').update(location).digest('hex').slice(0, 20);
  return `erasure:${requestId}:${digest}`;
}

/** What a location's erasure needs from the retention module. */
export interface LocationErasureDeps {
  readonly store: RetentionStore;
  readonly audit: RetentionAuditLog;
  /** The current data map's location, or `undefined` when it left the map. */
  readonly locationNamed: (name: string) => DataLocation | undefined;
  /** Active holds covering the subject's data of `dataType`. */
  readonly holdsOn: (
    subject: string,
    dataType: string | undefined,
  ) => Promise<readonly LegalHoldRow[]>;
  /** Runs `fn` in one transaction of the retention store's backend. */
  readonly inTransaction: <T>(
    fn: (store: RetentionStore, backend: StorageBackend) => Promise<T>,
  ) => Promise<T>;
}

/** The error a location's saga fails with while a legal hold covers it; the coordinator redrives it after release. */
export const HELD_ERROR_CODE = 'held';

/**
 * The erasure saga: one step, `erase`, dead-lettered (never compensated: erased data cannot come
 * back) when its retries are spent.
 */
export function defineEraseLocationSaga(
  deps: LocationErasureDeps,
  retry: RetryPolicy,
): SagaDefinition<EraseLocationInput, { erase: ErasureReceipt }> {
  return defineSaga({ name: ERASE_LOCATION_SAGA, version: 1 }).step('erase', {
    retry,
    onFailure: 'dead-letter',
    run: async ({ input, attempt, idempotencyKey, signal }) => {
      const { requestId, location: name } = input as EraseLocationInput;
      return eraseLocation(deps, { requestId, name, attempt, idempotencyKey, signal });
    },
  }) as never;
}

async function eraseLocation(
  deps: LocationErasureDeps,
  job: {
    readonly requestId: string;
    readonly name: string;
    readonly attempt: number;
    readonly idempotencyKey: string;
    readonly signal: AbortSignal;
  },
): Promise<ErasureReceipt> {
  const { store } = deps;
  const { requestId, name } = job;
  const rows = await store.locations(requestId);
  const row = rows.find((r) => r.location === name);
  if (row === undefined) {
    throw new NonRetryableError(
      new FlowproofError(
        'RETENTION_REQUEST_NOT_FOUND',
        `erasure request ${requestId} has no location ${JSON.stringify(name)}`,
        {
          details: { requestId, location: name },
        },
      ),
    );
  }
  // Settled before a crash: the receipt stands, nothing runs again.
  if (row.receipt !== null) return JSON.parse(row.receipt) as ErasureReceipt;
  const request = await store.getRequest(requestId);
  if (request === undefined) {
    throw new NonRetryableError(
      new FlowproofError('RETENTION_REQUEST_NOT_FOUND', `no erasure request ${requestId}`, {
        details: { requestId },
      }),
    );
  }
  const location = deps.locationNamed(name);
  if (location === undefined) {
    return settle(deps, request, name, {
      action: 'delete',
      outcome: 'unsupported',
      affected: null,
      verified: null,
      reason: 'the location left the data map before it was erased',
      detail: null,
      attempts: job.attempt,
    });
  }
  const holds = await deps.holdsOn(request.subject, location.dataType);
  if (holds.length > 0) {
    // Recorded in the saga's log with this code; the coordinator redrives it once released.
    const held = Object.assign(
      new Error(`a legal hold covers this location (${holds.map((h) => h.id).join(', ')})`),
      { code: HELD_ERROR_CODE },
    );
    throw new NonRetryableError(held);
  }
  if (location.unsupported !== undefined || location.action === 'retain') {
    return settle(deps, request, name, {
      action: location.action,
      outcome: location.unsupported !== undefined ? 'unsupported' : 'retained',
      affected: null,
      verified: null,
      reason: location.unsupported ?? location.reason ?? null,
      detail: null,
      attempts: job.attempt,
    });
  }
  const context = Object.freeze({
    subject: request.subject,
    identifiers:
      row.identifiers === null ? [request.subject] : (JSON.parse(row.identifiers) as unknown),
    requestId,
    location: name,
    idempotencyKey: job.idempotencyKey,
    attempt: job.attempt,
    signal: job.signal,
  });
  const { affected, detail, verified } = await eraseAndVerify(location, context);
  return settle(deps, request, name, {
    action: location.action,
    outcome: OUTCOME_OF[location.action],
    affected,
    verified,
    reason: null,
    detail,
    attempts: job.attempt,
  });
}

/** What a location's handlers reported, checked. */
export interface VerifiedErasure {
  /** Rows or objects the handler counted, or `null`. */
  readonly affected: number | null;
  /** The handler's note, or `null`. */
  readonly detail: string | null;
  /** `true` when `verify` counted nothing left; `null` without a `verify`. */
  readonly verified: boolean | null;
}

/**
 * Runs a location's `erase`, checks what it returned, then its `verify`: the one place that
 * decides whether a location was erased, for the erasure saga and for `reapplyErasures`.
 *
 * @throws FlowproofError `RETENTION_LOCATION_FAILED` when `erase` throws or returns something
 * else than a count (final when the handler said so or the result is malformed),
 * `RETENTION_DATA_REMAINS` when `verify` still counts data; a final TypeError when `verify` does
 * not return a count.
 */
export async function eraseAndVerify(
  location: DataLocation,
  context: ErasureContext,
): Promise<VerifiedErasure> {
  const { requestId, location: name } = context;
  let outcome: unknown;
  try {
    outcome = await location.erase?.(context);
  } catch (error) {
    const failure = new FlowproofError(
      'RETENTION_LOCATION_FAILED',
      `erasing location ${JSON.stringify(name)} of request ${requestId} failed: ${messageOf(error)}`,
      { cause: error, details: { requestId, location: name } },
    );
    // The handler's own "do not retry" stays final.
    if (error instanceof NonRetryableError || (error as Error | null)?.name === 'AbortError') {
      throw new NonRetryableError(failure);
    }
    throw failure;
  }
  let verified: boolean | null = null;
  if (location.verify !== undefined) {
    const remaining = await location.verify(context);
    if (!Number.isInteger(remaining) || remaining < 0) {
      throw new NonRetryableError(
        new TypeError(
          `location ${JSON.stringify(name)}: verify must return the count of what remains (an integer ≥ 0), got ${String(remaining)}`,
        ),
      );
    }
    if (remaining > 0) {
      throw new FlowproofError(
        'RETENTION_DATA_REMAINS',
        `location ${JSON.stringify(name)} still holds ${remaining} of the subject's rows or objects after erasure`,
        { details: { requestId, location: name, remaining } },
      );
    }
    verified = true;
  }
  return { ...checkOutcome(outcome, requestId, name), verified };
}

const OUTCOME_OF: Record<'delete' | 'anonymize' | 'shred', ErasureOutcomeKind> = {
  delete: 'erased',
  anonymize: 'anonymized',
  shred: 'shredded',
};

/** Rolls back a receipt transaction that found the receipt already written. */
class AlreadySettled extends Error {}

/** Writes the receipt and its audit record in one transaction, once. */
async function settle(
  deps: LocationErasureDeps,
  request: ErasureRequestRow,
  location: string,
  receipt: Omit<ErasureReceipt, 'requestId' | 'location' | 'settledAt' | 'auditRecordId'>,
): Promise<ErasureReceipt> {
  try {
    return await deps.inTransaction(async (store, backend) => {
      const settledAt = toUtcIso(await store.now());
      const record = await deps.audit.record(
        {
          action: RETENTION_AUDIT_ACTIONS.locationSettled,
          actor: RETENTION_SYSTEM_ACTOR,
          resource: { type: 'erasure-request', id: request.id },
          subject: request.subject,
          result:
            receipt.outcome === 'unsupported'
              ? { status: 'failure', errorCode: 'unsupported' }
              : { status: 'success' },
          ...(receipt.reason === null ? {} : { reason: receipt.reason }),
          metadata: {
            location,
            action: receipt.action,
            outcome: receipt.outcome,
            affected: receipt.affected,
            verified: receipt.verified,
          },
        },
        { transaction: backend },
      );
      const full: ErasureReceipt = Object.freeze({
        requestId: request.id,
        location,
        ...receipt,
        settledAt,
        auditRecordId: `${record.chain}:${record.seq}`,
      });
      const { row, settled } = await store.settleLocation(
        request.id,
        location,
        JSON.stringify(full),
      );
      if (!settled) throw new AlreadySettled(row.receipt ?? '');
      return full;
    });
  } catch (error) {
    // Another attempt settled it first: its receipt (and its audit record) stand alone.
    if (error instanceof AlreadySettled) return JSON.parse(error.message) as ErasureReceipt;
    throw error;
  }
}

/**
 * What the handler returned, checked: a receipt is proof, so a count that is not a count (or a
 * misspelt key) fails the location rather than being written as "erased, count unknown".
 */
function checkOutcome(
  outcome: unknown,
  requestId: string,
  location: string,
): { affected: number | null; detail: string | null } {
  const fail = (what: string) =>
    new NonRetryableError(
      new FlowproofError(
        'RETENTION_LOCATION_FAILED',
        `location ${JSON.stringify(location)}: erase must return nothing or { affected, detail }, ${what}`,
        { details: { requestId, location } },
      ),
    );
  if (outcome === undefined || outcome === null) return { affected: null, detail: null };
  if (typeof outcome !== 'object' || Array.isArray(outcome)) {
    throw fail(`got ${describeValue(outcome)}`);
  }
  let affected: unknown;
  let detail: unknown;
  try {
    const unknownKey = Object.keys(outcome).find((k) => k !== 'affected' && k !== 'detail');
    if (unknownKey !== undefined) throw fail(`not ${JSON.stringify(unknownKey)}`);
    ({ affected, detail } = outcome as Record<string, unknown>);
  } catch (error) {
    if (error instanceof NonRetryableError) throw error;
    throw fail('and its result could not be read');
  }
  if (affected !== undefined && (!Number.isSafeInteger(affected) || (affected as number) < 0)) {
    throw fail(`with affected a count (an integer ≥ 0), got ${describeValue(affected)}`);
  }
  if (detail !== undefined && (typeof detail !== 'string' || detail.length > 1000)) {
    throw fail(`with detail text of at most 1000 characters, got ${describeValue(detail)}`);
  }
  return {
    affected: (affected as number | undefined) ?? null,
    detail: (detail as string | undefined) ?? null,
  };
}

function messageOf(error: unknown): string {
  if (isFlowproofError(error)) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
