/**
 * Checks shared by every saga store on what it is asked to write, so memory, SQLite and
 * PostgreSQL answer a bad value the same way, before anything is written.
 *
 * @internal
 */
import { assertInteger, assertKnownKeys, assertNonEmptyString } from '../core/options.js';
import {
  ACTIVE_SAGA_STATUSES,
  type ClaimRequest,
  type NewSaga,
  SAGA_STATUSES,
  type SagaLease,
  type SagaListQuery,
  type SagaPurgeRequest,
  type SagaStatus,
  type SagaUpdate,
} from '../saga/saga-store.js';
import { assertStrings, jsonDataText, MAX_MS } from './json-data-text.js';

/**
 * Checks a new saga (and the lease it is created with) and returns its log as JSON text.
 *
 * @throws TypeError naming the first bad field.
 */
export function checkNewSaga(
  saga: NewSaga,
  lease: { readonly owner: string; readonly leaseMs: number } | undefined,
): string {
  assertNonEmptyString(saga?.id, 'saga.id');
  assertNonEmptyString(saga.name, 'saga.name');
  assertInteger(saga.version, 'saga.version', 0);
  assertSagaStatus(saga.status, 'saga.status');
  if (lease !== undefined) {
    assertNonEmptyString(lease?.owner, 'lease.owner');
    assertInteger(lease.leaseMs, 'lease.leaseMs', 0, MAX_MS);
  }
  return jsonDataText(saga.log, 'saga.log');
}

/** @throws TypeError naming the first bad field of a claim request. */
export function checkClaim(request: ClaimRequest): void {
  assertKnownKeys(request, ['owner', 'leaseMs', 'limit', 'statuses', 'names', 'ids'], 'request');
  assertNonEmptyString(request.owner, 'request.owner');
  assertInteger(request.leaseMs, 'request.leaseMs', 0, MAX_MS);
  assertInteger(request.limit, 'request.limit', 0);
  assertStatuses(request.statuses, 'request.statuses');
  if (request.names !== undefined) assertStrings(request.names, 'request.names');
  if (request.ids !== undefined) assertStrings(request.ids, 'request.ids');
}

/**
 * Checks a fenced write and returns its log as JSON text.
 *
 * @throws TypeError naming the first bad field.
 */
export function checkUpdate(update: SagaUpdate, lease: SagaLease): string {
  assertNonEmptyString(update?.id, 'update.id');
  assertSagaStatus(update.status, 'update.status');
  assertInteger(update.wakeInMs, 'update.wakeInMs', 0, MAX_MS);
  if (update.lease !== 'release') {
    assertInteger(update.lease?.extendMs, 'update.lease.extendMs', 0, MAX_MS);
  }
  assertLease(lease);
  return jsonDataText(update.log, 'update.log');
}

/** @throws TypeError naming the first bad field of a heartbeat. */
export function checkHeartbeat(id: string, lease: SagaLease, leaseMs: number): void {
  assertNonEmptyString(id, 'id');
  assertLease(lease);
  assertInteger(leaseMs, 'leaseMs', 0, MAX_MS);
}

/** @throws TypeError naming the first bad field of a list query. */
export function checkList(query: SagaListQuery): void {
  assertKnownKeys(query, ['statuses', 'name', 'afterId', 'limit'], 'query');
  if (query.statuses !== undefined) assertStatuses(query.statuses, 'query.statuses');
  if (query.name !== undefined) assertNonEmptyString(query.name, 'query.name');
  if (query.afterId !== undefined && typeof query.afterId !== 'string') {
    throw new TypeError('query.afterId must be a string');
  }
  assertInteger(query.limit, 'query.limit', 0);
}

/** @throws TypeError naming the first bad field; active statuses are refused. */
export function checkPurge(request: SagaPurgeRequest): void {
  assertKnownKeys(request, ['statuses', 'finishedBeforeMs', 'limit'], 'request');
  assertPurgeStatuses(request.statuses, 'request.statuses');
  assertInteger(request.finishedBeforeMs, 'request.finishedBeforeMs', 0);
  assertInteger(request.limit, 'request.limit', 0);
}

function assertLease(lease: SagaLease): void {
  assertNonEmptyString(lease?.owner, 'lease.owner');
  assertInteger(lease.token, 'lease.token', 0);
}

function assertStatuses(statuses: readonly SagaStatus[], name: string): void {
  if (!Array.isArray(statuses)) throw new TypeError(`${name} must be an array of saga statuses`);
  for (const status of statuses) assertSagaStatus(status, name);
}

/** @throws TypeError naming `name` when `status` is not a {@link SagaStatus}. */
function assertSagaStatus(status: unknown, name: string): asserts status is SagaStatus {
  if (!SAGA_STATUSES.includes(status as SagaStatus)) {
    throw new TypeError(
      `${name} must be one of ${SAGA_STATUSES.join(', ')}; got ${String(status)}`,
    );
  }
}

/** @throws TypeError naming `name` when a status is unknown or active (purge never deletes those). */
function assertPurgeStatuses(statuses: readonly SagaStatus[], name: string): void {
  assertStatuses(statuses, name);
  for (const status of statuses) {
    if (ACTIVE_SAGA_STATUSES.includes(status)) {
      throw new TypeError(
        `${name} must not include an active status (${status}): purge deletes finished sagas only`,
      );
    }
  }
}
