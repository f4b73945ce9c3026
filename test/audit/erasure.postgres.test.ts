/**
 * Erasure by crypto-shredding, on PostgreSQL: a chain whose `changes` belong to 10,000 data
 * subjects, each value stored encrypted (AES-256-GCM) under its subject's own data key by the
 * privacy module's encrypting protector, the keys kept in a PostgreSQL data-key store; the keys of
 * 1,000 subjects are shredded. The whole chain still verifies from its start; every value of those
 * subjects reveals as unreadable (checked on at least 1,000 of their records, found by resource),
 * and the values of the other subjects still read back as they were (checked on a sample).
 *
 * Size: `AUDIT_PROOF_SCALE` × 100,000 records (1 in CI; `npm run proof:audit` runs 1,000,000).
 * The figures of a run are printed.
 */
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { createPostgresDataKeyStore } from '../../src/adapters/postgres/index.js';
import { type AuditEntry, type AuditRecord, createAuditLog } from '../../src/audit/index.js';
import {
  createEncryptingProtector,
  createFieldEncryption,
  createLocalKeyProvider,
} from '../../src/privacy/index.js';
import { describeWithPostgres } from '../support/services.js';
import { openPostgresProofStore, proofSchema } from './support/audit-proof-world.js';

const SCALE = Number(process.env.AUDIT_PROOF_SCALE ?? 1);
const RECORDS = Math.round(100_000 * SCALE);
const SUBJECTS = 10_000;
const DESTROYED = 1_000;
const BATCH = 5_000;
const SAMPLE = 1_000;

const subjectOf = (i: number) => `subject-${i % SUBJECTS}`;

/** Record `i`: a change of subject `i % SUBJECTS`'s email, about that subject's customer row. */
function entry(i: number): AuditEntry {
  const subject = subjectOf(i);
  return {
    action: 'customer.updated',
    actor: { id: `clerk-${i % 50}` },
    resource: { type: 'customer', id: subject },
    subject,
    changes: { email: { before: `old-${i}@example.com`, after: `new-${i}@example.com` } },
    metadata: { i },
  };
}

/** Records of the customers `subjects`, up to `perSubject` each. */
async function recordsOf(
  audit: ReturnType<typeof createAuditLog>,
  subjects: readonly string[],
  want: number,
): Promise<AuditRecord[]> {
  const found: AuditRecord[] = [];
  for (const id of subjects) {
    const page = await audit.query({ resource: { type: 'customer', id }, limit: 1000 });
    found.push(...page.records);
    if (found.length >= want) break;
  }
  return found;
}

describeWithPostgres('audit: crypto-shredding keeps the chain verifiable (PostgreSQL)', (url) => {
  it(
    `${RECORDS} records of ${SUBJECTS} subjects, ${DESTROYED} subjects' keys destroyed`,
    async () => {
      const proof = await openPostgresProofStore(url, proofSchema('erasure'), 4);
      try {
        const keys = createPostgresDataKeyStore({ backend: proof.backend });
        await keys.migrate();
        const encryption = createFieldEncryption({
          store: keys,
          keyProvider: createLocalKeyProvider({ keys: { kek: randomBytes(32) }, current: 'kek' }),
        });
        const audit = createAuditLog({
          store: proof.store,
          protector: createEncryptingProtector({ encryption }),
        });
        const started = Date.now();
        for (let i = 0; i < RECORDS; i += BATCH) {
          await audit.recordMany(
            Array.from({ length: Math.min(BATCH, RECORDS - i) }, (_, j) => entry(i + j)),
          );
        }
        const recordedAt = Date.now();
        await proof.backend.execute(`ANALYZE ${proof.backend.table('audit_records')}`);
        // Shred the keys of every tenth subject.
        const destroyed = Array.from({ length: DESTROYED }, (_, k) => `subject-${k * 10}`);
        for (const subject of destroyed) await encryption.shred(subject);
        const verification = await audit.verify({ from: 'start' });
        const verifiedAt = Date.now();
        expect(verification.chains[0]).toMatchObject({ ok: true, records: RECORDS });

        const erased = await recordsOf(audit, destroyed, SAMPLE);
        expect(erased.length).toBeGreaterThanOrEqual(SAMPLE);
        for (const record of erased) {
          expect(destroyed).toContain(record.subject);
          const revealed = await audit.reveal(record);
          expect(revealed.changes).toEqual({ email: { unreadable: ['before', 'after'] } });
          expect(JSON.stringify(record)).not.toContain('@example.com');
        }
        const kept = await recordsOf(
          audit,
          Array.from({ length: SUBJECTS / 10 }, (_, k) => `subject-${k * 10 + 1 + (k % 9)}`),
          SAMPLE,
        );
        expect(kept.length).toBeGreaterThanOrEqual(SAMPLE);
        for (const record of kept) {
          const i = (record.metadata as { i: number }).i;
          expect((await audit.reveal(record)).changes).toEqual({
            email: { before: `old-${i}@example.com`, after: `new-${i}@example.com` },
          });
        }
        const figures = {
          records: RECORDS,
          subjects: SUBJECTS,
          destroyedSubjects: DESTROYED,
          erasedChecked: erased.length,
          keptChecked: kept.length,
          recordSeconds: (recordedAt - started) / 1000,
          verifySeconds: (verifiedAt - recordedAt) / 1000,
          totalSeconds: (Date.now() - started) / 1000,
        };
        console.log(`audit erasure proof (PostgreSQL): ${JSON.stringify(figures)}`);
      } finally {
        await proof.dispose();
      }
    },
    120_000 + RECORDS * 2,
  );
});
