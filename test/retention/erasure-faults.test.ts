/**
 * Handler faults and changes of the data map across retention instances, on a SQLite file and on
 * PostgreSQL (each instance its own connection to the same stores, as two processes would be):
 * a transient failure retried with backoff (one receipt); a permanent one leaving the location
 * `failed` and the request open until `retryErasure` from another instance after the fix; a
 * verification that keeps finding data (`RETENTION_DATA_REMAINS`, then `failed`); a location
 * added to the map by a newer instance (erased, its own receipt) or removed from it
 * (`unsupported`, request `partial`); two instances driving one request at once (one receipt per
 * location). The memory-store versions of some of these are in src/retention/create-retention.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { createRetention, type Retention } from '../../src/retention/create-retention.js';
import { createDataMap, type DataLocation } from '../../src/retention/data-map.js';
import type { ErasureReport } from '../../src/retention/erasure-records.js';
import { RETENTION_AUDIT_ACTIONS } from '../../src/retention/retention-audit.js';
import { postgresUrl } from '../support/services.js';
import { type OpenedStores, openStores, type StoreTarget } from './fixtures/erasure-world.js';

const MIN_TIMEOUT = 20;
const RETRY = { retries: 2, minTimeout: MIN_TIMEOUT, maxTimeout: 40, randomize: false } as const;
const SUBJECT = 'user-1';
const OTHER = 'user-2';

/** A downstream service holding the subjects' data per location, with faults to inject. */
function downstream(names: readonly string[]) {
  const data = new Map(names.map((name) => [name, new Set([SUBJECT, OTHER])]));
  const attempts = new Map<string, number[]>();
  const faults = {
    /** Failures left before a location's handler works. */
    failures: new Map<string, number>(),
    /** Locations whose handler always fails. */
    broken: new Set<string>(),
    /** Locations whose verification always finds something left. */
    remains: new Set<string>(),
  };
  const location = (name: string, after: readonly string[] = []): DataLocation => ({
    name,
    kind: 'external-service',
    action: 'delete',
    after,
    erase: ({ subject }) => {
      attempts.set(name, [...(attempts.get(name) ?? []), performance.now()]);
      if (faults.broken.has(name)) throw new Error(`${name} is down`);
      const left = faults.failures.get(name) ?? 0;
      if (left > 0) {
        faults.failures.set(name, left - 1);
        throw new Error(`${name} timed out`);
      }
      return { affected: data.get(name)?.delete(subject) ? 1 : 0 };
    },
    verify: ({ subject }) => (faults.remains.has(name) || data.get(name)?.has(subject) ? 1 : 0),
  });
  return { data, attempts, faults, location };
}

type Downstream = ReturnType<typeof downstream>;

/** The map a → b → c (each after the one before), plus `extra` locations. */
function chainMap(service: Downstream, extra: readonly string[] = []) {
  return createDataMap([
    service.location('a'),
    service.location('b', ['a']),
    service.location('c', ['b']),
    ...extra.map((name) => service.location(name)),
  ]);
}

interface Engine {
  readonly name: string;
  /** A fresh place for one test's stores. */
  target(): StoreTarget;
}

const dirs: string[] = [];
const schemas: string[] = [];
const url = postgresUrl();
afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  if (url && schemas.length > 0) {
    const admin = new pg.Pool({ connectionString: url, max: 1 });
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
});

const engines: Engine[] = [
  {
    name: 'SQLite file',
    target: () => {
      const dir = mkdtempSync(join(tmpdir(), 'flowproof-erasure-faults-'));
      dirs.push(dir);
      return { kind: 'sqlite', file: join(dir, 'retention.db') };
    },
  },
  ...(url
    ? [
        {
          name: 'PostgreSQL',
          target: (): StoreTarget => {
            const schema = `rfault_${process.pid}_${schemas.length}_${Date.now().toString(36)}`;
            schemas.push(schema);
            return { kind: 'postgres', url, schema };
          },
        },
      ]
    : []),
];

const opened: { retention: Retention; stores: OpenedStores }[] = [];
afterEach(async () => {
  for (const { retention, stores } of opened.splice(0)) {
    await retention.close();
    await stores.close();
  }
});

/** A retention instance with its own connection to `target` (another process, as far as the stores can tell). */
async function instance(
  target: StoreTarget,
  dataMap: ReturnType<typeof createDataMap>,
  grace = '0 days',
) {
  const stores = await openStores(target);
  const audit = createAuditLog({ store: stores.auditStore });
  const retention = createRetention({
    store: stores.store,
    audit,
    sagaStore: stores.sagaStore,
    dataMap,
    grace,
    retry: RETRY,
    pollIntervalMs: 50,
    leaseMs: 500,
  });
  opened.push({ retention, stores });
  return { retention, stores, audit };
}

/** Receipts and audit records per location: each must be exactly one; the chain must verify. */
async function receiptsOf(
  stores: OpenedStores,
  report: ErasureReport,
): Promise<Record<string, { outcome: string | undefined; auditRecords: number }>> {
  const audit = createAuditLog({ store: stores.auditStore });
  const records = (
    await audit.query({ action: RETENTION_AUDIT_ACTIONS.locationSettled, limit: 1000 })
  ).records;
  expect((await audit.verify()).ok).toBe(true);
  return Object.fromEntries(
    report.locations.map((l) => [
      l.location,
      {
        outcome: l.receipt?.outcome,
        auditRecords: records.filter(
          (r) => r.resource.id === report.id && r.metadata?.location === l.location,
        ).length,
      },
    ]),
  );
}

const one = (outcome: string) => ({ outcome, auditRecords: 1 });

/** Moves a request past its grace period (as the store's clock will, later). */
async function endGrace(stores: OpenedStores, requestId: string): Promise<void> {
  const row = await stores.store.getRequest(requestId);
  expect(
    await stores.store.updateRequest(requestId, row?.version ?? -1, { eraseAfter: 0 }),
  ).toBeDefined();
}

if (!url) {
  describe.skip('retention erasure faults (PostgreSQL) (skipped: PostgreSQL server not available)', () => {
    it('needs FLOWPROOF_TEST_POSTGRES_URL or a local PostgreSQL', () => {});
  });
}

for (const engine of engines) {
  describe(`retention erasure faults (${engine.name})`, () => {
    it('a transient failure is retried with backoff and ends with one receipt', async () => {
      const service = downstream(['a', 'b', 'c']);
      service.faults.failures.set('b', 2);
      const { retention, stores } = await instance(engine.target(), chainMap(service));
      const request = await retention.requestErasure(SUBJECT, { source: 'user_request' });
      const report = await retention.waitForErasure(request.id, { timeoutMs: 20_000 });
      expect(report.status).toBe('completed');
      expect(report.locations.find((l) => l.location === 'b')?.receipt).toMatchObject({
        outcome: 'erased',
        affected: 1,
        attempts: 3,
      });
      const times = service.attempts.get('b') ?? [];
      expect(times).toHaveLength(3);
      // p-retry waits minTimeout, then twice that (factor 2, capped by maxTimeout), between attempts.
      expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(MIN_TIMEOUT - 2);
      expect((times[2] ?? 0) - (times[1] ?? 0)).toBeGreaterThanOrEqual(MIN_TIMEOUT - 2);
      expect(await receiptsOf(stores, report)).toEqual({
        a: one('erased'),
        b: one('erased'),
        c: one('erased'),
      });
      expect([...(service.data.get('b') ?? [])]).toEqual([OTHER]);
    });

    it('a permanent failure leaves the location failed and the request open; retryErasure from another instance after the fix completes it', async () => {
      const target = engine.target();
      const service = downstream(['a', 'b', 'c']);
      service.faults.broken.add('b');
      const first = await instance(target, chainMap(service));
      const request = await first.retention.requestErasure(SUBJECT, { source: 'user_request' });
      const stuck = await first.retention.waitForErasure(request.id, { timeoutMs: 20_000 });
      expect(stuck.status).toBe('running');
      expect(stuck.locations.map((l) => [l.location, l.status])).toEqual([
        ['a', 'done'],
        ['b', 'failed'],
        ['c', 'pending'],
      ]);
      expect(stuck.locations[1]?.error).toMatchObject({
        code: 'RETENTION_LOCATION_FAILED',
        message: expect.stringMatching(/b is down/),
      });
      expect(service.attempts.get('b')).toHaveLength(RETRY.retries + 1);
      expect(service.attempts.get('c')).toBeUndefined();
      // Still open after another pass: nothing runs on its own.
      await first.retention.processErasures();
      expect((await first.retention.getErasure(request.id)).status).toBe('running');

      // The fix is deployed; another instance retries.
      service.faults.broken.delete('b');
      await first.retention.close();
      const second = await instance(target, chainMap(service));
      await second.retention.retryErasure(request.id);
      const done = await second.retention.waitForErasure(request.id, { timeoutMs: 20_000 });
      expect(done.status, JSON.stringify(done.locations)).toBe('completed');
      expect(await receiptsOf(second.stores, done)).toEqual({
        a: one('erased'),
        b: one('erased'),
        c: one('erased'),
      });
      expect(done.locations[1]?.error).toBeNull();
      expect([...(service.data.get('c') ?? [])]).toEqual([OTHER]);
    });

    it('a verification that keeps finding data fails the location with RETENTION_DATA_REMAINS', async () => {
      const service = downstream(['a', 'b', 'c']);
      service.faults.remains.add('b');
      const { retention } = await instance(engine.target(), chainMap(service));
      const request = await retention.requestErasure(SUBJECT, { source: 'user_request' });
      const report = await retention.waitForErasure(request.id, { timeoutMs: 20_000 });
      expect(report.status).toBe('running');
      const b = report.locations.find((l) => l.location === 'b');
      expect(b).toMatchObject({
        status: 'failed',
        receipt: null,
        error: { code: 'RETENTION_DATA_REMAINS' },
      });
      expect(service.attempts.get('b')).toHaveLength(RETRY.retries + 1);
      expect(report.locations.find((l) => l.location === 'c')?.status).toBe('pending');
    });

    it('a location added to the map by a newer instance is resolved and erased with its own receipt', async () => {
      const target = engine.target();
      const service = downstream(['a', 'b', 'c', 'cache']);
      const older = await instance(target, chainMap(service), '30 days');
      const request = await older.retention.requestErasure(SUBJECT, { source: 'user_request' });
      expect((await older.stores.store.locations(request.id)).map((l) => l.location)).toEqual([
        'a',
        'b',
        'c',
      ]);
      await older.retention.close();
      const newer = await instance(target, chainMap(service, ['cache']));
      await endGrace(newer.stores, request.id);
      const report = await newer.retention.waitForErasure(request.id, { timeoutMs: 20_000 });
      expect(report.status).toBe('completed');
      expect(await receiptsOf(newer.stores, report)).toEqual({
        a: one('erased'),
        b: one('erased'),
        c: one('erased'),
        cache: one('erased'),
      });
      expect([...(service.data.get('cache') ?? [])]).toEqual([OTHER]);
    });

    it('a location removed from the map gets an honest unsupported receipt; the request ends partial', async () => {
      const target = engine.target();
      const service = downstream(['a', 'b', 'c', 'legacy']);
      const older = await instance(target, chainMap(service, ['legacy']), '30 days');
      const request = await older.retention.requestErasure(SUBJECT, { source: 'user_request' });
      await older.retention.close();
      const newer = await instance(target, chainMap(service));
      await endGrace(newer.stores, request.id);
      const report = await newer.retention.waitForErasure(request.id, { timeoutMs: 20_000 });
      expect(report.status).toBe('partial');
      expect(await receiptsOf(newer.stores, report)).toEqual({
        a: one('erased'),
        b: one('erased'),
        c: one('erased'),
        legacy: one('unsupported'),
      });
      expect(report.locations.find((l) => l.location === 'legacy')?.receipt?.reason).toMatch(
        /left the data map/,
      );
      // Nothing claims it was erased: the data is still there.
      expect(service.data.get('legacy')?.has(SUBJECT)).toBe(true);
    });

    it('two instances driving one request at once write one receipt per location', async () => {
      const target = engine.target();
      const service = downstream(['a', 'b', 'c', 'd', 'e']);
      const map = () => chainMap(service, ['d', 'e']);
      const x = await instance(target, map());
      const y = await instance(target, map());
      const request = await x.retention.requestErasure(SUBJECT, { source: 'user_request' });
      x.retention.start();
      y.retention.start();
      const [fromX, fromY] = await Promise.all([
        x.retention.waitForErasure(request.id, { timeoutMs: 20_000 }),
        y.retention.waitForErasure(request.id, { timeoutMs: 20_000 }),
        x.retention.processErasures(),
        y.retention.processErasures(),
      ]);
      expect(fromX?.status).toBe('completed');
      expect(fromY?.status).toBe('completed');
      expect(await receiptsOf(x.stores, fromX as ErasureReport)).toEqual({
        a: one('erased'),
        b: one('erased'),
        c: one('erased'),
        d: one('erased'),
        e: one('erased'),
      });
      const audit = createAuditLog({ store: x.stores.auditStore });
      const finished = await audit.query({ action: RETENTION_AUDIT_ACTIONS.finished });
      expect(finished.records).toHaveLength(1);
      for (const name of ['a', 'b', 'c', 'd', 'e']) {
        expect(service.data.get(name)?.has(SUBJECT)).toBe(false);
        expect(service.data.get(name)?.has(OTHER)).toBe(true);
      }
    });
  });
}
