/**
 * The NDJSON export of a range of one chain, and its offline verification.
 *
 * An export is one JSON object per line:
 * 1. a header: `{"type":"flowproof.audit.export","version":1,"chain":…,"afterSeq":…,
 *    "afterHash":…,"throughSeq":…}` — the range is the records after `afterSeq` (whose hash is
 *    `afterHash`; 0 and 64 zeros for the chain's beginning) through `throughSeq`;
 * 2. the checkpoint at `afterSeq`, when the range does not start at the beginning (it vouches
 *    for `afterHash`);
 * 3. each record, `{"type":"record","seq":…,"recordedAt":…,"prevHash":…,"hash":…,"body":…}`,
 *    followed by the checkpoints that cover it, `{"type":"checkpoint",…}`.
 *
 * To verify one by hand: for each record, SHA-256 of `prevHash + "\n" + body` (UTF-8) is `hash`
 * in lowercase hex; `prevHash` is the previous record's `hash` (the header's `afterHash` for the
 * first); `seq` counts up by one from `afterSeq + 1` to `throughSeq`, and the body's own `seq`
 * and `at` members equal the line's `seq` and `recordedAt`; each checkpoint's signature verifies
 * over `["flowproof.audit.checkpoint/1",chain,seq,hash,signedAt,keyId,algorithm]` (JSON, UTF-8)
 * with the key it names, and its `hash` is the hash of record `seq`.
 */
import { FlowproofError } from '../core/errors.js';
import { AUDIT_GENESIS_HASH, type AuditCheckpoint, type AuditRow } from './audit-store.js';
import {
  type AuditChainReport,
  type AuditWalkStart,
  checkpointSignatureValid,
  walkChain,
} from './chain-verifier.js';
import type { CheckpointVerifier } from './checkpoint-keys.js';

/** The first line of an export. */
export interface AuditExportHeader {
  /** Says what the file is. */
  readonly type: 'flowproof.audit.export';
  /** The format's version. */
  readonly version: 1;
  /** The chain exported. */
  readonly chain: string;
  /** The range starts after this record (0: at the chain's beginning). */
  readonly afterSeq: number;
  /** That record's hash (64 zeros at the beginning), vouched for by the checkpoint that follows. */
  readonly afterHash: string;
  /** The range's last record. */
  readonly throughSeq: number;
}

/** The lines of an export of `rows` (in order) with the checkpoints that cover them. */
export async function* exportLines(
  header: AuditExportHeader,
  anchor: AuditCheckpoint | undefined,
  rows: AsyncIterable<AuditRow>,
  checkpoints: AsyncIterable<AuditCheckpoint>,
): AsyncGenerator<string> {
  yield `${JSON.stringify(header)}\n`;
  if (anchor !== undefined) yield checkpointLine(anchor);
  const cps = checkpoints[Symbol.asyncIterator]();
  let checkpoint = await cps.next();
  for await (const row of rows) {
    yield `${JSON.stringify({
      type: 'record',
      seq: row.seq,
      recordedAt: row.recordedAt,
      prevHash: row.prevHash,
      hash: row.hash,
      body: row.body,
    })}\n`;
    while (!checkpoint.done && checkpoint.value.seq <= row.seq) {
      yield checkpointLine(checkpoint.value);
      checkpoint = await cps.next();
    }
  }
}

function checkpointLine(checkpoint: AuditCheckpoint): string {
  return `${JSON.stringify({ type: 'checkpoint', ...checkpoint })}\n`;
}

/** Options of {@link verifyAuditExport}. */
export interface VerifyAuditExportOptions {
  /** The keys checkpoints may be signed with (public keys for Ed25519). */
  readonly verifiers: readonly CheckpointVerifier[];
}

/**
 * Verifies an export written by `exportRange()` or an archival, without any store: every line of
 * it, as the module's notes describe. Lines may end with or without a line feed; blank lines are
 * skipped.
 *
 * @returns the chain's report: `ok`, or the first break and its kind.
 * @throws FlowproofError `AUDIT_EXPORT_MALFORMED` when a line is not what an export holds.
 */
export async function verifyAuditExport(
  lines: Iterable<string> | AsyncIterable<string>,
  options: VerifyAuditExportOptions,
): Promise<AuditChainReport> {
  const verifiers = verifierMap(options?.verifiers, 'options.verifiers');
  const parsed = numbered(lines)[Symbol.asyncIterator]();
  const first = await parsed.next();
  if (first.done) malformed(1, 'the export is empty');
  const header = parseHeader(first.value.value, first.value.line);
  let start: AuditWalkStart = { seq: header.afterSeq, hash: header.afterHash };
  if (header.afterSeq > 0) {
    const anchorLine = await parsed.next();
    const anchor = anchorLine.done
      ? undefined
      : parseCheckpoint(anchorLine.value.value, anchorLine.value.line);
    if (
      anchor === undefined ||
      anchor.chain !== header.chain ||
      anchor.seq !== header.afterSeq ||
      anchor.hash !== header.afterHash ||
      !checkpointSignatureValid(anchor, verifiers)
    ) {
      return {
        chain: header.chain,
        ok: false,
        fromSeq: header.afterSeq,
        throughSeq: header.afterSeq,
        throughHash: header.afterHash,
        records: 0,
        checkpoints: 0,
        break: {
          kind: 'checkpoint-invalid',
          seq: header.afterSeq,
          message: `no valid checkpoint vouches for record ${header.afterSeq}, where the export starts`,
        },
      };
    }
  } else {
    start = { seq: 0, hash: AUDIT_GENESIS_HASH };
  }
  // Records and checkpoints interleave in the file; the walk reads them as two ordered streams.
  const records: AuditRow[] = [];
  const checkpoints: AuditCheckpoint[] = [];
  const fill = async (): Promise<boolean> => {
    const item = (await parsed.next()).value;
    if (item === undefined) return false;
    if (item.value.type === 'record')
      records.push(parseRecord(item.value, header.chain, item.line));
    else if (item.value.type === 'checkpoint') {
      const checkpoint = parseCheckpoint(item.value, item.line);
      if (checkpoint.chain !== header.chain) malformed(item.line, 'a checkpoint of another chain');
      checkpoints.push(checkpoint);
    } else malformed(item.line, `unexpected type ${JSON.stringify(item.value.type)}`);
    return true;
  };
  let exhausted = false;
  const pull = async <T>(queue: T[]): Promise<T | undefined> => {
    while (queue.length === 0 && !exhausted) exhausted = !(await fill());
    return queue.shift();
  };
  const stream = <T>(queue: T[]): AsyncIterable<T> => ({
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        const value = await pull(queue);
        return value === undefined ? { done: true, value: undefined } : { done: false, value };
      },
    }),
  });
  return walkChain({
    chain: header.chain,
    start,
    rows: stream(records),
    checkpoints: stream(checkpoints),
    head: undefined,
    verifiers,
  }).then(async (report) => {
    // Records the header promises but the file lacks: cut short.
    if (report.ok && report.throughSeq < header.throughSeq) {
      return {
        ...report,
        ok: false,
        break: {
          kind: 'truncated',
          seq: report.throughSeq + 1,
          message: `the export ends at record ${report.throughSeq} but its header says ${header.throughSeq}`,
        },
      };
    }
    return report;
  });
}

/** Verifiers by key id. @throws TypeError naming `name` when not an array of verifiers. */
export function verifierMap(
  verifiers: readonly CheckpointVerifier[] | undefined,
  name: string,
): Map<string, CheckpointVerifier> {
  if (verifiers === undefined) return new Map();
  if (
    !Array.isArray(verifiers) ||
    verifiers.some(
      (v) => typeof v?.keyId !== 'string' || typeof v.verify !== 'function' || !v.algorithm,
    )
  ) {
    throw new TypeError(
      `${name} must be an array of checkpoint verifiers (createEd25519Verifier…)`,
    );
  }
  return new Map(verifiers.map((v) => [v.keyId, v]));
}

async function* numbered(
  lines: Iterable<string> | AsyncIterable<string>,
): AsyncGenerator<{ value: Record<string, unknown>; line: number }> {
  let n = 0;
  for await (const chunk of lines as AsyncIterable<string>) {
    for (const text of String(chunk).split('\n')) {
      n++;
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        malformed(n, 'not JSON');
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        malformed(n, 'not a JSON object');
      }
      yield { value: value as Record<string, unknown>, line: n };
    }
  }
}

function parseHeader(value: Record<string, unknown>, line: number): AuditExportHeader {
  if (value.type !== 'flowproof.audit.export' || value.version !== 1) {
    malformed(line, 'the first line is not an export header of version 1');
  }
  return {
    type: 'flowproof.audit.export',
    version: 1,
    chain: str(value.chain, 'chain', line),
    afterSeq: int(value.afterSeq, 'afterSeq', line),
    afterHash: hex(value.afterHash, 'afterHash', line),
    throughSeq: int(value.throughSeq, 'throughSeq', line),
  };
}

function parseRecord(value: Record<string, unknown>, chain: string, line: number): AuditRow {
  return {
    chain,
    seq: int(value.seq, 'seq', line),
    recordedAt: int(value.recordedAt, 'recordedAt', line),
    body: str(value.body, 'body', line),
    prevHash: str(value.prevHash, 'prevHash', line),
    hash: str(value.hash, 'hash', line),
  };
}

/**
 * A checkpoint from its JSON form (an export line or a witness file line).
 *
 * @throws FlowproofError `AUDIT_EXPORT_MALFORMED` naming `line` when a field is missing.
 */
export function parseCheckpoint(value: unknown, line: number): AuditCheckpoint {
  if (typeof value !== 'object' || value === null) malformed(line, 'not a checkpoint');
  const v = value as Record<string, unknown>;
  const algorithm = v.algorithm;
  if (algorithm !== 'ed25519' && algorithm !== 'hmac-sha256') {
    malformed(line, 'a checkpoint needs algorithm ed25519 or hmac-sha256');
  }
  return {
    chain: str(v.chain, 'chain', line),
    seq: int(v.seq, 'seq', line),
    hash: hex(v.hash, 'hash', line),
    signedAt: int(v.signedAt, 'signedAt', line),
    keyId: str(v.keyId, 'keyId', line),
    algorithm,
    signature: str(v.signature, 'signature', line),
  };
}

function str(value: unknown, name: string, line: number): string {
  if (typeof value !== 'string') malformed(line, `${name} must be a string`);
  return value;
}

function int(value: unknown, name: string, line: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    malformed(line, `${name} must be a non-negative integer`);
  }
  return value as number;
}

function hex(value: unknown, name: string, line: number): string {
  if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) {
    malformed(line, `${name} must be 64 lowercase hex digits`);
  }
  return value;
}

function malformed(line: number, reason: string): never {
  throw new FlowproofError('AUDIT_EXPORT_MALFORMED', `audit export line ${line}: ${reason}`, {
    details: { line, reason },
  });
}
