/**
 * Audit: what a tamper-evident record costs, against the least a hash chain can cost.
 *
 * 1. **In-memory append**: `audit.record` on the memory store, one entry per call, against a
 *    naive chain that, per entry, stringifies it with recursively sorted keys
 *    (`JSON.stringify`) and hashes the previous hash and that text
 *    (`createHash('sha256').update(prev + json).digest('hex')`) into an array — the same entries;
 *    and the two halves of `record` alone: the log's entry check and canonical encoding, and the
 *    memory store's append of the result.
 * 2. **Verification rate**: `verify({ from: 'start' })` of a memory chain of
 *    {@link VERIFY_CHAIN} records, against the naive chain appending as many.
 * 3. **PostgreSQL append under contention**: {@link APPENDERS} concurrent `audit.record` calls on
 *    one chain (and spread over 8 chains), against as many concurrent raw `INSERT`s into a table
 *    of the same shape (`LIKE` the records table: same columns, generated columns and indexes,
 *    without the triggers), over pools of the same size; and one appender alone, whose rate is
 *    the append statement's own time, without waiting for the chain's head.
 * 4. **Full verification of {@link BIG_CHAIN} PostgreSQL records**: built with `recordMany` in
 *    batches of {@link BIG_BATCH}, then verified from the start in rounds; where the time goes
 *    is also measured (reading the pages alone, hashing alone).
 *
 * Servers: FLOWPROOF_BENCH_POSTGRES_URL when set, otherwise a throwaway server started with the
 * test suite's global setup (suites 3 and 4 are skipped without one).
 */
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createMemoryAuditStore, createMemoryBackend } from '../src/adapters/memory/index.js';
import { createPostgresAuditStore, createPostgresBackend } from '../src/adapters/postgres/index.js';
import type { AuditChanges } from '../src/audit/audit-entry.js';
import { checkEntry, encodeContent } from '../src/audit/audit-entry.js';
import {
  type AuditAppend,
  type AuditEntry,
  type AuditLog,
  type AuditStore,
  auditRecordBody,
  auditRecordHash,
  createAuditLog,
} from '../src/audit/index.js';
import { benchServices, closeAll } from './bench-services.js';
import { type BenchSuite, defineSuite, inFlight, median } from './harness.js';

/** Entries per call in the in-memory suites. */
const BATCH = 100;
/** Records of the memory chain verified per call. */
const VERIFY_CHAIN = 10_000;
/** Concurrent appenders on PostgreSQL. */
const APPENDERS = 64;
/** Pool size of every PostgreSQL contender. */
const POOL_SIZE = 32;
/** Records of the big PostgreSQL chain. */
const BIG_CHAIN = Number(process.env.AUDIT_BENCH_RECORDS ?? 1_000_000);
/** Entries per `recordMany` call when building it. */
const BIG_BATCH = 10_000;
/** Timed verifications of the big chain. */
const BIG_ROUNDS = 2;

type Closers = (() => Promise<unknown> | unknown)[];

/** Entry `i`: what an application records when it updates a user. */
function entry(i: number, chain = 'global'): AuditEntry {
  return {
    action: 'user.updated',
    actor: { id: `admin-${i % 7}`, type: 'user', ip: '10.0.0.1' },
    resource: { type: 'user', id: `u-${i % 1000}` },
    changes: {
      email: { before: `a${i}@example.com`, after: `b${i}@example.com` },
      'address.city': { before: 'Oslo', after: 'Bergen' },
    },
    reason: 'customer request',
    metadata: { chain, request: `req-${i}` },
  };
}

/** JSON with the keys of every object sorted, the naive way. */
function sortedJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
}

/** The naive chain: sorted JSON, SHA-256 over the previous hash and it, pushed to an array. */
function naiveChain() {
  const chain: { json: string; hash: string }[] = [];
  let prev = '0'.repeat(64);
  return {
    chain,
    append(value: unknown) {
      const json = sortedJson(value);
      prev = createHash('sha256')
        .update(prev + json)
        .digest('hex');
      chain.push({ json, hash: prev });
    },
  };
}

/** A fresh, migrated memory store (which keeps every record: the suites renew it). */
async function memoryStore(): Promise<AuditStore> {
  const store = createMemoryAuditStore({ backend: createMemoryBackend() });
  await store.migrate();
  return store;
}

/** An audit log over a fresh memory store. */
async function memoryAuditLog(): Promise<AuditLog<unknown>> {
  return createAuditLog({ store: await memoryStore() });
}

/** What the audit log hands the store for `value`: its canonical content and index fields. */
function appendOf(value: AuditEntry): AuditAppend {
  const base = checkEntry(value, 'entry', undefined, undefined);
  const content = { ...base, changes: (value.changes ?? null) as AuditChanges | null };
  return {
    chain: 'global',
    content: encodeContent(content, 'entry'),
    action: base.action,
    actorId: base.actor?.id ?? null,
    resourceType: base.resource.type,
    resourceId: base.resource.id,
    correlationId: null,
  };
}

async function memorySuites(): Promise<BenchSuite[]> {
  const entries = Array.from({ length: VERIFY_CHAIN }, (_, i) => entry(i));
  let audit = await memoryAuditLog();
  let store = await memoryStore();
  const appends = entries.map(appendOf);
  let naive = naiveChain();
  let n = 0;
  const append = defineSuite({
    name: `audit: in-memory append, ${BATCH} entries one at a time`,
    unit: 'records',
    opsPerCall: BATCH,
    baseline: 'naive chain (sorted JSON.stringify + sha256, pushed to an array)',
    time: 4_000,
    tasks: [
      {
        name: 'naive chain (sorted JSON.stringify + sha256, pushed to an array)',
        fn: async () => {
          if (naive.chain.length > 200_000) naive = naiveChain();
          for (let i = 0; i < BATCH; i++) naive.append(entries[(n + i) % VERIFY_CHAIN]);
          n += BATCH;
        },
      },
      {
        name: 'audit.record (memory store)',
        fn: async () => {
          if (n % 200_000 < BATCH) audit = await memoryAuditLog();
          for (let i = 0; i < BATCH; i++) {
            await audit.record(entries[(n + i) % VERIFY_CHAIN] as AuditEntry);
          }
          n += BATCH;
        },
      },
      // Where the time goes: the log's half and the store's half, each alone.
      {
        name: 'part: entry check + canonical encoding alone',
        fn: async () => {
          for (let i = 0; i < BATCH; i++) appendOf(entries[(n + i) % VERIFY_CHAIN] as AuditEntry);
          n += BATCH;
        },
      },
      {
        name: 'part: memory store append alone (prebuilt content)',
        fn: async () => {
          if (n % 200_000 < BATCH) store = await memoryStore();
          for (let i = 0; i < BATCH; i++) {
            await store.append([appends[(n + i) % VERIFY_CHAIN] as AuditAppend]);
          }
          n += BATCH;
        },
      },
    ],
  });

  let verified: AuditLog<unknown> | undefined;
  const verify = defineSuite({
    name: `audit: verification of a ${VERIFY_CHAIN.toLocaleString('en-US')}-record memory chain vs the naive chain appending as many`,
    unit: 'records',
    opsPerCall: VERIFY_CHAIN,
    baseline: 'naive chain: append',
    time: 4_000,
    minIterations: 8,
    setup: async () => {
      verified = await memoryAuditLog();
      for (let i = 0; i < VERIFY_CHAIN; i += 1000) {
        await verified.recordMany(entries.slice(i, i + 1000));
      }
    },
    tasks: [
      {
        name: 'naive chain: append',
        fn: async () => {
          const chain = naiveChain();
          for (const value of entries) chain.append(value);
        },
      },
      {
        name: "audit.verify({ from: 'start' })",
        fn: async () => {
          const result = await (verified as AuditLog<unknown>).verify({ from: 'start' });
          if (!result.ok) throw new Error('the bench chain does not verify');
        },
      },
    ],
  });
  return [append, verify];
}

/** Opens the audit store of a fresh schema over a pool of {@link POOL_SIZE}. */
async function openPostgres(url: string, schema: string, closers: Closers) {
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  pool.on('error', () => {}); // idle clients see the server stop at teardown
  closers.push(() => pool.end());
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  const backend = createPostgresBackend({ client: pool, schema });
  const store = createPostgresAuditStore({ backend });
  await store.migrate();
  return { pool, backend, store };
}

async function postgresAppendSuite(url: string, closers: Closers): Promise<BenchSuite> {
  const { backend, store } = await openPostgres(url, `bench_audit_${process.pid}`, closers);
  const rawPool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  rawPool.on('error', () => {});
  closers.push(() => rawPool.end());
  const records = backend.table('audit_records');
  const raw = backend.table('raw_records');
  await backend.execute(`CREATE TABLE ${raw} (LIKE ${records} INCLUDING ALL)`);
  const one = createAuditLog({ store });
  let n = 0;
  const eight = createAuditLog({
    store,
    chain: (e) => `chain-${Number((e.metadata as { i: number }).i) % 8}`,
  });
  // The raw rows: what the audit log would store, without the chain (a counter for seq, a random
  // hash).
  const content =
    '"action":"user.updated","actor":{"id":"admin-1","ip":"10.0.0.1","type":"user"},"changes":{"address.city":{"after":"Bergen","before":"Oslo"},"email":{"after":"b1@example.com","before":"a1@example.com"}},"reason":"customer request","resource":{"id":"u-1","type":"user"},"result":{"status":"success"}';
  const insert = `INSERT INTO ${raw} (chain, seq, recorded_at, body, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)`;
  const hash = randomBytes(32).toString('hex');
  return defineSuite({
    name: `audit: PostgreSQL append, ${APPENDERS} concurrent appenders (pools of ${POOL_SIZE})`,
    unit: 'records',
    opsPerCall: APPENDERS,
    baseline: `raw INSERT into a table of the same shape, ${APPENDERS} concurrent`,
    time: 6_000,
    minIterations: 16,
    tasks: [
      {
        name: `raw INSERT into a table of the same shape, ${APPENDERS} concurrent`,
        fn: inFlight(APPENDERS, () => {
          n += 1;
          const at = Date.now();
          return rawPool.query(insert, [
            'global',
            n,
            at,
            auditRecordBody('global', n, at, content),
            hash,
            hash,
          ]);
        }),
      },
      {
        name: 'audit.record, one chain',
        fn: inFlight(APPENDERS, () => {
          n += 1;
          return one.record(entry(n));
        }),
      },
      {
        name: 'audit.record, one chain, one appender (64 in a row: the statement time alone)',
        fn: async () => {
          for (let i = 0; i < APPENDERS; i++) {
            n += 1;
            await one.record(entry(n));
          }
        },
      },
      {
        name: 'audit.record, 8 chains',
        fn: inFlight(APPENDERS, () => {
          n += 1;
          return eight.record({ ...entry(n), metadata: { i: n } });
        }),
      },
    ],
  });
}

/** Builds the big chain, then times verification and its parts; prints a table. */
async function bigChainVerification(url: string, closers: Closers): Promise<void> {
  const { backend, store } = await openPostgres(url, `bench_audit_big_${process.pid}`, closers);
  const audit = createAuditLog({ store });
  const built = performance.now();
  for (let i = 0; i < BIG_CHAIN; i += BIG_BATCH) {
    await audit.recordMany(
      Array.from({ length: Math.min(BIG_BATCH, BIG_CHAIN - i) }, (_, j) => entry(i + j)),
    );
  }
  const buildSeconds = (performance.now() - built) / 1000;
  await backend.execute(`VACUUM ANALYZE ${backend.table('audit_records')}`);
  const verifySeconds: number[] = [];
  const readSeconds: number[] = [];
  const hashSeconds: number[] = [];
  for (let round = 0; round < BIG_ROUNDS; round++) {
    let started = performance.now();
    const result = await audit.verify({ from: 'start' });
    verifySeconds.push((performance.now() - started) / 1000);
    if (!result.ok || result.chains[0]?.records !== BIG_CHAIN) {
      throw new Error(`the big chain did not verify: ${JSON.stringify(result.chains[0])}`);
    }
    // Reading alone: the pages verification reads.
    started = performance.now();
    const bodies: { prevHash: string; body: string }[] = [];
    let after = 0;
    for (;;) {
      const page = await store.readChain({ chain: 'global', afterSeq: after, limit: 1000 });
      for (const row of page) bodies.push({ prevHash: row.prevHash, body: row.body });
      if (page.length < 1000) break;
      after = (page.at(-1) as { seq: number }).seq;
    }
    readSeconds.push((performance.now() - started) / 1000);
    // Hashing alone.
    started = performance.now();
    for (const { prevHash, body } of bodies) auditRecordHash(prevHash, body);
    hashSeconds.push((performance.now() - started) / 1000);
  }
  const row = (task: string, seconds: number[]) =>
    `| ${task} | ${median(seconds).toFixed(2)} | ${Math.round(BIG_CHAIN / median(seconds)).toLocaleString('en-US')} | ${Math.min(...seconds).toFixed(2)}–${Math.max(...seconds).toFixed(2)} |`;
  console.log(
    `\n### audit: full verification of ${BIG_CHAIN.toLocaleString('en-US')} PostgreSQL records\n`,
  );
  console.log(`built with recordMany in batches of ${BIG_BATCH}: ${buildSeconds.toFixed(1)} s\n`);
  console.log(`| task | seconds | records/s | range over ${BIG_ROUNDS} rounds |`);
  console.log('| --- | ---: | ---: | ---: |');
  console.log(row("audit.verify({ from: 'start' })", verifySeconds));
  console.log(row('reading the pages alone (readChain, 1,000 a page)', readSeconds));
  console.log(row('hashing alone (auditRecordHash)', hashSeconds));
}

export default async function suites(): Promise<BenchSuite[]> {
  const closers: Closers = [];
  const out = await memorySuites();
  try {
    const services = await benchServices();
    closers.push(services.stop);
    if (!services.postgresUrl) {
      console.log('\n(skipped the PostgreSQL audit benchmarks: no PostgreSQL binaries)');
      await closeAll(closers);
      return out;
    }
    const url = services.postgresUrl;
    const append = await postgresAppendSuite(url, closers);
    out.push({
      ...append,
      teardown: async () => {
        try {
          await bigChainVerification(url, closers);
        } finally {
          await closeAll(closers);
        }
      },
    });
    return out;
  } catch (error) {
    await closeAll(closers);
    throw error;
  }
}
