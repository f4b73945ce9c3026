/**
 * The verdict of an outbox proof run, from what the writers saw commit, what reached the streams
 * and what the consumers applied: nothing lost, nothing applied twice, nothing out of order per
 * key, nothing of a rolled-back transaction published or applied.
 */
import type { AppliedRow, CommittedMessage, StreamEntry } from './proof-world.js';

/** What {@link checkRun} takes. */
export interface RunEvidence {
  /** Messages whose transaction committed, as their writers recorded them. */
  readonly committed: readonly CommittedMessage[];
  /** Ids of messages enqueued in transactions that rolled back. */
  readonly rolledBack: readonly string[];
  /** The outbox table's rows (id, status) at the end. */
  readonly outboxRows: readonly { readonly id: string; readonly status: string }[];
  /** The streams' entries, each stream in its order (`undefined`: no broker in this run). */
  readonly stream?: readonly StreamEntry[];
  /** The applied rows in commit order (`undefined`: no consumer in this run). */
  readonly applied?: readonly AppliedRow[];
  /**
   * Whether the apply order per key is checked too (one consumer per partition); with several
   * consumers sharing a partition, or consumers killed mid-message, only the stream order is.
   */
  readonly applyOrder: boolean;
}

/** What {@link checkRun} found: each figure 0 in a sound run, with examples of each problem. */
export interface RunVerdict {
  readonly committed: number;
  readonly applied: number;
  readonly streamEntries: number;
  /** Committed messages never applied. */
  readonly lost: number;
  /** Committed messages not published or not in the outbox as published. */
  readonly unpublished: number;
  /** Messages applied more than once (extra rows). */
  readonly duplicated: number;
  /** Messages appended to a stream more than once (extra entries). */
  readonly streamDuplicates: number;
  /** Entries of one key out of sequence in its stream. */
  readonly streamOutOfOrder: number;
  /** Rows of one key applied out of sequence. */
  readonly applyOutOfOrder: number;
  /** Messages of rolled-back transactions found in the outbox, a stream or the applied rows. */
  readonly rolledBackSeen: number;
  /** Applied or published messages no writer committed. */
  readonly unknown: number;
  /** Up to 10 descriptions of what went wrong. */
  readonly examples: readonly string[];
}

/**
 * Checks a run. Per key the writers' sequence numbers are 1, 2, 3… in commit order (a writer owns
 * its keys and commits one transaction at a time; a rolled-back transaction's numbers are used
 * again), so "in order" means: each key's entries (and applied rows) carry 1, 2, 3… exactly.
 */
export function checkRun(evidence: RunEvidence): RunVerdict {
  const examples: string[] = [];
  const note = (text: string) => {
    if (examples.length < 10) examples.push(text);
  };
  const committedIds = new Map(evidence.committed.map((m) => [m.id, m]));
  const rolledBack = new Set(evidence.rolledBack);

  let rolledBackSeen = 0;
  let unknown = 0;
  let unpublished = 0;
  const outboxStatus = new Map(evidence.outboxRows.map((row) => [row.id, row.status]));
  for (const row of evidence.outboxRows) {
    if (rolledBack.has(row.id)) {
      rolledBackSeen += 1;
      note(`rolled-back message ${row.id} is in the outbox table`);
    } else if (!committedIds.has(row.id)) {
      unknown += 1;
      note(`outbox row ${row.id} was committed by no writer`);
    }
  }
  for (const id of committedIds.keys()) {
    if (outboxStatus.get(id) !== 'published') {
      unpublished += 1;
      note(`committed message ${id} is ${outboxStatus.get(id) ?? 'missing'} in the outbox`);
    }
  }

  /**
   * Walks one record of what happened per message (stream entries, applied rows): counts
   * rolled-back and unknown ones, repeats, and, when `checkOrder`, breaks in each key's 1, 2, 3…
   */
  const walk = (
    records: readonly { id: string; key: string; seq: number; doomed?: boolean }[],
    what: { where: (id: string) => string; twice: string; checkOrder: boolean },
  ) => {
    const seen = new Set<string>();
    const next = new Map<string, number>();
    let repeated = 0;
    let outOfOrder = 0;
    records.forEach((record, index) => {
      if (rolledBack.has(record.id) || record.doomed) {
        rolledBackSeen += 1;
        note(`rolled-back message ${record.id} ${what.where(record.id)}`);
        return;
      }
      if (!committedIds.has(record.id)) {
        unknown += 1;
        note(`message ${record.id} ${what.where(record.id)} was committed by no writer`);
        return;
      }
      if (seen.has(record.id)) {
        repeated += 1;
        note(`message ${record.id} ${what.twice}`);
        return;
      }
      seen.add(record.id);
      if (!what.checkOrder) return;
      const expected = next.get(record.key) ?? 1;
      if (record.seq !== expected) {
        outOfOrder += 1;
        note(`key ${record.key}: seq ${record.seq} at ${index} where ${expected} was due`);
      }
      next.set(record.key, record.seq + 1);
    });
    return { seen, repeated, outOfOrder };
  };

  let streamDuplicates = 0;
  let streamOutOfOrder = 0;
  if (evidence.stream) {
    const streamOf = new Map(evidence.stream.map((entry) => [entry.id, entry.stream]));
    const walked = walk(evidence.stream, {
      where: (id) => `reached ${streamOf.get(id)}`,
      twice: 'appended twice to a stream',
      checkOrder: true,
    });
    streamDuplicates = walked.repeated;
    streamOutOfOrder = walked.outOfOrder;
    for (const id of committedIds.keys()) {
      if (!walked.seen.has(id)) {
        unpublished += 1;
        note(`committed message ${id} is in no stream`);
      }
    }
  }

  const appliedRows = (evidence.applied ?? []).map((row) => ({
    id: row.messageId,
    key: row.key,
    seq: row.seq,
  }));
  const walkedApplied = walk(appliedRows, {
    where: () => 'was applied',
    twice: 'applied twice',
    checkOrder: evidence.applyOrder,
  });
  const applied = walkedApplied.seen;
  const duplicated = walkedApplied.repeated;
  const applyOutOfOrder = walkedApplied.outOfOrder;
  let lost = 0;
  for (const id of evidence.applied === undefined ? [] : committedIds.keys()) {
    if (!applied.has(id)) {
      lost += 1;
      note(`committed message ${id} was never applied`);
    }
  }
  return {
    committed: committedIds.size,
    applied: applied.size,
    streamEntries: evidence.stream?.length ?? 0,
    lost,
    unpublished,
    duplicated,
    streamDuplicates,
    streamOutOfOrder,
    applyOutOfOrder,
    rolledBackSeen,
    unknown,
    examples,
  };
}

/** The verdict's figures that must all be 0. */
export function violations(verdict: RunVerdict): Record<string, number> {
  const {
    lost,
    unpublished,
    duplicated,
    streamDuplicates,
    streamOutOfOrder,
    applyOutOfOrder,
    rolledBackSeen,
    unknown,
  } = verdict;
  return {
    lost,
    unpublished,
    duplicated,
    streamDuplicates,
    streamOutOfOrder,
    applyOutOfOrder,
    rolledBackSeen,
    unknown,
  };
}

/** A zero for every figure of {@link violations}. */
export const NO_VIOLATIONS = Object.freeze({
  lost: 0,
  unpublished: 0,
  duplicated: 0,
  streamDuplicates: 0,
  streamOutOfOrder: 0,
  applyOutOfOrder: 0,
  rolledBackSeen: 0,
  unknown: 0,
});
