/**
 * The crypto-shredding proof's data and its check, shared by the test process and the child
 * process that checks from afar: subject `s` has ten fields, row `s × 10 + f + 1` of the proof
 * table holding field `f` encrypted under the subject's own key. Decrypting every row must give
 * each field of a shredded subject `KEY_SHREDDED` (a FlowproofError naming that subject) and
 * every other field its value.
 */
import { FlowproofError } from '../../../src/core/errors.js';
import {
  createFieldEncryption,
  type FieldEncryption,
} from '../../../src/privacy/encryption/field-encryption.js';
import { openProofWorld, proofKeyProvider, readAll, rowContext } from './privacy-proof-world.js';

/** Fields per subject. */
export const FIELDS = 10;
/** The encryption context's table. */
export const PROFILE_TABLE = 'profiles';

/** Subject `s`'s id. */
export const subjectOf = (s: number): string => `subject-${s}`;
/** The row id of subject `s`'s field `f`. */
export const rowOf = (s: number, f: number): number => s * FIELDS + f + 1;
/** The subject index of row `id`. */
export const subjectIndexOf = (id: number): number => Math.floor((id - 1) / FIELDS);
/** The column (encryption context) of row `id`. */
export const columnOf = (id: number): string => `field_${(id - 1) % FIELDS}`;
/** The value of row `id`. */
export const fieldValue = (id: number): string =>
  `${subjectOf(subjectIndexOf(id))} ${columnOf(id)}: +1 555 01${String(id % 100).padStart(2, '0')}`;

/** What decrypting every row of one table gave. */
export interface ShreddingVerdict {
  readonly rows: number;
  /** Rows of subjects not shredded that decrypted to their value. */
  readonly readable: number;
  /** Rows of shredded subjects refused with `KEY_SHREDDED` naming their subject. */
  readonly shredded: number;
  /** Anything else (a wrong value, another error, a shredded row that decrypted): none expected. */
  readonly violations: number;
  /** Up to 10 of them. */
  readonly examples: readonly string[];
  readonly seconds: number;
}

/**
 * Decrypts every row of proof table `table` with `encryption`, `concurrency` subjects at a time
 * (a subject's ten rows at once), and sorts each outcome against `shredded` (subject indexes).
 */
export async function decryptTable(
  encryption: FieldEncryption,
  world: ReturnType<typeof openProofWorld>,
  table: string,
  shredded: ReadonlySet<number>,
  concurrency = 16,
): Promise<ShreddingVerdict> {
  const started = Date.now();
  let rows = 0;
  let readable = 0;
  let refused = 0;
  const examples: string[] = [];
  let violations = 0;
  const violation = (text: string) => {
    violations += 1;
    if (examples.length < 10) examples.push(text);
  };
  const check = async (id: number, value: string) => {
    const s = subjectIndexOf(id);
    const context = rowContext(PROFILE_TABLE, columnOf(id), id);
    try {
      const plaintext = await encryption.decrypt(value, context);
      if (shredded.has(s)) violation(`row ${id} of shredded ${subjectOf(s)} decrypted`);
      else if (plaintext !== fieldValue(id)) violation(`row ${id} decrypted to another value`);
      else readable += 1;
    } catch (error) {
      const code = error instanceof FlowproofError ? error.code : String(error);
      const subject = error instanceof FlowproofError ? error.details.subject : undefined;
      if (!shredded.has(s)) violation(`row ${id} of ${subjectOf(s)}: ${code}`);
      else if (code !== 'KEY_SHREDDED' || subject !== subjectOf(s)) {
        violation(`row ${id} of shredded ${subjectOf(s)}: ${code} naming ${String(subject)}`);
      } else refused += 1;
    }
  };
  for await (const page of readAll(world.backend, table, FIELDS * 1_000)) {
    rows += page.length;
    // A subject's rows together: with `cacheTtlMs: 0`, they share one read of its key.
    const bySubject = new Map<number, typeof page>();
    for (const row of page) {
      const s = subjectIndexOf(row.id);
      bySubject.set(s, [...(bySubject.get(s) ?? []), row]);
    }
    const groups = [...bySubject.values()];
    const next = { at: 0 };
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let group = groups[next.at++]; group !== undefined; group = groups[next.at++]) {
          await Promise.all(group.map((row) => check(row.id, row.value)));
        }
      }),
    );
  }
  return {
    rows,
    readable,
    shredded: refused,
    violations,
    examples,
    seconds: (Date.now() - started) / 1000,
  };
}

/** What the checking child process takes. */
export interface ShreddingCheckArgs {
  readonly url: string;
  readonly schema: string;
  readonly kek: string;
  /** The proof tables to check (as `ProofWorld.table` names them). */
  readonly tables: readonly string[];
  /** The shredded subjects' indexes. */
  readonly shredded: readonly number[];
}

/**
 * The child process: a field encryption of its own with `cacheTtlMs: 0` (every decrypt reads
 * the key store) decrypts every row of each table.
 */
export async function checkShreddingElsewhere(
  args: ShreddingCheckArgs,
): Promise<ShreddingVerdict[]> {
  const world = openProofWorld(args.url, args.schema, 4);
  try {
    const encryption = createFieldEncryption({
      store: world.store,
      keyProvider: proofKeyProvider(args.kek),
      cacheTtlMs: 0,
    });
    const shredded = new Set(args.shredded);
    const verdicts: ShreddingVerdict[] = [];
    for (const table of args.tables) {
      verdicts.push(await decryptTable(encryption, world, world.table(table), shredded));
    }
    return verdicts;
  } finally {
    await world.close();
  }
}
