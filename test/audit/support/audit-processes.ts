/**
 * Runs the audit proofs' appender processes and checks the chain they leave: records 1..N without
 * gaps or repeats, N the number committed, none of the rolled-back entries stored, and the chain
 * verifies from its start.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { type AuditRow, type AuditStore, createAuditLog } from '../../../src/audit/index.js';
import { runInProcesses } from '../../../src/testing/index.js';
import { bundleWorker } from '../../support/bundle-worker.js';
import type { AppendArgs, AppendResult } from './audit-worker.js';

const WORKER = fileURLToPath(new URL('./audit-worker.ts', import.meta.url));

/** Runs `processes` appender processes with `args`; returns what each committed and rolled back. */
export async function runAppenders(processes: number, args: AppendArgs): Promise<AppendResult[]> {
  const worker = await bundleWorker(WORKER, 'flowproof-audit-proofs');
  try {
    const results = await runInProcesses<AppendResult, AppendArgs>({
      module: worker,
      exportName: 'appendWorker',
      count: processes,
      args,
      timeoutMs: 120_000,
    });
    return results.map((result) => {
      if (result.status !== 'fulfilled') {
        throw new Error(`appender ${result.index} failed: ${JSON.stringify(result)}`);
      }
      return result.value;
    });
  } finally {
    rmSync(dirname(worker), { recursive: true, force: true });
  }
}

/** Every record of `chain`, in sequence order. */
export async function readWholeChain(store: AuditStore, chain: string): Promise<AuditRow[]> {
  const rows: AuditRow[] = [];
  for (;;) {
    const page = await store.readChain({ chain, afterSeq: rows.at(-1)?.seq ?? 0, limit: 1000 });
    rows.push(...page);
    if (page.length < 1000) return rows;
  }
}

/**
 * Checks that `chain` of `store` holds exactly the records `results` committed, numbered 1..N,
 * none of those rolled back, and verifies; returns N.
 */
export async function expectIntactChain(
  store: AuditStore,
  chain: string,
  results: readonly AppendResult[],
): Promise<number> {
  const committed = results.flatMap((r) => r.committed).sort((a, b) => a - b);
  const n = committed.length;
  expect(committed).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  const rows = await readWholeChain(store, chain);
  expect(rows.map((r) => r.seq)).toEqual(committed);
  expect((await store.heads(chain))[0]?.seq).toBe(n);
  const stored = new Set(
    rows.map((r) => (JSON.parse(r.body) as { metadata: { i: number } }).metadata.i),
  );
  const rolledBack = results.flatMap((r) => r.rolledBack);
  expect(rolledBack.filter((i) => stored.has(i))).toEqual([]);
  const verification = await createAuditLog({ store }).verify({ chain, from: 'start' });
  expect(verification.chains[0]).toMatchObject({ ok: true, records: n, throughSeq: n });
  return n;
}
