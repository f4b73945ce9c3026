/**
 * Checks shared by every retention store on what it is asked to do, so memory, SQLite and
 * PostgreSQL answer a bad value the same way before anything is written; the decoding of stored
 * rows they share; and the error for a location a request does not have.
 *
 * @internal
 */
import { describeValue, FlowproofError } from '../core/errors.js';
import { isId } from '../core/ids.js';
import { assertInteger, readable, readObject } from '../core/options.js';
import {
  type DeadlineQuery,
  type ErasureLedgerEntry,
  type ErasureLocationRow,
  type ErasureLocationStatus,
  type ErasureRequestPatch,
  type ErasureRequestRow,
  type ErasureStatus,
  type HoldLookup,
  type LegalHoldRow,
  type NewErasureRequest,
  type NewLegalHold,
  OPEN_ERASURE_STATUSES,
  RETENTION_STORE_COMPONENT,
} from '../retention/retention-store.js';
import { MAX_MS } from './json-data-text.js';
import { assertStorableText } from './storable-text.js';
import { storeDataCorrupt } from './store-data-corrupt.js';

/** Every request status, in the order they are reached. */
export const ERASURE_STATUSES: readonly ErasureStatus[] = [
  'resolving',
  'pending',
  'running',
  'completed',
  'partial',
  'cancelled',
];
const FINAL_STATUSES: readonly ErasureStatus[] = ['completed', 'partial', 'cancelled'];
const LOCATION_STATUSES: readonly ErasureLocationStatus[] = [
  'pending',
  'started',
  'failed',
  'done',
];

/** The default `limit` of `activeHolds`. */
export const DEFAULT_HOLD_LIMIT = 1000;

/** Whether `status` ends a request (and sets `finishedAt`). */
export function isFinalStatus(status: ErasureStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/** Whether `status` is one of an open request. */
export function isOpenStatus(status: ErasureStatus): boolean {
  return OPEN_ERASURE_STATUSES.includes(status);
}

/** A copy of the array `value`, or `undefined` when it is not one; read once. */
function readArray(value: unknown, name: string): unknown[] | undefined {
  return readable(name, () => (Array.isArray(value) ? [...value] : undefined));
}

function assertId(value: unknown, name: string): asserts value is string {
  if (!isId(value)) throw new TypeError(`${name} must be a ULID, got ${describeValue(value)}`);
}

/** `null` or storable text (empty allowed). */
function assertOptionalText(value: unknown, name: string): asserts value is string | null {
  if (value !== null) assertStorableText(value, name, true);
}

function assertStatus(value: unknown, name: string): asserts value is ErasureStatus {
  if (!ERASURE_STATUSES.includes(value as ErasureStatus)) {
    throw new TypeError(
      `${name} must be one of ${ERASURE_STATUSES.join(', ')}, got ${describeValue(value)}`,
    );
  }
}

/** A time in epoch ms: a safe integer, not negative. */
function assertTime(value: unknown, name: string): asserts value is number {
  assertInteger(value, name, 0);
}

function assertLimit(value: unknown, name: string): asserts value is number {
  assertInteger(value, name, 1);
}

/** @throws TypeError unless `id` is non-empty storable text (a key to look up). */
export function checkKey(id: unknown, name: string): asserts id is string {
  assertStorableText(id, name);
}

/**
 * Checks a new request: a ULID id, a non-empty subject and source, a scope (`''` allowed),
 * reason and actor `null` or text, grace period and deadline whole milliseconds up to about a
 * century.
 *
 * @returns the request's fields, each read once.
 * @throws TypeError naming the first bad field.
 */
export function checkNewRequest(value: NewErasureRequest): NewErasureRequest {
  const request = readObject(
    value,
    'request',
    'id subject scope source reason actor graceMs dueInMs',
  );
  assertId(request.id, 'request.id');
  assertStorableText(request.subject, 'request.subject');
  assertStorableText(request.scope, 'request.scope', true);
  assertStorableText(request.source, 'request.source');
  assertOptionalText(request.reason, 'request.reason');
  assertOptionalText(request.actor, 'request.actor');
  assertInteger(request.graceMs, 'request.graceMs', 0, MAX_MS);
  assertInteger(request.dueInMs, 'request.dueInMs', 0, MAX_MS);
  return request as unknown as NewErasureRequest;
}

/**
 * Checks an update: the request's id, the expected version, and a patch of known fields.
 *
 * @returns the patch's fields, each read once.
 * @throws TypeError naming the first bad argument.
 */
export function checkUpdate(
  id: unknown,
  expectedVersion: unknown,
  value: ErasureRequestPatch,
): ErasureRequestPatch {
  checkKey(id, 'id');
  assertInteger(expectedVersion, 'expectedVersion', 0);
  const patch = readObject(value, 'patch', 'status eraseAfter dueAt extensions');
  if (patch.status !== undefined) assertStatus(patch.status, 'patch.status');
  if (patch.eraseAfter !== undefined) assertTime(patch.eraseAfter, 'patch.eraseAfter');
  if (patch.dueAt !== undefined) assertTime(patch.dueAt, 'patch.dueAt');
  if (patch.extensions !== undefined) assertOptionalText(patch.extensions, 'patch.extensions');
  return patch as ErasureRequestPatch;
}

/** What `requestsByStatus` asks for. */
export interface StatusQuery {
  readonly statuses: readonly ErasureStatus[];
  readonly eraseBy?: number;
  readonly afterId?: string;
  readonly limit: number;
}

/**
 * Checks a read by status: a non-empty array of known statuses, an optional `eraseBy` time and
 * `afterId`, a limit.
 *
 * @returns the query's fields, each read once, the statuses without repeats.
 * @throws TypeError naming the first bad field.
 */
export function checkStatusQuery(value: StatusQuery): StatusQuery {
  const query = readObject(value, 'query', 'statuses eraseBy afterId limit');
  const statuses = readArray(query.statuses, 'query.statuses');
  if (statuses === undefined || statuses.length === 0) {
    throw new TypeError(
      `query.statuses must be a non-empty array of statuses, got ${describeValue(query.statuses)}`,
    );
  }
  statuses.forEach((status: unknown, i) => {
    assertStatus(status, `query.statuses[${i}]`);
  });
  if (query.eraseBy !== undefined) assertTime(query.eraseBy, 'query.eraseBy');
  if (query.afterId !== undefined) checkKey(query.afterId, 'query.afterId');
  assertLimit(query.limit, 'query.limit');
  return {
    ...(query as unknown as StatusQuery),
    statuses: [...new Set(statuses as ErasureStatus[])],
  };
}

/** @throws TypeError naming the bad argument of `requestsOfSubject`. */
export function checkSubjectRead(subject: unknown, limit: unknown): void {
  assertStorableText(subject, 'subject');
  assertLimit(limit, 'limit');
}

/**
 * Checks a read by deadline.
 *
 * @returns the query's fields, each read once.
 * @throws TypeError naming the first bad field.
 */
export function checkDeadlineQuery(value: DeadlineQuery): DeadlineQuery {
  const query = readObject(value, 'query', 'dueBefore after limit');
  assertInteger(query.dueBefore, 'query.dueBefore');
  if (query.after !== undefined) {
    const after = readObject(query.after, 'query.after', 'dueAt id');
    assertInteger(after.dueAt, 'query.after.dueAt');
    checkKey(after.id, 'query.after.id');
    query.after = after;
  }
  assertLimit(query.limit, 'query.limit');
  return query as unknown as DeadlineQuery;
}

/** A location to add. */
export interface NewLocation {
  readonly location: string;
  readonly identifiers: string | null;
}

/**
 * Checks locations to add: each a non-empty name used once in the call, identifiers `null` or
 * text.
 *
 * @returns copies of the locations, each field read once.
 * @throws TypeError naming the first bad argument.
 */
export function checkAddLocations(requestId: unknown, locations: unknown): NewLocation[] {
  checkKey(requestId, 'requestId');
  const entries = readArray(locations, 'locations');
  if (entries === undefined) {
    throw new TypeError(`locations must be an array, got ${describeValue(locations)}`);
  }
  const seen = new Map<string, number>();
  return entries.map((value: unknown, i) => {
    const name = `locations[${i}]`;
    const entry = readObject(value, name, 'location identifiers');
    assertStorableText(entry.location, `${name}.location`);
    assertOptionalText(entry.identifiers, `${name}.identifiers`);
    const first = seen.get(entry.location);
    if (first !== undefined) {
      throw new TypeError(`${name}.location repeats locations[${first}].location`);
    }
    seen.set(entry.location, i);
    return { location: entry.location, identifiers: entry.identifiers };
  });
}

/** @throws TypeError naming the bad argument of `markLocation`. */
export function checkMark(
  requestId: unknown,
  location: unknown,
  status: unknown,
  error: unknown,
): void {
  checkKey(requestId, 'requestId');
  checkKey(location, 'location');
  if (status !== 'started' && status !== 'failed') {
    throw new TypeError(`status must be started or failed, got ${describeValue(status)}`);
  }
  if (error !== undefined) assertOptionalText(error, 'error');
}

/** @throws TypeError naming the bad argument of `settleLocation`. */
export function checkSettle(requestId: unknown, location: unknown, receipt: unknown): void {
  checkKey(requestId, 'requestId');
  checkKey(location, 'location');
  assertStorableText(receipt, 'receipt', true);
}

/**
 * Checks a new hold: a ULID id, a subject or a data type (or both), a reason and an owner.
 *
 * @returns the hold's fields, each read once.
 * @throws TypeError naming the first bad field.
 */
export function checkNewHold(value: NewLegalHold): NewLegalHold {
  const hold = readObject(value, 'hold', 'id subject dataType reason owner');
  assertId(hold.id, 'hold.id');
  if (hold.subject !== null) assertStorableText(hold.subject, 'hold.subject');
  if (hold.dataType !== null) assertStorableText(hold.dataType, 'hold.dataType');
  if (hold.subject === null && hold.dataType === null) {
    throw new TypeError('hold.subject and hold.dataType must not both be null: a hold covers one');
  }
  assertStorableText(hold.reason, 'hold.reason');
  assertStorableText(hold.owner, 'hold.owner');
  return hold as unknown as NewLegalHold;
}

/** @throws TypeError naming the bad argument of `releaseHold`. */
export function checkRelease(id: unknown, reason: unknown): void {
  checkKey(id, 'id');
  assertStorableText(reason, 'reason');
}

/**
 * Checks a hold lookup and its limit.
 *
 * @returns the lookup's fields, each read once, the data types without repeats.
 * @throws TypeError naming the first bad argument.
 */
export function checkHoldLookup(value: HoldLookup, limit: unknown): HoldLookup {
  const lookup = readObject(value, 'lookup', 'subject dataTypes');
  if (lookup.subject !== undefined) assertStorableText(lookup.subject, 'lookup.subject');
  if (lookup.dataTypes !== undefined) {
    const dataTypes = readArray(lookup.dataTypes, 'lookup.dataTypes');
    if (dataTypes === undefined) {
      throw new TypeError(
        `lookup.dataTypes must be an array, got ${describeValue(lookup.dataTypes)}`,
      );
    }
    dataTypes.forEach((type: unknown, i) => {
      assertStorableText(type, `lookup.dataTypes[${i}]`);
    });
    lookup.dataTypes = [...new Set(dataTypes as string[])];
  }
  if (limit !== undefined) assertLimit(limit, 'limit');
  return lookup as HoldLookup;
}

/** What `listHolds` asks for. */
export interface HoldListQuery {
  readonly activeOnly?: boolean;
  readonly afterId?: string;
  readonly limit: number;
}

/** @returns the query's fields, each read once. @throws TypeError naming the first bad field. */
export function checkHoldList(value: HoldListQuery): HoldListQuery {
  const query = readObject(value, 'query', 'activeOnly afterId limit');
  if (query.activeOnly !== undefined && typeof query.activeOnly !== 'boolean') {
    throw new TypeError(
      `query.activeOnly must be a boolean, got ${describeValue(query.activeOnly)}`,
    );
  }
  if (query.afterId !== undefined) checkKey(query.afterId, 'query.afterId');
  assertLimit(query.limit, 'query.limit');
  return query as unknown as HoldListQuery;
}

/** @returns the entry's fields, each read once. @throws TypeError naming the first bad field. */
export function checkLedgerEntry(
  value: Omit<ErasureLedgerEntry, 'erasedAt'>,
): Omit<ErasureLedgerEntry, 'erasedAt'> {
  const entry = readObject(value, 'entry', 'requestId subject scope');
  assertId(entry.requestId, 'entry.requestId');
  assertStorableText(entry.subject, 'entry.subject');
  assertStorableText(entry.scope, 'entry.scope', true);
  return entry as unknown as Omit<ErasureLedgerEntry, 'erasedAt'>;
}

/** @returns the query's fields, each read once. @throws TypeError naming the first bad field. */
export function checkLedgerQuery(value: {
  readonly afterRequestId?: string;
  readonly limit: number;
}): { readonly afterRequestId?: string; readonly limit: number } {
  const query = readObject(value, 'query', 'afterRequestId limit');
  if (query.afterRequestId !== undefined) checkKey(query.afterRequestId, 'query.afterRequestId');
  assertLimit(query.limit, 'query.limit');
  return query as unknown as { readonly afterRequestId?: string; readonly limit: number };
}

/** `RETENTION_REQUEST_NOT_FOUND`: the request does not exist, or has no such location. */
export function requestNotFound(requestId: string, location?: string): FlowproofError {
  return new FlowproofError(
    'RETENTION_REQUEST_NOT_FOUND',
    location === undefined
      ? `No erasure request has the id ${requestId}`
      : `The erasure request ${requestId} has no location ${JSON.stringify(location)}`,
    { details: location === undefined ? { requestId } : { requestId, location } },
  );
}

/** A stored row as a store reads it back: columns of any type, checked by the decoders. */
export type StoredRow = Readonly<Record<string, unknown>>;

/** A decoder of one stored row's columns, failing with `STORE_DATA_CORRUPT` naming the record. */
function reader(row: StoredRow, backend: string, id: string) {
  const corrupt = (field: string) =>
    storeDataCorrupt({ backend, component: RETENTION_STORE_COMPONENT, id, field });
  const text = (column: string): string => {
    const value = row[column];
    if (typeof value !== 'string') throw corrupt(column);
    return value;
  };
  const optionalText = (column: string): string | null =>
    row[column] === null ? null : text(column);
  // SQL bigint may arrive as text (pg) or bigint.
  const time = (column: string): number => {
    const raw = row[column];
    const value =
      typeof raw === 'string' && /^\d{1,16}$/.test(raw)
        ? Number(raw)
        : typeof raw === 'bigint'
          ? Number(raw)
          : raw;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw corrupt(column);
    }
    return value;
  };
  const optionalTime = (column: string): number | null =>
    row[column] === null ? null : time(column);
  const oneOf = <T extends string>(column: string, allowed: readonly T[]): T => {
    const value = row[column];
    if (!allowed.includes(value as T)) throw corrupt(column);
    return value as T;
  };
  return { text, optionalText, time, optionalTime, oneOf };
}

/**
 * The {@link ErasureRequestRow} of a stored row.
 *
 * @throws FlowproofError `STORE_DATA_CORRUPT` naming the first column that cannot be decoded.
 */
export function requestRow(row: StoredRow, backend: string): ErasureRequestRow {
  const read = reader(row, backend, String(row.id));
  return {
    id: read.text('id'),
    subject: read.text('subject'),
    scope: read.text('scope'),
    source: read.text('source'),
    reason: read.optionalText('reason'),
    actor: read.optionalText('actor'),
    status: read.oneOf('status', ERASURE_STATUSES),
    receivedAt: read.time('received_at'),
    eraseAfter: read.time('erase_after'),
    dueAt: read.time('due_at'),
    extensions: read.optionalText('extensions'),
    finishedAt: read.optionalTime('finished_at'),
    version: read.time('version'),
  };
}

/**
 * The {@link ErasureLocationRow} of a stored row.
 *
 * @throws FlowproofError `STORE_DATA_CORRUPT` naming the first column that cannot be decoded.
 */
export function locationRow(row: StoredRow, backend: string): ErasureLocationRow {
  const read = reader(row, backend, `${String(row.request_id)}/${String(row.location)}`);
  return {
    requestId: read.text('request_id'),
    location: read.text('location'),
    status: read.oneOf('status', LOCATION_STATUSES),
    identifiers: read.optionalText('identifiers'),
    receipt: read.optionalText('receipt'),
    error: read.optionalText('error'),
    addedAt: read.time('added_at'),
    settledAt: read.optionalTime('settled_at'),
  };
}

/**
 * The {@link LegalHoldRow} of a stored row.
 *
 * @throws FlowproofError `STORE_DATA_CORRUPT` naming the first column that cannot be decoded.
 */
export function holdRow(row: StoredRow, backend: string): LegalHoldRow {
  const read = reader(row, backend, String(row.id));
  return {
    id: read.text('id'),
    subject: read.optionalText('subject'),
    dataType: read.optionalText('data_type'),
    reason: read.text('reason'),
    owner: read.text('owner'),
    placedAt: read.time('placed_at'),
    releasedAt: read.optionalTime('released_at'),
    releaseReason: read.optionalText('release_reason'),
  };
}

/**
 * The {@link ErasureLedgerEntry} of a stored row.
 *
 * @throws FlowproofError `STORE_DATA_CORRUPT` naming the first column that cannot be decoded.
 */
export function ledgerEntry(row: StoredRow, backend: string): ErasureLedgerEntry {
  const read = reader(row, backend, String(row.request_id));
  return {
    requestId: read.text('request_id'),
    subject: read.text('subject'),
    scope: read.text('scope'),
    erasedAt: read.time('erased_at'),
  };
}

/**
 * Whether the active hold `hold` covers `lookup` (see `RetentionStore.activeHolds`): the one
 * rule the memory store applies and the SQL statements spell.
 */
export function holdCovers(hold: LegalHoldRow, lookup: HoldLookup): boolean {
  const { subject, dataTypes } = lookup;
  if (subject === undefined && dataTypes === undefined) return true;
  const ofType = (type: string | null) => type !== null && (dataTypes?.includes(type) ?? false);
  if (subject !== undefined && hold.subject === subject) {
    if (dataTypes === undefined || hold.dataType === null || ofType(hold.dataType)) return true;
  }
  return (
    dataTypes !== undefined &&
    ofType(hold.dataType) &&
    (subject === undefined || hold.subject === null || hold.subject === subject)
  );
}
