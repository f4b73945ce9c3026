/**
 * Tamper proof: a chain of 10,000 records, then, run after run, ONE random change made directly in
 * the database past the store's append-only protection — an edited body (one character of one of
 * its strings), time column, hash or link; a deleted record (first or in the middle); a forged
 * record inserted after renumbering the rest (with a garbage hash, or a well-formed one linking to
 * the record before and stating its place); two records swapped; the last records cut off; a
 * record deleted and the rest renumbered down; a record rewritten with its hash recomputed — at a
 * random place (and at the edges in every run: first and last records). `verify({ from: 'start' })`
 * must name exactly the kind and the sequence number of each; the change is undone after the run.
 *
 * On memory, SQLite, PGlite and PostgreSQL. `AUDIT_PROOF_SCALE` multiplies the runs
 * (`npm run proof:audit`); `AUDIT_PROOF_SEED` replays a run.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIT_GENESIS_HASH,
  type AuditLog,
  type AuditRow,
  auditRecordBody,
  auditRecordHash,
  createAuditLog,
} from '../../src/audit/index.js';
import { postgresUrl } from '../support/services.js';
import {
  openMemoryProofStore,
  openPgliteProofStore,
  openPostgresProofStore,
  openSqliteProofStore,
  type ProofStore,
  proofEntry,
  proofSchema,
  type RawChange,
} from './support/audit-proof-world.js';

const SCALE = Number(process.env.AUDIT_PROOF_SCALE ?? 1);
const SEED =
  process.env.AUDIT_PROOF_SEED === undefined ? {} : { seed: Number(process.env.AUDIT_PROOF_SEED) };
const LENGTH = 10_000;
const CHAIN = 'global';
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** One change an attacker could make, at a place. */
type Tamper =
  | {
      readonly kind: 'edit-body';
      readonly seq: number;
      readonly pick: number;
      readonly char: number;
    }
  | { readonly kind: 'edit-time'; readonly seq: number; readonly delta: number }
  | { readonly kind: 'edit-hash' | 'edit-prev-hash'; readonly seq: number; readonly hash: string }
  | { readonly kind: 'delete'; readonly seq: number }
  | { readonly kind: 'insert'; readonly seq: number; readonly wellFormed: boolean }
  | { readonly kind: 'swap'; readonly seq: number; readonly other: number }
  | { readonly kind: 'truncate'; readonly count: number }
  | { readonly kind: 'renumber-delete'; readonly seq: number }
  | { readonly kind: 'rewrite'; readonly seq: number };

const seqIn = (min: number, max: number) => fc.integer({ min, max });
const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);

/** Every kind of change, each at any place it applies to (fast-check also tries the edges). */
const tampers = (n: number): fc.Arbitrary<Tamper> =>
  fc.oneof(
    fc.record({
      kind: fc.constant('edit-body' as const),
      seq: seqIn(1, n),
      pick: fc.nat(),
      char: fc.nat({ max: ALNUM.length - 1 }),
    }),
    fc.record({
      kind: fc.constant('edit-time' as const),
      seq: seqIn(1, n),
      delta: fc.oneof(seqIn(-86_400_000, -1), seqIn(1, 86_400_000)),
    }),
    fc.record({
      kind: fc.constantFrom('edit-hash' as const, 'edit-prev-hash' as const),
      seq: seqIn(1, n),
      hash: hex64,
    }),
    // The last record deleted is a truncation: its case is below.
    fc.record({
      kind: fc.constant('delete' as const),
      seq: fc.oneof(fc.constant(1), seqIn(2, n - 1)),
    }),
    fc.record({ kind: fc.constant('insert' as const), seq: seqIn(1, n), wellFormed: fc.boolean() }),
    seqIn(1, n - 1).chain((seq) =>
      fc.record({
        kind: fc.constant('swap' as const),
        seq: fc.constant(seq),
        other: seqIn(seq + 1, n),
      }),
    ),
    fc.record({ kind: fc.constant('truncate' as const), count: seqIn(1, n) }),
    fc.record({ kind: fc.constant('renumber-delete' as const), seq: seqIn(1, n - 1) }),
    fc.record({ kind: fc.constant('rewrite' as const), seq: seqIn(1, n) }),
  );

/** Indexes of the letters and digits inside the JSON strings of `body` (editing one keeps it JSON). */
function stringCharPositions(body: string): number[] {
  const positions: number[] = [];
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '\\') {
      i++;
    } else if (c === '"') {
      inString = !inString;
    } else if (inString && ALNUM.includes(c)) {
      positions.push(i);
    }
  }
  return positions;
}

/** The raw changes of `tamper` on `rows` (records 1..n), what verification must report, and the range to restore. */
function plan(tamper: Tamper, rows: readonly AuditRow[]) {
  const n = rows.length;
  const row = (seq: number) => rows[seq - 1] as AuditRow;
  const undoFrom = (from: number, through = n) => ({ from, through });
  switch (tamper.kind) {
    case 'edit-body': {
      const { body } = row(tamper.seq);
      const positions = stringCharPositions(body);
      const at = positions[tamper.pick % positions.length] as number;
      let char = ALNUM[tamper.char] as string;
      if (char === body[at]) char = ALNUM[(tamper.char + 1) % ALNUM.length] as string;
      const edited = `${body.slice(0, at)}${char}${body.slice(at + 1)}`;
      return {
        changes: [{ op: 'update', seq: tamper.seq, set: { body: edited } }] as RawChange[],
        expected: { kind: 'content-changed', seq: tamper.seq },
        undo: undoFrom(tamper.seq, tamper.seq),
      };
    }
    case 'edit-time':
      return {
        changes: [
          {
            op: 'update',
            seq: tamper.seq,
            set: { recordedAt: row(tamper.seq).recordedAt + tamper.delta },
          },
        ] as RawChange[],
        expected: { kind: 'content-changed', seq: tamper.seq },
        undo: undoFrom(tamper.seq, tamper.seq),
      };
    case 'edit-hash':
    case 'edit-prev-hash': {
      const field = tamper.kind === 'edit-hash' ? 'hash' : 'prevHash';
      const original = row(tamper.seq)[field];
      const hash =
        tamper.hash === original
          ? tamper.hash.replace(/^./, (c) => (c === '0' ? '1' : '0'))
          : tamper.hash;
      return {
        changes: [{ op: 'update', seq: tamper.seq, set: { [field]: hash } }] as RawChange[],
        expected: { kind: 'link-broken', seq: tamper.seq },
        undo: undoFrom(tamper.seq, tamper.seq),
      };
    }
    case 'delete':
      return {
        changes: [{ op: 'delete', from: tamper.seq, through: tamper.seq }] as RawChange[],
        expected: { kind: 'missing', seq: tamper.seq },
        undo: undoFrom(tamper.seq, tamper.seq),
      };
    case 'truncate':
      return {
        changes: [{ op: 'delete', from: n - tamper.count + 1, through: n }] as RawChange[],
        expected: { kind: 'truncated', seq: n - tamper.count + 1 },
        undo: undoFrom(n - tamper.count + 1),
      };
    case 'insert': {
      const k = tamper.seq;
      const prevHash = k === 1 ? AUDIT_GENESIS_HASH : row(k - 1).hash;
      const recordedAt = row(k).recordedAt;
      const body = auditRecordBody(
        CHAIN,
        k,
        recordedAt,
        '"action":"forged","resource":{"id":"x","type":"user"}',
      );
      const forged: AuditRow = {
        chain: CHAIN,
        seq: k,
        recordedAt,
        body,
        prevHash,
        hash: tamper.wellFormed ? auditRecordHash(prevHash, body) : 'a'.repeat(64),
      };
      return {
        changes: [
          { op: 'shift', from: k, by: 1 },
          { op: 'insert', rows: [forged] },
        ] as RawChange[],
        expected: { kind: 'inserted', seq: k },
        undo: undoFrom(k, n + 1),
      };
    }
    case 'swap':
      return {
        changes: [
          { op: 'move', from: tamper.seq, to: -1 },
          { op: 'move', from: tamper.other, to: tamper.seq },
          { op: 'move', from: -1, to: tamper.other },
        ] as RawChange[],
        expected: { kind: 'reordered', seq: tamper.seq },
        undo: undoFrom(tamper.seq, tamper.other),
      };
    case 'rewrite': {
      // Body edited and hash recomputed: the next record's link tells, or the head for the last.
      const { body, prevHash } = row(tamper.seq);
      const edited = body.replace('example.com', 'example.org');
      return {
        changes: [
          {
            op: 'update',
            seq: tamper.seq,
            set: { body: edited, hash: auditRecordHash(prevHash, edited) },
          },
        ] as RawChange[],
        expected:
          tamper.seq < n
            ? { kind: 'link-broken', seq: tamper.seq + 1 }
            : { kind: 'content-changed', seq: n },
        undo: undoFrom(tamper.seq, tamper.seq),
      };
    }
    case 'renumber-delete':
      return {
        changes: [
          { op: 'delete', from: tamper.seq, through: tamper.seq },
          { op: 'shift', from: tamper.seq + 1, by: -1 },
        ] as RawChange[],
        expected: { kind: 'missing', seq: tamper.seq },
        undo: undoFrom(tamper.seq),
      };
  }
}

/** The changes at the chain's ends, tried first on every backend. */
const EDGES: [Tamper][] = [
  [{ kind: 'insert', seq: 1, wellFormed: true }],
  [{ kind: 'insert', seq: LENGTH, wellFormed: false }],
  [{ kind: 'insert', seq: LENGTH, wellFormed: true }],
  [{ kind: 'rewrite', seq: LENGTH }],
  [{ kind: 'swap', seq: 1, other: LENGTH }],
  [{ kind: 'truncate', count: LENGTH }],
  [{ kind: 'renumber-delete', seq: 1 }],
];

async function firstBreak(audit: AuditLog<unknown>) {
  const [report] = (await audit.verify({ from: 'start' })).chains;
  return report?.break && { kind: report.break.kind, seq: report.break.seq };
}

const targets: { name: string; runs: number; open: () => Promise<ProofStore> }[] = [
  { name: 'memory', runs: 150, open: openMemoryProofStore },
  { name: 'sqlite', runs: 40, open: () => openSqliteProofStore() },
  { name: 'pglite', runs: 6, open: openPgliteProofStore },
];
const url = postgresUrl();
if (url) {
  targets.push({
    name: 'postgres',
    runs: 40,
    open: () => openPostgresProofStore(url, proofSchema('tamper')),
  });
}

for (const target of targets) {
  describe(`audit tamper proof (${target.name})`, () => {
    let proof: ProofStore;
    let audit: AuditLog<unknown>;
    let rows: AuditRow[];

    beforeAll(async () => {
      proof = await target.open();
      audit = createAuditLog({ store: proof.store });
      for (let i = 0; i < LENGTH; i += 1000) {
        await audit.recordMany(Array.from({ length: 1000 }, (_, j) => proofEntry(i + j)));
      }
      rows = [];
      while (rows.length < LENGTH) {
        rows.push(
          ...(await proof.store.readChain({ chain: CHAIN, afterSeq: rows.length, limit: 1000 })),
        );
      }
    }, 120_000);
    afterAll(async () => {
      await proof?.dispose();
    });

    const runs = Math.max(1, Math.round(target.runs * SCALE));
    it(
      `names every single change of a ${LENGTH}-record chain (${runs} runs)`,
      async () => {
        expect(await firstBreak(audit)).toBeUndefined();
        const seen = new Map<string, number>();
        await fc.assert(
          fc.asyncProperty(tampers(LENGTH), async (tamper) => {
            const { changes, expected, undo } = plan(tamper, rows);
            await proof.raw.change(CHAIN, changes);
            let found: Awaited<ReturnType<typeof firstBreak>>;
            try {
              found = await firstBreak(audit);
            } finally {
              const through = Math.min(undo.through, LENGTH);
              await proof.raw.change(CHAIN, [
                { op: 'delete', from: undo.from, through: undo.through },
                { op: 'insert', rows: rows.slice(undo.from - 1, through) },
              ]);
            }
            seen.set(tamper.kind, (seen.get(tamper.kind) ?? 0) + 1);
            expect(found).toEqual(expected);
          }),
          { numRuns: runs, examples: EDGES, ...SEED },
        );
        console.log(
          `audit tamper proof (${target.name}): ${JSON.stringify(Object.fromEntries(seen))}`,
        );
        // Every change was undone: the chain verifies again.
        expect(await firstBreak(audit)).toBeUndefined();
      },
      Math.max(600_000, 120_000 * SCALE),
    );
  });
}
