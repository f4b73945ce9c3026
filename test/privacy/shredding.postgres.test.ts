/**
 * Crypto-shredding at scale, on PostgreSQL: 10,000 data subjects with ten fields each, every
 * field encrypted under its subject's own key and stored in a table; a copy of the table is
 * taken (a backup: the keys live apart from the data, so they are not in it); a random tenth of
 * the subjects are shredded — some twice, some by two field-encryption instances at once (the
 * second one holding their keys: it refuses their fields at once too).
 *
 * Then every field of both tables is decrypted by the instance that encrypted them, and by
 * another process whose instance has `cacheTtlMs: 0`: each field of a shredded subject is
 * refused with `KEY_SHREDDED` (a FlowproofError naming the subject; never a value, never another
 * code), each other field decrypts to its value. The receipts agree with each other and with the
 * key ids in the ciphertexts, and the key store keeps only tombstones of the shredded keys.
 *
 * Size: `SHREDDING_PROOF_SCALE` × 10,000 subjects (1 in CI and in `npm run proof:privacy`,
 * whose `PRIVACY_PROOF_SCALE` sizes the rewrap proof only). `PRIVACY_PROOF_SEED` replays the choice of
 * subjects (the seed is printed). The figures of a run are printed: about 30–45 s on a shared
 * 2-core machine, most of it creating the 10,000 subject keys and reading them back one by one.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FlowproofError } from '../../src/core/errors.js';
import { createFieldEncryption } from '../../src/privacy/encryption/field-encryption.js';
import type { ShredReceipt } from '../../src/privacy/encryption/shredding.js';
import { startProcesses } from '../../src/testing/index.js';
import { seededRandom } from '../../src/testing/seeded-random.js';
import { bundleWorker } from '../support/bundle-worker.js';
import { describeWithPostgres } from '../support/services.js';
import {
  insertValues,
  openProofWorld,
  proofKeyProvider,
  proofSchema,
  rowContext,
  type StoredValue,
} from './support/privacy-proof-world.js';
import {
  columnOf,
  decryptTable,
  FIELDS,
  fieldValue,
  PROFILE_TABLE,
  rowOf,
  type ShreddingCheckArgs,
  type ShreddingVerdict,
  subjectOf,
} from './support/shredding-check.js';

const SUBJECTS = Math.round(10_000 * Number(process.env.SHREDDING_PROOF_SCALE ?? 1));
const SHREDDED = Math.round(SUBJECTS / 10);
const SEED = Number(process.env.PRIVACY_PROOF_SEED ?? Date.now() % 1_000_000);
const TIMEOUT_MS = 180_000 * Math.max(1, SUBJECTS / 10_000);
const CHECKER = fileURLToPath(new URL('./support/shredding-check.ts', import.meta.url));

const DATA = 'shredding_rows';
const BACKUP = 'shredding_backup';

describeWithPostgres('privacy: crypto-shredding a tenth of 10,000 subjects (PostgreSQL)', (url) => {
  let checker: string;
  beforeAll(async () => {
    checker = await bundleWorker(CHECKER, 'flowproof-privacy-shredding');
  });
  afterAll(() => {
    if (checker) rmSync(dirname(checker), { recursive: true, force: true });
  });

  it(
    `${SUBJECTS} subjects × ${FIELDS} fields, ${SHREDDED} shredded: every field of theirs KEY_SHREDDED, every other field readable, backup included`,
    async () => {
      const random = seededRandom(SEED);
      const schema = proofSchema('shredding');
      const world = openProofWorld(url, schema, 8);
      const kek = randomBytes(32).toString('base64');
      const keyProvider = proofKeyProvider(kek);
      try {
        await world.prepare(DATA, BACKUP);
        const first = createFieldEncryption({ store: world.store, keyProvider });
        const second = createFieldEncryption({ store: world.store, keyProvider });

        // Encrypt: each subject's key is created on first use; 16 subjects at a time.
        const started = Date.now();
        const keyIds = new Map<number, number>();
        const encrypted: StoredValue[] = [];
        let nextSubject = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            for (let s = nextSubject++; s < SUBJECTS; s = nextSubject++) {
              const values = await Promise.all(
                Array.from({ length: FIELDS }, (_, f) => {
                  const id = rowOf(s, f);
                  return first.encrypt(fieldValue(id), {
                    ...rowContext(PROFILE_TABLE, columnOf(id), id),
                    subject: subjectOf(s),
                  });
                }),
              );
              keyIds.set(s, first.keyIdOf(values[0] as string));
              for (const [f, value] of values.entries()) encrypted.push({ id: rowOf(s, f), value });
            }
          }),
        );
        await insertValues(world.backend, world.table(DATA), encrypted);
        const encryptedById = new Map(encrypted.map((row) => [row.id, row.value]));
        expect(new Set(keyIds.values()).size, 'one key per subject').toBe(SUBJECTS);
        // The backup, taken before the shred: the data only, the keys are elsewhere.
        await world.backend.execute(
          `INSERT INTO ${world.table(BACKUP)} SELECT * FROM ${world.table(DATA)}`,
        );
        const encryptedAt = Date.now();

        // Shred a random tenth: most once, a tenth of them twice, a tenth by both instances at once.
        const order = Array.from({ length: SUBJECTS }, (_, s) => s);
        for (let i = order.length - 1; i > 0; i -= 1) {
          const j = Math.floor(random() * (i + 1));
          [order[i], order[j]] = [order[j] as number, order[i] as number];
        }
        const shredded = order.slice(0, SHREDDED);
        const twice = new Set(shredded.slice(0, SHREDDED / 10));
        const together = new Set(shredded.slice(SHREDDED / 10, SHREDDED / 5));
        const field = (s: number, f: number) => {
          const id = rowOf(s, f);
          const stored = encryptedById.get(id) as string;
          return { id, stored, context: rowContext(PROFILE_TABLE, columnOf(id), id) };
        };
        // The second instance holds the keys of the subjects it will shred with the first.
        for (const s of together) {
          const { id, stored, context } = field(s, 0);
          expect(await second.decrypt(stored, context)).toBe(fieldValue(id));
        }
        const receipts = new Map<number, ShredReceipt>();
        const problems: string[] = [];
        let nextShred = 0;
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            for (let k = nextShred++; k < shredded.length; k = nextShred++) {
              const s = shredded[k] as number;
              const subject = subjectOf(s);
              if (together.has(s)) {
                const [a, b] = await Promise.all([first.shred(subject), second.shred(subject)]);
                if (a.keyId !== b.keyId || a.shreddedAt !== b.shreddedAt) {
                  problems.push(`${subject}: concurrent receipts differ`);
                }
                if (a.alreadyShredded && b.alreadyShredded) {
                  problems.push(`${subject}: neither concurrent shred was the first`);
                }
                receipts.set(s, a);
              } else {
                const receipt = await first.shred(subject);
                if (receipt.alreadyShredded) problems.push(`${subject}: already shredded`);
                if (twice.has(s)) {
                  const again = await first.shred(subject);
                  if (!again.alreadyShredded || again.shreddedAt !== receipt.shreddedAt) {
                    problems.push(`${subject}: the second receipt does not say so`);
                  }
                  if (again.keyId !== receipt.keyId) problems.push(`${subject}: another key`);
                }
                receipts.set(s, receipt);
              }
            }
          }),
        );
        const shreddedAt = Date.now();
        expect(problems.slice(0, 10), `seed ${SEED}`).toEqual([]);
        for (const [s, receipt] of receipts) {
          if (receipt.keyId !== keyIds.get(s)) problems.push(`${subjectOf(s)}: receipt key`);
          const tombstone = await world.store.get(receipt.keyId);
          if (tombstone?.wrapped !== null || tombstone.kekId !== null) {
            problems.push(`${subjectOf(s)}: the store still holds its key`);
          }
        }
        expect(problems.slice(0, 10), `seed ${SEED}`).toEqual([]);
        expect(receipts.size).toBe(SHREDDED);
        // Both instances that shredded a subject refuse its fields at once.
        for (const s of together) {
          for (let f = 0; f < FIELDS; f += 1) {
            const { stored, context } = field(s, f);
            for (const encryption of [first, second]) {
              const refused = await encryption.decrypt(stored, context).catch((e: unknown) => e);
              expect(refused).toBeInstanceOf(FlowproofError);
              expect(refused).toMatchObject({
                code: 'KEY_SHREDDED',
                details: { subject: subjectOf(s) },
              });
            }
          }
        }
        const sample = order.slice(SHREDDED, SHREDDED + 100);
        for (const s of [...shredded.slice(0, 100), ...sample]) {
          expect(await second.isShredded(subjectOf(s))).toBe(receipts.has(s));
        }

        // Every field of both tables: from the instance that encrypted them, and from another
        // process reading every key from the store.
        const gone = new Set(shredded);
        const elsewhere = startProcesses<ShreddingVerdict[], ShreddingCheckArgs>({
          module: checker,
          exportName: 'checkShreddingElsewhere',
          args: { url, schema, kek, tables: [DATA, BACKUP], shredded },
          timeoutMs: TIMEOUT_MS,
        })[0];
        const here = {
          data: await decryptTable(first, world, world.table(DATA), gone),
          backup: await decryptTable(first, world, world.table(BACKUP), gone),
        };
        const result = await elsewhere?.result;
        if (result?.status !== 'fulfilled')
          throw new Error(`checker ended ${JSON.stringify(result)}`);
        const [data, backup] = result.value as [ShreddingVerdict, ShreddingVerdict];
        const verdicts = { here, elsewhere: { data, backup } };
        for (const verdict of [here.data, here.backup, data, backup]) {
          expect(verdict.examples, `seed ${SEED}`).toEqual([]);
          expect(verdict).toMatchObject({
            rows: SUBJECTS * FIELDS,
            shredded: SHREDDED * FIELDS,
            readable: (SUBJECTS - SHREDDED) * FIELDS,
            violations: 0,
          });
        }

        const figures = {
          seed: SEED,
          subjects: SUBJECTS,
          fields: SUBJECTS * FIELDS,
          shreddedSubjects: SHREDDED,
          shreddedTwice: twice.size,
          shreddedConcurrently: together.size,
          encryptSeconds: (encryptedAt - started) / 1000,
          shredSeconds: (shreddedAt - encryptedAt) / 1000,
          decryptSeconds: Object.fromEntries(
            Object.entries(verdicts).map(([where, tables]) => [
              where,
              { data: tables.data.seconds, backup: tables.backup.seconds },
            ]),
          ),
          refused: SHREDDED * FIELDS * 4,
          readable: (SUBJECTS - SHREDDED) * FIELDS * 4,
          violations: 0,
          totalSeconds: (Date.now() - started) / 1000,
        };
        console.log(`privacy shredding proof (PostgreSQL): ${JSON.stringify(figures)}`);
      } finally {
        await world.drop().catch(() => {});
        await world.close();
      }
    },
    TIMEOUT_MS,
  );
});
