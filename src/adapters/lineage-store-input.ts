/**
 * Checks shared by every lineage store on what it is asked to do, so memory, SQLite and
 * PostgreSQL answer a bad value the same way, before anything is written; the decoding of stored
 * rows they share; and the error for a record id already stored.
 *
 * @internal
 */

import { describeValue, FlowproofError } from '../core/errors.js';
import { isId } from '../core/ids.js';
import { assertInteger, assertKnownKeys, assertOptionsObject } from '../core/options.js';
import type {
  LineageAppend,
  LineageCorrelationRead,
  LineageHistoryRead,
  LineagePosition,
  LineagePurgeRequest,
  LineageRecordKind,
  LineageRow,
} from '../lineage/lineage-store.js';
import { assertStorableText } from './storable-text.js';
import { storeDataCorrupt } from './store-data-corrupt.js';

/** The text fields of a record: each `null` or a non-empty string, two of them needed by kind. */
const TEXT_KEYS = ['entity', 'field', 'job', 'runId', 'correlationId', 'causationId'] as const;
const APPEND_KEYS = ['id', 'kind', ...TEXT_KEYS, 'body'];
const KINDS: readonly LineageRecordKind[] = ['value', 'run'];

/** Throws unless `value` is `null` or a non-empty storable string. */
function assertOptionalText(value: unknown, name: string): void {
  if (value !== null) assertStorableText(value, name);
}

/** Throws unless `value` is a ULID. */
function assertId(value: unknown, name: string): asserts value is string {
  if (!isId(value)) throw new TypeError(`${name} must be a ULID, got ${describeValue(value)}`);
}

/**
 * Checks records to append: each a known set of fields, a ULID id used once in the batch, a
 * known kind with the fields it needs (`entity` and `field` for values, `job` and `runId` for
 * runs), every other text `null` or a non-empty string, the body a string; no text holds NUL or
 * a lone surrogate.
 *
 * @throws TypeError naming the first bad field.
 */
export function checkLineageAppends(records: readonly LineageAppend[]): void {
  if (!Array.isArray(records)) {
    throw new TypeError(
      `records must be an array of lineage records, got ${describeValue(records)}`,
    );
  }
  const seen = new Map<string, number>();
  records.forEach((record: LineageAppend, i) => {
    const name = `records[${i}]`;
    assertOptionsObject(record, name);
    assertKnownKeys(record, APPEND_KEYS, name);
    assertId(record.id, `${name}.id`);
    const first = seen.get(record.id);
    if (first !== undefined) {
      throw new TypeError(`${name}.id repeats records[${first}].id (${record.id})`);
    }
    seen.set(record.id, i);
    if (!KINDS.includes(record.kind)) {
      throw new TypeError(
        `${name}.kind must be one of ${KINDS.join(', ')}, got ${describeValue(record.kind)}`,
      );
    }
    const needed =
      record.kind === 'value' ? (['entity', 'field'] as const) : (['job', 'runId'] as const);
    for (const key of [
      'entity',
      'field',
      'job',
      'runId',
      'correlationId',
      'causationId',
    ] as const) {
      if ((needed as readonly string[]).includes(key))
        assertStorableText(record[key], `${name}.${key}`);
      else assertOptionalText(record[key], `${name}.${key}`);
    }
    assertStorableText(record.body, `${name}.body`, true);
  });
}

/** @throws TypeError naming the first bad argument of `latest`. */
export function checkLatest(entity: unknown, field: unknown, at: unknown): void {
  assertStorableText(entity, 'entity');
  assertStorableText(field, 'field');
  if (at !== undefined) assertInteger(at, 'at');
}

function checkPosition(position: LineagePosition, name: string): void {
  assertOptionsObject(position, name);
  assertKnownKeys(position, ['recordedAt', 'id'], name);
  assertInteger(position.recordedAt, `${name}.recordedAt`, 0);
  assertId(position.id, `${name}.id`);
}

/** @throws TypeError naming the first bad field of a history read. */
export function checkHistoryRead(read: LineageHistoryRead): void {
  assertOptionsObject(read, 'read');
  assertKnownKeys(read, ['entity', 'field', 'before', 'limit'], 'read');
  assertStorableText(read.entity, 'read.entity');
  assertStorableText(read.field, 'read.field');
  if (read.before !== undefined) checkPosition(read.before, 'read.before');
  assertInteger(read.limit, 'read.limit', 1);
}

/** @throws TypeError naming the first bad field of a read by correlation id. */
export function checkCorrelationRead(read: LineageCorrelationRead): void {
  assertOptionsObject(read, 'read');
  assertKnownKeys(read, ['correlationId', 'kind', 'after', 'limit'], 'read');
  assertStorableText(read.correlationId, 'read.correlationId');
  if (read.kind !== undefined && !KINDS.includes(read.kind)) {
    throw new TypeError(
      `read.kind must be one of ${KINDS.join(', ')}, got ${describeValue(read.kind)}`,
    );
  }
  if (read.after !== undefined) checkPosition(read.after, 'read.after');
  assertInteger(read.limit, 'read.limit', 1);
}

/** @throws TypeError naming the first bad field of a purge request. */
export function checkPurge(request: LineagePurgeRequest): void {
  assertOptionsObject(request, 'request');
  assertKnownKeys(request, ['before', 'limit'], 'request');
  assertInteger(request.before, 'request.before');
  assertInteger(request.limit, 'request.limit', 1);
}

/** `LINEAGE_RECORD_EXISTS`: the record `id` is stored already; nothing of its batch was written. */
export function lineageRecordExists(id: string): FlowproofError {
  return new FlowproofError(
    'LINEAGE_RECORD_EXISTS',
    `A lineage record with id ${id} is already stored; nothing of the batch was written`,
    { details: { id } },
  );
}

/** A stored row as a store reads it back: columns of any type, checked by {@link lineageRow}. */
export interface StoredLineageRow {
  readonly id: unknown;
  readonly kind: unknown;
  readonly entity: unknown;
  readonly field: unknown;
  readonly job: unknown;
  readonly run_id: unknown;
  readonly correlation_id: unknown;
  readonly causation_id: unknown;
  readonly recorded_at: unknown;
  readonly body: unknown;
}

/**
 * The {@link LineageRow} of a stored row read from backend `backend` (SQL bigint may arrive as
 * text).
 *
 * @throws FlowproofError `STORE_DATA_CORRUPT` naming the first column that cannot be decoded.
 */
export function lineageRow(row: StoredLineageRow, backend: string): LineageRow {
  const corrupt = (field: string) =>
    storeDataCorrupt({ backend, component: 'lineage', id: String(row.id), field });
  const text = (value: unknown, field: string): string => {
    if (typeof value !== 'string') throw corrupt(field);
    return value;
  };
  const optional = (value: unknown, field: string): string | null =>
    value === null ? null : text(value, field);
  const at =
    typeof row.recorded_at === 'string' && /^\d{1,16}$/.test(row.recorded_at)
      ? Number(row.recorded_at)
      : row.recorded_at;
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) throw corrupt('recorded_at');
  if (!KINDS.includes(row.kind as LineageRecordKind)) throw corrupt('kind');
  return {
    id: text(row.id, 'id'),
    kind: row.kind as LineageRecordKind,
    entity: optional(row.entity, 'entity'),
    field: optional(row.field, 'field'),
    job: optional(row.job, 'job'),
    runId: optional(row.run_id, 'run_id'),
    correlationId: optional(row.correlation_id, 'correlation_id'),
    causationId: optional(row.causation_id, 'causation_id'),
    recordedAt: at,
    body: text(row.body, 'body'),
  };
}

/**
 * Orders rows by time, then id (ascending); the order every lineage store pages in.
 */
export function compareLineagePosition(a: LineagePosition, b: LineagePosition): number {
  return a.recordedAt - b.recordedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
