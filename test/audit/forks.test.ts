/**
 * No forks: 64 concurrent appenders on one chain — 4 processes × 16 concurrent `audit.record`
 * loops — on PostgreSQL and on a SQLite file. The chain holds records 1..N without gaps or
 * repeats, N the number appended, and verifies from its start.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { postgresUrl } from '../support/services.js';
import { expectIntactChain, runAppenders } from './support/audit-processes.js';
import {
  openPostgresProofStore,
  openSqliteProofStore,
  proofSchema,
} from './support/audit-proof-world.js';

const PROCESSES = 4;
const LOOPS = 16;
const PER_LOOP = Number(process.env.AUDIT_PROOF_SCALE ?? 1) * 20;
const TOTAL = PROCESSES * LOOPS * PER_LOOP;
const plan = { loops: LOOPS, perLoop: PER_LOOP, rollbackEvery: 0, holdMs: 0 };
const title = `${PROCESSES} processes × ${LOOPS} concurrent appenders, ${TOTAL} records: one chain 1..${TOTAL}, verified`;

describe('audit: concurrent appenders never fork a chain', () => {
  const url = postgresUrl();
  it.skipIf(!url)(
    `PostgreSQL: ${title}`,
    async () => {
      const schema = proofSchema('forks');
      const proof = await openPostgresProofStore(url as string, schema, 2);
      try {
        const started = Date.now();
        const results = await runAppenders(PROCESSES, {
          ...plan,
          target: { backend: 'postgres', url: url as string, schema },
        });
        console.log(
          `audit forks proof (PostgreSQL): ${TOTAL} records in ${Date.now() - started} ms`,
        );
        expect(await expectIntactChain(proof.store, 'global', results)).toBe(TOTAL);
      } finally {
        await proof.dispose();
      }
    },
    180_000,
  );

  it(`SQLite (a file shared by the processes): ${title}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowproof-audit-forks-'));
    const file = join(dir, 'audit.db');
    const proof = await openSqliteProofStore(file);
    try {
      const started = Date.now();
      const results = await runAppenders(PROCESSES, {
        ...plan,
        target: { backend: 'sqlite', file },
      });
      console.log(`audit forks proof (SQLite): ${TOTAL} records in ${Date.now() - started} ms`);
      expect(await expectIntactChain(proof.store, 'global', results)).toBe(TOTAL);
    } finally {
      await proof.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
