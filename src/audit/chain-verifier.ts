/**
 * Verification of one chain: a walk over its records in sequence order, from a trusted start
 * (the chain's beginning, an archive boundary or the last verified checkpoint), that recomputes
 * every hash, follows every link, checks every checkpoint on the way, and names the first bad
 * record and the kind of break.
 *
 * The walk holds two records and one checkpoint at a time, so memory stays bounded whatever the
 * chain's length. One record of look-ahead tells a removed, inserted or moved record from an
 * edited one.
 */
import {
  type AuditCheckpointStatement,
  auditBodyPosition,
  auditBodyPrefix,
  auditCheckpointMessage,
  auditRecordHash,
} from './audit-encoding.js';
import type { AuditCheckpoint, AuditRow } from './audit-store.js';
import type { CheckpointVerifier } from './checkpoint-keys.js';

/**
 * The kinds of break verification tells apart:
 * - `content-changed`: the record's body (or its time) is not what was hashed;
 * - `link-broken`: the record is intact but its stored hash, or its link to the record before, was
 *   changed — or the record before it was rewritten with a new hash;
 * - `missing`: a record is gone (a gap in the sequence numbers, or the ones after it renumbered);
 * - `inserted`: a record that was never appended sits in the chain;
 * - `reordered`: a record sits at another record's place;
 * - `truncated`: the chain ends before its head or a signed checkpoint says it does;
 * - `checkpoint-mismatch`: a signed checkpoint names another hash than the record it covers
 *   (the chain up to it was rewritten consistently, which only a checkpoint reveals);
 * - `checkpoint-invalid`: a checkpoint's signature does not verify, or no verifier knows its key.
 */
export type AuditBreakKind =
  | 'content-changed'
  | 'link-broken'
  | 'missing'
  | 'inserted'
  | 'reordered'
  | 'truncated'
  | 'checkpoint-mismatch'
  | 'checkpoint-invalid';

/** The first bad record of a chain. */
export interface AuditBreak {
  /** What is wrong. */
  readonly kind: AuditBreakKind;
  /** The sequence number of the first bad record (or of the checkpoint). */
  readonly seq: number;
  /** A sentence saying what was found. */
  readonly message: string;
}

/** How one chain verified. */
export interface AuditChainReport {
  /** The chain. */
  readonly chain: string;
  /** Whether everything read verified. */
  readonly ok: boolean;
  /** The walk started after this sequence number (0: the chain's beginning). */
  readonly fromSeq: number;
  /** The last sequence number that verified. */
  readonly throughSeq: number;
  /** Its hash. */
  readonly throughHash: string;
  /** Records checked. */
  readonly records: number;
  /** Checkpoints checked. */
  readonly checkpoints: number;
  /** The last checkpoint that verified on the way, if any. */
  readonly lastCheckpoint?: AuditCheckpoint;
  /** The first break, when not `ok`. */
  readonly break?: AuditBreak;
}

/** Where a walk starts: after record `seq`, whose hash is `hash`. */
export interface AuditWalkStart {
  readonly seq: number;
  readonly hash: string;
}

/** What {@link walkChain} walks. */
export interface AuditWalk {
  readonly chain: string;
  readonly start: AuditWalkStart;
  /**
   * The chain's records after `start.seq`, in sequence order, through one past the head when the
   * head is given (a record found there is classified too: it was appended since the head was
   * read, or planted behind the store's back).
   */
  readonly rows: AsyncIterable<AuditRow>;
  /** Checkpoints after `start.seq`, in sequence order (several may share a sequence number). */
  readonly checkpoints: AsyncIterable<AuditCheckpoint>;
  /** The head as read before the walk: its sequence number and hash, when known. */
  readonly head?: AuditWalkStart | undefined;
  /** Verifiers by key id. */
  readonly verifiers: ReadonlyMap<string, CheckpointVerifier>;
}

/** Whether `checkpoint`'s signature verifies with a known key. */
export function checkpointSignatureValid(
  checkpoint: AuditCheckpoint,
  verifiers: ReadonlyMap<string, CheckpointVerifier>,
): boolean {
  const verifier = verifiers.get(checkpoint.keyId);
  if (verifier === undefined || verifier.algorithm !== checkpoint.algorithm) return false;
  const { signature, ...statement } = checkpoint;
  return verifier.verify(
    Buffer.from(auditCheckpointMessage(statement as AuditCheckpointStatement), 'utf8'),
    Buffer.from(signature, 'base64url'),
  );
}

/** Walks one chain and reports its first break, if any. */
export async function walkChain(walk: AuditWalk): Promise<AuditChainReport> {
  const { chain, start, head, verifiers } = walk;
  const prefix = auditBodyPrefix(chain);
  const rows = walk.rows[Symbol.asyncIterator]();
  const checkpointsIt = walk.checkpoints[Symbol.asyncIterator]();
  let checkpoint = await nextOf(checkpointsIt);
  let prev: AuditWalkStart = start;
  let prevPrevHash: string | undefined;
  let records = 0;
  let checkpoints = 0;
  let lastCheckpoint: AuditCheckpoint | undefined;
  const report = (brk?: AuditBreak): AuditChainReport => ({
    chain,
    ok: brk === undefined,
    fromSeq: start.seq,
    throughSeq: prev.seq,
    throughHash: prev.hash,
    records,
    checkpoints,
    ...(lastCheckpoint === undefined ? {} : { lastCheckpoint }),
    ...(brk === undefined ? {} : { break: brk }),
  });

  // The head names the hash of its record: a record rewritten there with a new hash has no
  // successor whose link would tell. Reported once nothing after it says more (a record found
  // past the head, where a forged one pushed it, is classified first).
  let rewrittenAtHead: AuditBreak | undefined;
  let current = await nextOf(rows);
  while (current !== undefined) {
    const next = await nextOf(rows);
    const found = classify(current, next, prev, prevPrevHash, prefix, head);
    if (found !== undefined) return report(found);
    // Checkpoints up to this record: each must verify, and one at its place must name its hash.
    while (checkpoint !== undefined && checkpoint.seq <= current.seq) {
      if (!checkpointSignatureValid(checkpoint, verifiers)) {
        return report(invalidCheckpoint(checkpoint, verifiers));
      }
      if (checkpoint.seq === current.seq && checkpoint.hash !== current.hash) {
        return report({
          kind: 'checkpoint-mismatch',
          seq: checkpoint.seq,
          message: `the checkpoint signed at record ${checkpoint.seq} names another hash: the chain up to it was rewritten after the previous checkpoint`,
        });
      }
      checkpoints++;
      lastCheckpoint = checkpoint;
      checkpoint = await nextOf(checkpointsIt);
    }
    if (head !== undefined && current.seq === head.seq && current.hash !== head.hash) {
      rewrittenAtHead = at(
        'content-changed',
        current.seq,
        `record ${current.seq} is not the record the chain's head names: it was rewritten with a new hash`,
      );
      if (next === undefined) return report(rewrittenAtHead);
    }
    prevPrevHash = prev.hash;
    prev = { seq: current.seq, hash: current.hash };
    records++;
    current = next;
  }

  // The end: nothing may be missing below the head or a signed checkpoint.
  while (checkpoint !== undefined) {
    if (!checkpointSignatureValid(checkpoint, verifiers)) {
      return report(invalidCheckpoint(checkpoint, verifiers));
    }
    if (checkpoint.seq > prev.seq) {
      return report(truncated(prev.seq, `a signed checkpoint covers record ${checkpoint.seq}`));
    }
    checkpoint = await nextOf(checkpointsIt);
  }
  if (head !== undefined && head.seq > prev.seq) {
    return report(truncated(prev.seq, `the chain's head is at record ${head.seq}`));
  }
  return report(rewrittenAtHead);
}

function classify(
  row: AuditRow,
  next: AuditRow | undefined,
  prev: AuditWalkStart,
  prevPrevHash: string | undefined,
  prefix: string,
  head: AuditWalkStart | undefined,
): AuditBreak | undefined {
  const expected = prev.seq + 1;
  if (row.seq < expected) {
    return at('inserted', row.seq, `a second record numbered ${row.seq} is in the chain`);
  }
  if (row.seq > expected) {
    return at('missing', expected, `record ${expected} is missing (the next record is ${row.seq})`);
  }
  const position = auditBodyPosition(row.body, prefix);
  const computed = auditRecordHash(row.prevHash, row.body);
  if (computed !== row.hash) {
    const inPlace =
      row.prevHash === prev.hash &&
      position?.seq === row.seq &&
      position.recordedAt === row.recordedAt;
    const successorLink = next?.prevHash ?? (head?.seq === row.seq ? head.hash : undefined);
    if (inPlace && successorLink === computed) {
      return at(
        'link-broken',
        row.seq,
        `record ${row.seq} is intact but its stored hash was changed`,
      );
    }
    if (row.prevHash !== prev.hash && auditRecordHash(prev.hash, row.body) === row.hash) {
      return at(
        'link-broken',
        row.seq,
        `record ${row.seq} is intact but its link to record ${prev.seq} was changed`,
      );
    }
    if (next !== undefined && next.prevHash === prev.hash) {
      return at(
        'inserted',
        row.seq,
        `record ${row.seq} was never appended: the next record links past it`,
      );
    }
    return at('content-changed', row.seq, `record ${row.seq} is not what was hashed`);
  }
  if (position === undefined) {
    return at('content-changed', row.seq, `record ${row.seq} is not a record of this chain`);
  }
  if (position.seq !== row.seq) {
    if (position.seq === row.seq - 1 && row.prevHash === prevPrevHash) {
      return at(
        'inserted',
        prev.seq,
        `record ${prev.seq} was never appended: the record after it was record ${position.seq}`,
      );
    }
    const nextPosition = next === undefined ? undefined : auditBodyPosition(next.body, prefix);
    if (position.seq > row.seq && (next === undefined || nextPosition?.seq === position.seq + 1)) {
      return at(
        'missing',
        row.seq,
        `record ${row.seq} is missing: the records after it were renumbered`,
      );
    }
    return at('reordered', row.seq, `record ${position.seq} sits at place ${row.seq}`);
  }
  if (position.recordedAt !== row.recordedAt) {
    return at('content-changed', row.seq, `record ${row.seq}'s time is not what was hashed`);
  }
  if (row.prevHash !== prev.hash) {
    if (prevPrevHash !== undefined && row.prevHash === prevPrevHash) {
      return at(
        'inserted',
        prev.seq,
        `record ${prev.seq} was never appended: record ${row.seq} links past it`,
      );
    }
    return at(
      'link-broken',
      row.seq,
      `record ${row.seq} does not link to record ${prev.seq}: one of them was rewritten`,
    );
  }
  return undefined;
}

function at(kind: AuditBreakKind, seq: number, message: string): AuditBreak {
  return { kind, seq, message };
}

function truncated(lastSeq: number, reason: string): AuditBreak {
  return {
    kind: 'truncated',
    seq: lastSeq + 1,
    message: `the chain ends at record ${lastSeq} but ${reason}`,
  };
}

function invalidCheckpoint(
  checkpoint: AuditCheckpoint,
  verifiers: ReadonlyMap<string, CheckpointVerifier>,
): AuditBreak {
  const key = JSON.stringify(checkpoint.keyId);
  return {
    kind: 'checkpoint-invalid',
    seq: checkpoint.seq,
    message: verifiers.has(checkpoint.keyId)
      ? `the checkpoint at record ${checkpoint.seq} does not verify with key ${key}`
      : `the checkpoint at record ${checkpoint.seq} is signed with key ${key}, which no verifier of this log knows (pass its verifier in createAuditLog's verifiers)`,
  };
}

async function nextOf<T>(iterator: AsyncIterator<T>): Promise<T | undefined> {
  const result = await iterator.next();
  return result.done ? undefined : result.value;
}
