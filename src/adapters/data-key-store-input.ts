/**
 * Checks shared by every data-key store on what it is asked to do, so memory, SQLite and
 * PostgreSQL answer a bad value the same way before anything is written, and the decoding of
 * stored rows they share.
 *
 * @internal
 */
import { describeValue } from '../core/errors.js';
import { assertInteger, readObject } from '../core/options.js';
import {
  DATA_KEY_STORE_COMPONENT,
  type DataKeyCreate,
  type DataKeyListRead,
  type DataKeyPurpose,
  type DataKeyRewrap,
  type DataKeyRow,
} from '../privacy/data-key-store.js';
import { assertStorableText } from './storable-text.js';
import { storeDataCorrupt } from './store-data-corrupt.js';

/** The greatest key id: ciphertexts carry it in 4 bytes. */
export const MAX_DATA_KEY_ID = 2 ** 32 - 1;

/** The most bytes a wrapped key may hold: a KMS's wrapping of 32 bytes is far smaller. */
export const MAX_WRAPPED_BYTES = 4096;

const PURPOSES: readonly DataKeyPurpose[] = ['field', 'subject', 'index'];
const NAMED_PURPOSES: readonly DataKeyPurpose[] = ['subject', 'index'];

function assertPurpose(
  value: unknown,
  name: string,
  allowed: readonly DataKeyPurpose[] = PURPOSES,
): asserts value is DataKeyPurpose {
  if (!allowed.includes(value as DataKeyPurpose)) {
    throw new TypeError(
      `${name} must be one of ${allowed.join(', ')}, got ${describeValue(value)}`,
    );
  }
}

/** Throws unless `value` is a non-empty `Uint8Array` of at most {@link MAX_WRAPPED_BYTES}. */
function assertWrapped(value: unknown, name: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array) || value.length === 0 || value.length > MAX_WRAPPED_BYTES) {
    throw new TypeError(
      `${name} must be a Uint8Array of 1 to ${MAX_WRAPPED_BYTES} bytes, got ${
        value instanceof Uint8Array ? `${value.length} bytes` : describeValue(value)
      }`,
    );
  }
}

/** @throws TypeError unless `id` is a key id: an integer from 1 to 2³²−1. */
export function checkDataKeyId(id: unknown, name = 'id'): asserts id is number {
  assertInteger(id, name, 1, MAX_DATA_KEY_ID);
}

/**
 * Checks a key to create: a known purpose; a name (non-empty storable text) for `subject` and
 * `index` keys, `null` for `field` keys; a key-encryption key id; the wrapped bytes.
 *
 * @returns the key's fields, each read once.
 * @throws TypeError naming the first bad field.
 */
export function checkDataKeyCreate(value: DataKeyCreate): DataKeyCreate {
  const key = readObject(value, 'key', 'purpose name kekId wrapped');
  assertPurpose(key.purpose, 'key.purpose');
  if (key.purpose === 'field') {
    if (key.name !== null) {
      throw new TypeError(`key.name must be null for a field key, got ${describeValue(key.name)}`);
    }
  } else {
    assertStorableText(key.name, 'key.name');
  }
  assertStorableText(key.kekId, 'key.kekId');
  assertWrapped(key.wrapped, 'key.wrapped');
  return key as unknown as DataKeyCreate;
}

/** @throws TypeError naming the bad argument of `byName`. */
export function checkByName(purpose: unknown, name: unknown): void {
  assertPurpose(purpose, 'purpose', NAMED_PURPOSES);
  assertStorableText(name, 'name');
}

/**
 * @returns the read's fields, each read once.
 * @throws TypeError naming the first bad field of a page read.
 */
export function checkDataKeyListRead(value: DataKeyListRead): DataKeyListRead {
  const read = readObject(value, 'read', 'purpose afterId limit');
  assertPurpose(read.purpose, 'read.purpose');
  if (read.afterId !== undefined) assertInteger(read.afterId, 'read.afterId', 0, MAX_DATA_KEY_ID);
  assertInteger(read.limit, 'read.limit', 1);
  return read as unknown as DataKeyListRead;
}

/**
 * @returns the change's fields, each read once.
 * @throws TypeError naming the first bad field of a rewrap.
 */
export function checkDataKeyRewrap(value: DataKeyRewrap): DataKeyRewrap {
  const change = readObject(value, 'change', 'id expectKekId kekId wrapped');
  checkDataKeyId(change.id, 'change.id');
  assertStorableText(change.expectKekId, 'change.expectKekId');
  assertStorableText(change.kekId, 'change.kekId');
  assertWrapped(change.wrapped, 'change.wrapped');
  return change as unknown as DataKeyRewrap;
}

/** @throws TypeError unless `subject` is non-empty storable text. */
export function checkSubject(subject: unknown): asserts subject is string {
  assertStorableText(subject, 'subject');
}

/** @throws TypeError unless `job` (a resumable job's name) is non-empty storable text. */
export function checkJob(job: unknown): asserts job is string {
  assertStorableText(job, 'job');
}

/** @throws TypeError naming the bad argument of `saveCursor`. */
export function checkSaveCursor(job: unknown, cursor: unknown): void {
  checkJob(job);
  if (cursor !== null) assertStorableText(cursor, 'cursor', true);
}

/** A stored row as a store reads it back: columns of any type, checked by {@link dataKeyRow}. */
export interface StoredDataKeyRow {
  readonly id: unknown;
  readonly purpose: unknown;
  readonly name: unknown;
  readonly kek_id: unknown;
  readonly wrapped: unknown;
  readonly created_at: unknown;
  readonly retired_at: unknown;
  readonly shredded_at: unknown;
}

/**
 * A stored integer (SQL bigint may arrive as text or a bigint) as a number, or `undefined` when
 * it is none within `[min, max]`.
 */
export function storedInteger(
  value: unknown,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const number =
    typeof value === 'string' && /^\d{1,16}$/.test(value)
      ? Number(value)
      : typeof value === 'bigint'
        ? Number(value)
        : value;
  return typeof number === 'number' &&
    Number.isSafeInteger(number) &&
    number >= min &&
    number <= max
    ? number
    : undefined;
}

/**
 * The {@link DataKeyRow} of a stored row read from backend `backend`. A live key holds its
 * key-encryption key id and wrapped bytes; a shredded one holds neither.
 *
 * @throws FlowproofError `STORE_DATA_CORRUPT` naming the first column that cannot be decoded.
 */
export function dataKeyRow(row: StoredDataKeyRow, backend: string): DataKeyRow {
  const corrupt = (field: string) =>
    storeDataCorrupt({ backend, component: DATA_KEY_STORE_COMPONENT, id: String(row.id), field });
  const time = (value: unknown, field: string): number => {
    const at = storedInteger(value);
    if (at === undefined) throw corrupt(field);
    return at;
  };
  const id = storedInteger(row.id, 1, MAX_DATA_KEY_ID);
  if (id === undefined) throw corrupt('id');
  if (!PURPOSES.includes(row.purpose as DataKeyPurpose)) throw corrupt('purpose');
  const purpose = row.purpose as DataKeyPurpose;
  const named = purpose !== 'field';
  if (named ? typeof row.name !== 'string' : row.name !== null) throw corrupt('name');
  const shreddedAt = row.shredded_at === null ? null : time(row.shredded_at, 'shredded_at');
  const live = shreddedAt === null;
  if (live ? typeof row.kek_id !== 'string' : row.kek_id !== null) throw corrupt('kek_id');
  if (live ? !(row.wrapped instanceof Uint8Array) : row.wrapped !== null) throw corrupt('wrapped');
  return {
    id,
    purpose,
    name: row.name as string | null,
    kekId: row.kek_id as string | null,
    wrapped: row.wrapped as Uint8Array | null,
    createdAt: time(row.created_at, 'created_at'),
    retiredAt: row.retired_at === null ? null : time(row.retired_at, 'retired_at'),
    shreddedAt,
  };
}
