/**
 * Checks shared by every audit store on what it is asked to do, so memory, SQLite and PostgreSQL
 * answer a bad value the same way, before anything is written; and the decoding of stored rows
 * they share.
 *
 * @internal
 */

import { archiveRefused } from '../audit/audit-errors.js';
import type {
  AuditAppend,
  AuditArchiveRequest,
  AuditChainRead,
  AuditCheckpoint,
  AuditCheckpointRead,
  AuditSignatureAlgorithm,
  AuditStoreQuery,
} from '../audit/audit-store.js';
import { describeValue, type FlowproofError } from '../core/errors.js';
import { assertInteger, assertKnownKeys, assertOptionsObject } from '../core/options.js';
import { assertStorableText } from './storable-text.js';
import { storeDataCorrupt } from './store-data-corrupt.js';

const APPEND_KEYS = [
  'chain',
  'content',
  'action',
  'actorId',
  'resourceType',
  'resourceId',
  'correlationId',
];
const QUERY_KEYS = [
  'chain',
  'action',
  'actorId',
  'resourceType',
  'resourceId',
  'correlationId',
  'from',
  'to',
  'after',
  'limit',
];
const ALGORITHMS: readonly AuditSignatureAlgorithm[] = ['ed25519', 'hmac-sha256'];
const HASH = /^[0-9a-f]{64}$/;

/** Throws unless `value` is a chain name: a non-empty string without NUL or lone surrogates. */
export function checkChain(value: unknown, name = 'chain'): asserts value is string {
  assertStorableText(value, name);
}

/** Throws unless `value` is a lowercase hex SHA-256 hash. */
function assertHash(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || !HASH.test(value)) {
    throw new TypeError(`${name} must be a SHA-256 hash (64 lowercase hex digits)`);
  }
}

/**
 * Checks records to append: each a known set of fields, `content` canonical member text of a
 * JSON object (checked to parse), the index fields strings (or `null` where allowed).
 *
 * @throws TypeError naming the first bad field.
 */
export function checkAppends(entries: readonly AuditAppend[]): void {
  if (!Array.isArray(entries)) throw new TypeError('entries must be an array of audit records');
  entries.forEach((entry: AuditAppend, i) => {
    const name = `entries[${i}]`;
    assertOptionsObject(entry, name);
    assertKnownKeys(entry, APPEND_KEYS, name);
    checkChain(entry.chain, `${name}.chain`);
    assertStorableText(entry.content, `${name}.content`);
    assertStorableText(entry.action, `${name}.action`);
    if (entry.actorId !== null) assertStorableText(entry.actorId, `${name}.actorId`);
    assertStorableText(entry.resourceType, `${name}.resourceType`);
    assertStorableText(entry.resourceId, `${name}.resourceId`);
    if (entry.correlationId !== null)
      assertStorableText(entry.correlationId, `${name}.correlationId`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(`{${entry.content}}`);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null) {
      throw new TypeError(`${name}.content must be the members of a JSON object, without braces`);
    }
  });
}

/** @throws TypeError naming the first bad field of a chain read. */
export function checkChainRead(read: AuditChainRead): void {
  assertOptionsObject(read, 'read');
  assertKnownKeys(read, ['chain', 'afterSeq', 'throughSeq', 'limit'], 'read');
  checkChain(read.chain, 'read.chain');
  assertInteger(read.afterSeq, 'read.afterSeq', 0);
  if (read.throughSeq !== undefined) assertInteger(read.throughSeq, 'read.throughSeq', 0);
  assertInteger(read.limit, 'read.limit', 0);
}

/** @throws TypeError naming the first bad field of a query. */
export function checkStoreQuery(query: AuditStoreQuery): void {
  assertOptionsObject(query, 'query');
  assertKnownKeys(query, QUERY_KEYS, 'query');
  for (const key of ['chain', 'action', 'actorId', 'resourceType', 'correlationId'] as const) {
    if (query[key] !== undefined) assertStorableText(query[key], `query.${key}`);
  }
  if (query.resourceId !== undefined) {
    if (query.resourceType === undefined) {
      throw new TypeError('query.resourceId needs query.resourceType');
    }
    assertStorableText(query.resourceId, 'query.resourceId');
  }
  if (query.from !== undefined) assertInteger(query.from, 'query.from', 0);
  if (query.to !== undefined) assertInteger(query.to, 'query.to', 0);
  if (query.after !== undefined) {
    const after = query.after;
    assertOptionsObject(after, 'query.after');
    assertKnownKeys(after, ['recordedAt', 'chain', 'seq'], 'query.after');
    assertInteger(after.recordedAt, 'query.after.recordedAt', 0);
    checkChain(after.chain, 'query.after.chain');
    assertInteger(after.seq, 'query.after.seq', 1);
  }
  assertInteger(query.limit, 'query.limit', 0);
}

/** @throws TypeError naming the first bad field of a checkpoint. */
export function checkCheckpoint(checkpoint: AuditCheckpoint): void {
  assertOptionsObject(checkpoint, 'checkpoint');
  assertKnownKeys(
    checkpoint,
    ['chain', 'seq', 'hash', 'signedAt', 'keyId', 'algorithm', 'signature'],
    'checkpoint',
  );
  checkChain(checkpoint.chain, 'checkpoint.chain');
  assertInteger(checkpoint.seq, 'checkpoint.seq', 1);
  assertHash(checkpoint.hash, 'checkpoint.hash');
  assertInteger(checkpoint.signedAt, 'checkpoint.signedAt', 0);
  assertStorableText(checkpoint.keyId, 'checkpoint.keyId');
  if (!ALGORITHMS.includes(checkpoint.algorithm)) {
    throw new TypeError(
      `checkpoint.algorithm must be one of ${ALGORITHMS.join(', ')}, got ${describeValue(checkpoint.algorithm)}`,
    );
  }
  assertStorableText(checkpoint.signature, 'checkpoint.signature');
}

/** @throws TypeError naming the first bad field of a checkpoint read. */
export function checkCheckpointRead(read: AuditCheckpointRead): void {
  assertOptionsObject(read, 'read');
  assertKnownKeys(read, ['chain', 'afterSeq', 'limit'], 'read');
  checkChain(read.chain, 'read.chain');
  assertInteger(read.afterSeq, 'read.afterSeq', 0);
  assertInteger(read.limit, 'read.limit', 0);
}

/** @throws TypeError naming the first bad argument of `markVerified`. */
export function checkVerifiedMark(chain: string, seq: number, hash: string): void {
  checkChain(chain);
  assertInteger(seq, 'seq', 0);
  assertHash(hash, 'hash');
}

/** @throws TypeError naming the first bad field of an archive request. */
export function checkArchive(request: AuditArchiveRequest): void {
  assertOptionsObject(request, 'request');
  assertKnownKeys(request, ['chain', 'throughSeq', 'limit'], 'request');
  checkChain(request.chain, 'request.chain');
  assertInteger(request.throughSeq, 'request.throughSeq', 0);
  assertInteger(request.limit, 'request.limit', 0);
}

/**
 * `AUDIT_ARCHIVE_REFUSED` when `request` may not archive a chain whose last record is `head`,
 * archived through `boundary` already, and whose checkpoints cover `throughSeq` or not
 * (`covered`); `undefined` when it may.
 */
export function archiveRefusal(
  request: AuditArchiveRequest,
  head: number,
  boundary: number,
  covered: boolean,
): FlowproofError | undefined {
  const { chain, throughSeq } = request;
  if (throughSeq > head) {
    return archiveRefused(chain, throughSeq, `the chain's last record is ${head}`);
  }
  if (throughSeq < boundary) {
    return archiveRefused(chain, throughSeq, `records through ${boundary} are archived already`);
  }
  if (!covered) return archiveRefused(chain, throughSeq, 'no checkpoint covers that record');
  return undefined;
}

/** A number read back from a store (SQL bigint may arrive as text), or `undefined`. */
function storedInteger(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Where a stored audit value was read, for `STORE_DATA_CORRUPT`. */
export interface AuditStoredLocation {
  readonly backend: string;
  readonly chain: unknown;
  readonly seq: unknown;
}

/**
 * An integer column of a stored audit row or checkpoint.
 *
 * @throws FlowproofError `STORE_DATA_CORRUPT` when it is not a non-negative safe integer.
 */
export function storedAuditInteger(
  value: unknown,
  where: AuditStoredLocation,
  field: string,
): number {
  const n = storedInteger(value);
  if (n === undefined) throw corrupt(where, field);
  return n;
}

/**
 * A text column of a stored audit row or checkpoint. Its content is not judged here: a changed
 * body or hash is for verification to find and name.
 *
 * @throws FlowproofError `STORE_DATA_CORRUPT` when it is not text.
 */
export function storedAuditText(value: unknown, where: AuditStoredLocation, field: string): string {
  if (typeof value !== 'string') throw corrupt(where, field);
  return value;
}

/**
 * A checkpoint's algorithm read back.
 *
 * @throws FlowproofError `STORE_DATA_CORRUPT` when it is not one flowproof signs with.
 */
export function storedAuditAlgorithm(
  value: unknown,
  where: AuditStoredLocation,
): AuditSignatureAlgorithm {
  if (!ALGORITHMS.includes(value as AuditSignatureAlgorithm)) throw corrupt(where, 'algorithm');
  return value as AuditSignatureAlgorithm;
}

function corrupt(where: AuditStoredLocation, field: string): FlowproofError {
  return storeDataCorrupt({
    backend: where.backend,
    component: 'audit',
    id: `${String(where.chain)}/${String(where.seq)}`,
    field,
  });
}
