/**
 * Checks the audit stores share on what they are asked to write and read, so memory, SQLite and
 * PostgreSQL answer bad input alike, before anything is written.
 *
 * @internal
 */
import type {
  AuditAppend,
  AuditArchiveRequest,
  AuditChainRead,
  AuditCheckpoint,
  AuditCheckpointRead,
  AuditStoreQuery,
} from '../audit/audit-store.js';
import { unstorableText } from '../core/options.js';

/** @throws TypeError naming the first bad field of `entries`. */
export function checkAppends(entries: readonly AuditAppend[]): readonly AuditAppend[] {
  if (!Array.isArray(entries)) throw new TypeError('entries must be an array');
  entries.forEach((entry, i) => {
    const name = `entries[${i}]`;
    if (typeof entry !== 'object' || entry === null) {
      throw new TypeError(`${name} must be an object`);
    }
    checkChain(entry.chain, `${name}.chain`);
    storable(entry.content, `${name}.content`, true);
    storable(entry.action, `${name}.action`);
    storable(entry.resourceType, `${name}.resourceType`);
    storable(entry.resourceId, `${name}.resourceId`);
    if (entry.actorId !== null) storable(entry.actorId, `${name}.actorId`);
    if (entry.correlationId !== null) storable(entry.correlationId, `${name}.correlationId`);
  });
  return entries;
}

/** @throws TypeError unless `chain` is a non-empty string every store can keep. */
export function checkChain(chain: unknown, name = 'chain'): asserts chain is string {
  storable(chain, name);
}

/** @throws TypeError naming the bad field of `read`. */
export function checkChainRead(read: AuditChainRead): void {
  checkChain(read?.chain, 'read.chain');
  count(read.afterSeq, 'read.afterSeq');
  if (read.throughSeq !== undefined) count(read.throughSeq, 'read.throughSeq');
  count(read.limit, 'read.limit');
}

/** @throws TypeError naming the bad field of `read`. */
export function checkCheckpointRead(read: AuditCheckpointRead): void {
  checkChain(read?.chain, 'read.chain');
  count(read.afterSeq, 'read.afterSeq');
  count(read.limit, 'read.limit');
}

/** @throws TypeError naming the bad field of `query`. */
export function checkStoreQuery(query: AuditStoreQuery): void {
  if (typeof query !== 'object' || query === null) throw new TypeError('query must be an object');
  for (const key of [
    'chain',
    'action',
    'actorId',
    'resourceType',
    'resourceId',
    'correlationId',
  ] as const) {
    if (query[key] !== undefined) storable(query[key], `query.${key}`);
  }
  if (query.from !== undefined) count(query.from, 'query.from');
  if (query.to !== undefined) count(query.to, 'query.to');
  if (query.after !== undefined) {
    count(query.after.recordedAt, 'query.after.recordedAt');
    checkChain(query.after.chain, 'query.after.chain');
    count(query.after.seq, 'query.after.seq');
  }
  count(query.limit, 'query.limit');
}

/** @throws TypeError naming the bad field of `checkpoint`. */
export function checkCheckpoint(checkpoint: AuditCheckpoint): void {
  if (typeof checkpoint !== 'object' || checkpoint === null) {
    throw new TypeError('checkpoint must be an object');
  }
  checkChain(checkpoint.chain, 'checkpoint.chain');
  count(checkpoint.seq, 'checkpoint.seq');
  hex(checkpoint.hash, 'checkpoint.hash');
  count(checkpoint.signedAt, 'checkpoint.signedAt');
  storable(checkpoint.keyId, 'checkpoint.keyId');
  if (checkpoint.algorithm !== 'ed25519' && checkpoint.algorithm !== 'hmac-sha256') {
    throw new TypeError("checkpoint.algorithm must be 'ed25519' or 'hmac-sha256'");
  }
  storable(checkpoint.signature, 'checkpoint.signature');
}

/** @throws TypeError naming the bad field of a verified mark. */
export function checkVerifiedMark(chain: string, seq: number, hash: string): void {
  checkChain(chain);
  count(seq, 'seq');
  hex(hash, 'hash');
}

/** @throws TypeError naming the bad field of `request`. */
export function checkArchive(request: AuditArchiveRequest): void {
  checkChain(request?.chain, 'request.chain');
  count(request.throughSeq, 'request.throughSeq');
  count(request.limit, 'request.limit');
}

function storable(value: unknown, name: string, allowEmpty = false): asserts value is string {
  if (typeof value !== 'string' || (!allowEmpty && value === '')) {
    throw new TypeError(`${name} must be a non-empty string`);
  }
  const problem = unstorableText(value);
  if (problem !== undefined) throw new TypeError(`${name} ${problem}`);
}

function count(value: unknown, name: string): void {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new TypeError(`${name} must be a non-negative integer`);
  }
}

function hex(value: unknown, name: string): void {
  if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) {
    throw new TypeError(`${name} must be 64 lowercase hex digits`);
  }
}
