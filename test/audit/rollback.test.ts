/**
 * Rollback: records written with `{ transaction }` inside a transaction that rolls back leave no
 * row and no gap, on PostgreSQL and on SQLite — alone, and while other processes append to the
 * same chain (4 processes × 4 concurrent loops, every third record rolled back after holding its
 * transaction open a while). The chain holds exactly the committed records, numbered 1..N, and
 * verifies.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AuditStore } from '../../src/audit/index.js';
import { createAuditLog } from '../../src/audit/index.js';
import type { StorageBackend } from '../../src/core/storage-backend.js';
import { postgresUrl } from '../support/services.js';
import { expectIntactChain, readWholeChain, runAppenders } from './support/audit-processes.js';
import {
  openPostgresProofStore,
  openSqliteProofStore,
  type ProofStore,
  proofEntry,
  proofSchema,
} from './support/audit-proof-world.js';
import type { AppendTarget } from './support/audit-worker.js';

const plan = { loops: 4, perLoop: 30, rollbackEvery: 3, holdMs: 10 };

class Rollback extends Error {}

/** A business write and records (one, then a batch) in one transaction that rolls back. */
async function rolledBackTransaction(proof: ProofStore, table: string, id: string) {
  const store = proof.store as AuditStore<StorageBackend>;
  const audit = createAuditLog({ store });
  const backend = store.backend as StorageBackend & {
    execute(sql: string, params?: readonly unknown[]): Promise<number>;
  };
  const p = store.kind === 'postgres' ? '$1' : '?';
  await backend
    .transaction(async (tx) => {
      await (tx as typeof backend).execute(`INSERT INTO ${table} (id) VALUES (${p})`, [id]);
      await audit.record(proofEntry(-1), { transaction: tx });
      await audit.recordMany([proofEntry(-2), proofEntry(-3)], { transaction: tx });
      throw new Rollback();
    })
    .catch((error: unknown) => {
      if (!(error instanceof Rollback)) throw error;
    });
}

async function expectRollbackLeavesNothing(
  proof: ProofStore,
  table: string,
  count: () => Promise<number>,
) {
  const audit = createAuditLog({ store: proof.store });
  expect((await audit.record(proofEntry(1))).seq).toBe(1);
  await rolledBackTransaction(proof, table, 'doomed');
  expect(await count()).toBe(0);
  expect((await readWholeChain(proof.store, 'global')).map((r) => r.seq)).toEqual([1]);
  expect((await proof.store.heads('global'))[0]?.seq).toBe(1);
  const next = await audit.record(proofEntry(2));
  expect(next.seq).toBe(2);
  expect((await audit.verify({ from: 'start' })).ok).toBe(true);
}

async function concurrentRollbacks(proof: ProofStore, target: AppendTarget) {
  const results = await runAppenders(4, { ...plan, target });
  const n = await expectIntactChain(proof.store, 'global', results);
  const rolledBack = results.flatMap((r) => r.rolledBack).length;
  expect(rolledBack).toBe(4 * plan.loops * (plan.perLoop / plan.rollbackEvery));
  expect(n).toBe(4 * plan.loops * plan.perLoop - rolledBack);
}

describe('audit: a rolled-back transaction leaves no record and no gap', () => {
  const url = postgresUrl();
  it.skipIf(!url)(
    'PostgreSQL: alone, then among concurrent appenders',
    async () => {
      const schema = proofSchema('rollback');
      const proof = await openPostgresProofStore(url as string, schema, 4);
      const table = proof.backend.table('proof_business');
      try {
        await proof.backend.execute(`CREATE TABLE ${table} (id text PRIMARY KEY)`);
        await expectRollbackLeavesNothing(proof, table, async () => {
          const [row] = await proof.backend.query<{ n: string }>(
            `SELECT count(*) AS n FROM ${table}`,
          );
          return Number(row?.n);
        });
      } finally {
        await proof.dispose();
      }
      const fresh = proofSchema('rollback_many');
      const many = await openPostgresProofStore(url as string, fresh, 2);
      try {
        await concurrentRollbacks(many, { backend: 'postgres', url: url as string, schema: fresh });
      } finally {
        await many.dispose();
      }
    },
    120_000,
  );

  it('SQLite: alone, then among concurrent appenders (processes sharing a file)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowproof-audit-rollback-'));
    try {
      const proof = await openSqliteProofStore(join(dir, 'alone.db'));
      const backend = proof.store.backend as StorageBackend & {
        table(name: string): string;
        execute(sql: string): Promise<number>;
        query<R>(sql: string): Promise<R[]>;
      };
      const table = backend.table('proof_business');
      try {
        await backend.execute(`CREATE TABLE ${table} (id TEXT PRIMARY KEY)`);
        await expectRollbackLeavesNothing(proof, table, async () => {
          const [row] = await backend.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}`);
          return Number(row?.n);
        });
      } finally {
        await proof.dispose();
      }
      const file = join(dir, 'many.db');
      const many = await openSqliteProofStore(file);
      try {
        await concurrentRollbacks(many, { backend: 'sqlite', file });
      } finally {
        await many.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
