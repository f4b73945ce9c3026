/**
 * The child process of the rewrap proof (bundled with esbuild, run with `startProcesses`): runs
 * one rewrap of the proof table onto the newest field key, resuming from the job's saved
 * cursor, and reports where it started and its totals after each batch. The parent SIGKILLs it
 * at random points and starts another.
 */

import { createFieldEncryption } from '../../../src/privacy/encryption/field-encryption.js';
import type { RewrapReport } from '../../../src/privacy/encryption/rewrap.js';
import { createPostgresRewrapSource } from '../../../src/privacy/encryption/sql-rewrap-source.js';
import type { WorkerInfo } from '../../../src/testing/index.js';
import { openProofWorld, proofKeyProvider, rowContext } from './privacy-proof-world.js';

/** What the rewrap child takes. */
export interface RewrapWorkerArgs {
  readonly url: string;
  readonly schema: string;
  readonly kek: string;
  /** The proof table's name (in the proof's schema). */
  readonly table: string;
  /** The table and column of the encryption context. */
  readonly context: { readonly table: string; readonly column: string };
  readonly job: string;
  readonly batchSize: number;
}

/** What the child reports: where it starts, then its totals after each batch. */
export type RewrapWorkerMessage =
  | { readonly type: 'start'; readonly cursor: string | null }
  | { readonly type: 'progress'; readonly report: RewrapReport };

/** Runs the rewrap to the end (unless killed) and returns its report. */
export async function rewrapWorker(
  args: RewrapWorkerArgs,
  worker: WorkerInfo,
): Promise<RewrapReport> {
  const world = openProofWorld(args.url, args.schema, 2);
  try {
    const encryption = createFieldEncryption({
      store: world.store,
      keyProvider: proofKeyProvider(args.kek),
    });
    const start: RewrapWorkerMessage = {
      type: 'start',
      cursor: (await world.store.loadCursor(args.job)) ?? null,
    };
    worker.report(start);
    const { table, column } = args.context;
    const source = createPostgresRewrapSource({
      backend: world.backend,
      table: world.tableName(args.table),
      keyColumn: 'id',
      column: 'value',
      context: (row) => rowContext(table, column, Number(row.id)),
    });
    return await encryption.rewrap(source, {
      job: args.job,
      batchSize: args.batchSize,
      onProgress: (report) => {
        const progress: RewrapWorkerMessage = { type: 'progress', report };
        worker.report(progress);
      },
    });
  } finally {
    await world.close();
  }
}
