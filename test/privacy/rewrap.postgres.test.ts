/**
 * Key rotation on PostgreSQL, under load and crashes: a table of encrypted values (each under
 * field key 1), `rotate()`, then a rewrap onto the new key in a child process that is SIGKILLed
 * at random points and started again (it resumes from the cursor its job saved), while this
 * process keeps reading random rows and decrypting them (several reads in flight) and rewrites
 * some rows, mostly just ahead of the rewrap's position so that its compare-and-set meets them.
 *
 * Then: no read failed or read a wrong value; every row is on the new key and decrypts to its
 * value (its original one, or the last one written meanwhile: no concurrent write clobbered);
 * the last run's counts add up and cover exactly the rows after the cursor it resumed from; the
 * job's cursor is cleared; key 1 can be retired (it then refuses with `KEY_RETIRED`) and every
 * row still reads, from a fresh instance too.
 *
 * Size: `PRIVACY_PROOF_SCALE` × 100,000 rows (1 in CI; `npm run proof:privacy` runs 1,000,000).
 * `PRIVACY_PROOF_SEED` replays the kill points and row choices (the seed is printed). The
 * figures of a run are printed. A full run on a shared 2-core machine: 1,000,000 rows loaded in
 * 19 s, rewrapped in 109 s (about 9,200 rows/s) through 4 kills while 210,519 reads (none
 * failed) and 16,063 writes ran beside it, checked in 27 s; 100,000 rows take about 30–50 s.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FlowproofError } from '../../src/core/errors.js';
import { createFieldEncryption } from '../../src/privacy/encryption/field-encryption.js';
import type { RewrapReport } from '../../src/privacy/encryption/rewrap.js';
import { startProcesses } from '../../src/testing/index.js';
import { seededRandom } from '../../src/testing/seeded-random.js';
import { bundleWorker } from '../support/bundle-worker.js';
import { describeWithPostgres } from '../support/services.js';
import {
  insertValues,
  openProofWorld,
  proofKeyProvider,
  proofSchema,
  readAll,
  rowContext,
  type StoredValue,
} from './support/privacy-proof-world.js';
import type { RewrapWorkerArgs, RewrapWorkerMessage } from './support/rewrap-worker.js';

const SCALE = Number(process.env.PRIVACY_PROOF_SCALE ?? 1);
const ROWS = Math.round(100_000 * SCALE);
const KILLS = 2 + Math.floor(SCALE / 5);
const BATCH = 500;
const READERS = 6;
const WRITERS = 2;
const SEED = Number(process.env.PRIVACY_PROOF_SEED ?? Date.now() % 1_000_000);
const TIMEOUT_MS = 120_000 * Math.max(1, SCALE);
const WORKER = fileURLToPath(new URL('./support/rewrap-worker.ts', import.meta.url));

const TABLE = 'rewrap_rows';
const CONTEXT = { table: 'customers', column: 'email' } as const;
const original = (id: number) => `customer-${id}@example.com`;

describeWithPostgres(
  'privacy: a rewrap SIGKILLed mid-run under concurrent reads and writes',
  (url) => {
    let worker: string;
    beforeAll(async () => {
      worker = await bundleWorker(WORKER, 'flowproof-privacy-rewrap');
    });
    afterAll(() => {
      if (worker) rmSync(dirname(worker), { recursive: true, force: true });
    });

    it(
      `${ROWS} rows rotated and rewrapped with ${KILLS} kills: no failed read, every row on the new key`,
      async () => {
        const random = seededRandom(SEED);
        const pick = (n: number) => Math.floor(random() * n);
        const schema = proofSchema('rewrap');
        const world = openProofWorld(url, schema, 4 + READERS + WRITERS);
        const table = world.table(TABLE);
        const kek = randomBytes(32).toString('base64');
        const keyProvider = proofKeyProvider(kek);
        try {
          await world.prepare(TABLE);
          const writer = createFieldEncryption({ store: world.store, keyProvider });

          // Load: encrypt in process, insert 10,000 rows a statement.
          const started = Date.now();
          const oldSamples: StoredValue[] = [];
          for (let from = 1; from <= ROWS; from += 10_000) {
            const chunk: StoredValue[] = [];
            for (let id = from; id < Math.min(from + 10_000, ROWS + 1); id += 1) {
              chunk.push({
                id,
                value: await writer.encrypt(
                  original(id),
                  rowContext(CONTEXT.table, CONTEXT.column, id),
                ),
              });
            }
            if (oldSamples.length < 100) oldSamples.push(...chunk.slice(0, 10));
            await insertValues(world.backend, table, chunk);
          }
          await world.backend.execute(`ANALYZE ${table}`);
          const loadedAt = Date.now();
          const oldKeyId = writer.keyIdOf((oldSamples[0] as StoredValue).value);
          const { keyId: newKeyId } = await writer.rotate();
          expect(newKeyId).not.toBe(oldKeyId);

          // What each row may hold: its original value, or one written meanwhile (recorded
          // before its UPDATE is sent, so a read never meets a value not listed yet).
          const written = new Map<number, string[]>();
          const acceptable = (id: number) => written.get(id) ?? [original(id)];
          let running = true;
          let position = 0;
          const failures: string[] = [];
          let reads = 0;
          let writes = 0;

          const reader = createFieldEncryption({
            store: world.store,
            keyProvider,
            cacheTtlMs: 1_000,
          });
          const readLoop = async () => {
            while (running) {
              const id = 1 + pick(ROWS);
              try {
                const [row] = await world.backend.query<{ value: string }>(
                  `SELECT value FROM ${table} WHERE id = $1`,
                  [id],
                );
                const plaintext = await reader.decrypt(
                  (row as { value: string }).value,
                  rowContext(CONTEXT.table, CONTEXT.column, id),
                );
                if (!acceptable(id).includes(plaintext))
                  failures.push(`row ${id} read ${plaintext}`);
              } catch (error) {
                failures.push(`row ${id}: ${(error as Error).message}`);
              }
              reads += 1;
            }
          };
          // Each writer owns the ids of its remainder, so one row's writes never race each other.
          const writeLoop = async (index: number) => {
            for (let n = 0; running; n += 1) {
              let id = Math.min(ROWS, position + 1 + pick(2 * BATCH));
              if (pick(4) === 0) id = 1 + pick(ROWS);
              id -= (id - index + WRITERS) % WRITERS;
              if (id < 1) id += WRITERS;
              const value = `rewritten-${id}-${n}@example.com`;
              const ciphertext = await writer.encrypt(
                value,
                rowContext(CONTEXT.table, CONTEXT.column, id),
              );
              written.set(id, [...acceptable(id), value]);
              await world.backend.execute(`UPDATE ${table} SET value = $2 WHERE id = $1`, [
                id,
                ciphertext,
              ]);
              writes += 1;
              await sleep(5);
            }
          };

          const load = [
            ...Array.from({ length: READERS }, readLoop),
            ...Array.from({ length: WRITERS }, (_, index) => writeLoop(index)),
          ];
          const runs: {
            start: string | null;
            last: RewrapReport | undefined;
            killed: boolean;
            /** Reads done while it ran. */
            reads: number;
          }[] = [];
          let final: RewrapReport | undefined;
          const rewrapStarted = Date.now();
          try {
            for (let generation = 0; final === undefined; generation += 1) {
              const [child] = startProcesses<RewrapReport, RewrapWorkerArgs>({
                module: worker,
                exportName: 'rewrapWorker',
                args: {
                  url,
                  schema,
                  kek,
                  table: TABLE,
                  context: CONTEXT,
                  job: 'customers.email',
                  batchSize: BATCH,
                },
                timeoutMs: TIMEOUT_MS,
              });
              if (child === undefined) throw new Error('no child started');
              const run = {
                start: null as string | null,
                last: undefined as RewrapReport | undefined,
                killed: false,
                reads: -reads,
              };
              runs.push(run);
              let seen = 0;
              const follow = () => {
                const messages = child.messages as RewrapWorkerMessage[];
                for (; seen < messages.length; seen += 1) {
                  const message = messages[seen] as RewrapWorkerMessage;
                  if (message.type === 'start') run.start = message.cursor;
                  else {
                    run.last = message.report;
                    position = Number(message.report.cursor ?? ROWS);
                  }
                }
              };
              const watching = setInterval(follow, 5);
              try {
                const start = (await child.waitForMessage(
                  (m) => (m as RewrapWorkerMessage).type === 'start',
                  TIMEOUT_MS,
                )) as Extract<RewrapWorkerMessage, { type: 'start' }>;
                if (generation < KILLS) {
                  // Somewhere in the first 10–40 % of what is left, then a few milliseconds on:
                  // mid-batch, between batches, or while saving the cursor.
                  const left = ROWS - Number(start.cursor ?? 0);
                  const after = Math.max(BATCH, Math.floor(left * (0.1 + 0.3 * random())));
                  await child.waitForMessage((m) => {
                    const message = m as RewrapWorkerMessage;
                    return message.type === 'progress' && message.report.scanned >= after;
                  }, TIMEOUT_MS);
                  await sleep(pick(40));
                  child.kill('SIGKILL');
                  run.killed = true;
                }
                const result = await child.result;
                if (result.status === 'fulfilled') final = result.value;
                else if (
                  !(run.killed && result.status === 'exited' && result.signal === 'SIGKILL')
                ) {
                  throw new Error(`rewrap child ${generation} ended ${JSON.stringify(result)}`);
                }
              } finally {
                clearInterval(watching);
                follow();
                run.reads += reads;
              }
            }
          } finally {
            running = false;
            await Promise.all(load);
          }
          const rewrappedAt = Date.now();

          // No read failed; the rewrap was killed as planned, mid-run, and resumed each time.
          expect(failures.slice(0, 10), `seed ${SEED}`).toEqual([]);
          const kills = runs.filter((run) => run.killed);
          expect(kills.length, `seed ${SEED}`).toBe(KILLS);
          for (const run of runs) expect(run.reads, 'reads while each run ran').toBeGreaterThan(0);
          for (let g = 1; g < runs.length; g += 1) {
            const before = runs[g - 1]!;
            const resumedAt = Number(runs[g]!.start);
            expect(resumedAt, `seed ${SEED}: run ${g} resumes`).toBeGreaterThanOrEqual(
              Number(before.last?.cursor ?? 0),
            );
            expect(resumedAt, `seed ${SEED}: run ${g} resumes mid-table`).toBeLessThan(ROWS);
            expect(resumedAt).toBeGreaterThan(Number(before.start ?? 0));
          }

          // The last run's counts add up and cover exactly the rows after where it resumed.
          const last = final as RewrapReport;
          expect(last.unreadable).toBe(0);
          expect(last.keyId).toBe(newKeyId);
          expect(last.cursor).toBeNull();
          expect(last.scanned).toBe(
            last.rewrapped + last.skipped + last.conflicts + last.unreadable,
          );
          expect(last.scanned).toBe(ROWS - Number(runs[runs.length - 1]!.start));
          expect(await world.store.loadCursor('customers.email')).toBeUndefined();
          // Every row was rewrapped by some run, but for those written meanwhile and the batches
          // in flight (done, not reported) when a run was killed.
          const reported = [...runs.slice(0, -1).map((run) => run.last), last];
          const rewrapped = reported.reduce((sum, report) => sum + (report?.rewrapped ?? 0), 0);
          const conflicts = reported.reduce((sum, report) => sum + (report?.conflicts ?? 0), 0);
          expect(rewrapped).toBeLessThanOrEqual(ROWS);
          expect(rewrapped).toBeGreaterThanOrEqual(ROWS - written.size - KILLS * 2 * BATCH);
          // Writes raced the batches: the compare-and-set refused to overwrite some of them.
          expect(conflicts, `seed ${SEED}`).toBeGreaterThan(0);

          // Every row: on the new key, its value (the last one written, when written meanwhile).
          const expected = (id: number) => acceptable(id)[acceptable(id).length - 1];
          const context = (id: number) => rowContext(CONTEXT.table, CONTEXT.column, id);
          let checked = 0;
          const wrong: string[] = [];
          for await (const page of readAll(world.backend, table)) {
            for (const { id, value } of page) {
              checked += 1;
              if (writer.keyIdOf(value) !== newKeyId)
                wrong.push(`row ${id} on key ${writer.keyIdOf(value)}`);
              else if ((await writer.decrypt(value, context(id))) !== expected(id))
                wrong.push(`row ${id} wrong value`);
            }
          }
          expect(wrong.slice(0, 10), `seed ${SEED}`).toEqual([]);
          expect(checked).toBe(ROWS);

          // Key 1 retired: it refuses, and every row still reads, from a fresh instance too.
          await writer.retire(oldKeyId);
          const fresh = createFieldEncryption({ store: world.store, keyProvider });
          const sample = oldSamples[pick(oldSamples.length)] as StoredValue;
          for (const encryption of [writer, fresh]) {
            const refused = await encryption
              .decrypt(sample.value, context(sample.id))
              .catch((e) => e);
            expect(refused).toBeInstanceOf(FlowproofError);
            expect((refused as FlowproofError).code).toBe('KEY_RETIRED');
          }
          let afterRetire = 0;
          for await (const page of readAll(world.backend, table)) {
            for (const { id, value } of page) {
              if ((await fresh.decrypt(value, context(id))) !== expected(id))
                wrong.push(`row ${id} after retire`);
              afterRetire += 1;
            }
          }
          expect(wrong.slice(0, 10), `seed ${SEED}`).toEqual([]);
          expect(afterRetire).toBe(ROWS);

          const seconds = (rewrappedAt - rewrapStarted) / 1000;
          const figures = {
            seed: SEED,
            rows: ROWS,
            loadSeconds: (loadedAt - started) / 1000,
            rewrapSeconds: seconds,
            rowsPerSecond: Math.round(ROWS / seconds),
            kills: kills.length,
            resumedAt: runs.slice(1).map((run) => Number(run.start)),
            reads,
            readsPerRun: runs.map((run) => run.reads),
            readsPerSecond: Math.round(reads / seconds),
            failedReads: failures.length,
            writes,
            rowsWritten: written.size,
            conflicts,
            lastRun: last,
            verifySeconds: (Date.now() - rewrappedAt) / 1000,
          };
          console.log(`privacy rewrap proof (PostgreSQL): ${JSON.stringify(figures)}`);
        } finally {
          await world.drop().catch(() => {});
          await world.close();
        }
      },
      TIMEOUT_MS,
    );
  },
);
