import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMemoryAuditStore,
  createMemoryBackend,
  createMemoryRetentionStore,
  createMemorySagaStore,
} from '../adapters/memory/index.js';
import { createSqliteBackend, createSqliteTableSweeper } from '../adapters/sqlite/index.js';
import { createAuditLog } from '../audit/audit-log.js';
import { createManualClock } from '../core/clock.js';
import { isFlowproofError } from '../core/errors.js';
import { createRetention, type Retention, type RetentionOptions } from './create-retention.js';
import { createDataMap, type DataLocation } from './data-map.js';
import { definePolicies } from './retention-policies.js';

/** The application's own data: a real SQLite database and a fake payment provider. */
function application() {
  const db = new Database(':memory:');
  db.exec(`
    CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT, login_enabled INTEGER DEFAULT 1);
    CREATE TABLE sessions (id INTEGER PRIMARY KEY, user_id TEXT);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id TEXT, user_email TEXT, amount INTEGER);
  `);
  const addUser = (id: string) => {
    db.prepare('INSERT INTO users (id, email) VALUES (?, ?)').run(id, `${id}@example.com`);
    db.prepare('INSERT INTO sessions (user_id) VALUES (?), (?)').run(id, id);
    db.prepare('INSERT INTO orders (user_id, user_email, amount) VALUES (?, ?, 100)').run(
      id,
      `${id}@example.com`,
    );
  };
  const stripe = new Map<string, string>(); // customer id -> user id
  const count = (sql: string, ...args: unknown[]) =>
    (db.prepare(sql).get(...args) as { n: number }).n;
  return { db, addUser, stripe, count };
}

type App = ReturnType<typeof application>;

/** The data map of the application, with hooks to make handlers fail. */
function dataMapOf(app: App, faults: { stripeFailures?: number; order?: string[] } = {}) {
  let stripeFailures = faults.stripeFailures ?? 0;
  const order = faults.order ?? [];
  const locations: DataLocation[] = [
    {
      name: 'sessions',
      kind: 'sql-table',
      label: 'sessions table',
      dataType: 'session_logs',
      action: 'delete',
      erase: ({ subject }) => {
        order.push('sessions');
        return {
          affected: app.db.prepare('DELETE FROM sessions WHERE user_id = ?').run(subject).changes,
        };
      },
      verify: ({ subject }) =>
        app.count('SELECT count(*) n FROM sessions WHERE user_id = ?', subject),
    },
    {
      name: 'stripe',
      kind: 'external-service',
      label: 'Stripe: customer record',
      action: 'delete',
      resolve: (subject) => [...app.stripe].filter(([, user]) => user === subject).map(([c]) => c),
      erase: ({ identifiers }) => {
        order.push('stripe');
        if (stripeFailures > 0) {
          stripeFailures--;
          throw new Error('stripe is down');
        }
        let n = 0;
        for (const customer of identifiers as string[]) n += app.stripe.delete(customer) ? 1 : 0;
        return { affected: n };
      },
    },
    {
      name: 'orders',
      kind: 'sql-table',
      group: 'Orders Database',
      label: 'orders table',
      dataType: 'order_history',
      action: 'anonymize',
      fields: ['user_email'],
      after: ['stripe'],
      erase: ({ subject }) => {
        order.push('orders');
        return {
          affected: app.db
            .prepare("UPDATE orders SET user_email = '[deleted]' WHERE user_id = ?")
            .run(subject).changes,
        };
      },
      verify: ({ subject }) =>
        app.count(
          "SELECT count(*) n FROM orders WHERE user_id = ? AND user_email <> '[deleted]'",
          subject,
        ),
    },
    {
      name: 'audit-log',
      kind: 'logs',
      label: 'Audit log',
      dataType: 'audit_logs',
      action: 'retain',
      reason: 'kept 7 years for compliance; personal values are crypto-shredded',
    },
    {
      name: 'backups',
      kind: 'backups',
      label: 'Database backups',
      action: 'delete',
      unsupported: 'backups cannot forget one person; erasures are re-applied after a restore',
    },
    {
      name: 'users',
      kind: 'sql-table',
      label: 'users table',
      action: 'delete',
      after: ['sessions', 'orders', 'stripe'],
      erase: ({ subject }) => {
        order.push('users');
        return { affected: app.db.prepare('DELETE FROM users WHERE id = ?').run(subject).changes };
      },
      verify: ({ subject }) => app.count('SELECT count(*) n FROM users WHERE id = ?', subject),
    },
  ];
  return { map: createDataMap(locations), order };
}

const POLICIES = definePolicies({
  session_logs: { delete_after: '90 days' },
  order_history: { keep: '7 years', anonymize_after: '2 years' },
  audit_logs: { keep: '7 years', cannot_delete: true },
  marketing_consent: { keep: 'indefinite', delete_on_consent_withdrawal: true },
});

const open: Retention[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
});

async function retentionFor(
  app: App,
  overrides: Partial<RetentionOptions> = {},
  clock = undefined as ReturnType<typeof createManualClock> | undefined,
) {
  const backend = createMemoryBackend(clock === undefined ? {} : { clock });
  const store = createMemoryRetentionStore({ backend });
  const auditStore = createMemoryAuditStore({ backend });
  await store.migrate();
  await auditStore.migrate();
  const audit = createAuditLog({ store: auditStore });
  const sagaStore = createMemorySagaStore({ backend: createMemoryBackend() });
  await sagaStore.migrate();
  const disabled: string[] = [];
  const restored: string[] = [];
  const retention = createRetention({
    store,
    audit,
    sagaStore,
    dataMap: dataMapOf(app).map,
    policies: POLICIES,
    grace: '0 days',
    retry: { retries: 3, minTimeout: 1, maxTimeout: 5, randomize: false },
    hooks: {
      disable: (subject) => {
        disabled.push(subject);
        app.db.prepare('UPDATE users SET login_enabled = 0 WHERE id = ?').run(subject);
      },
      restore: (subject) => {
        restored.push(subject);
        app.db.prepare('UPDATE users SET login_enabled = 1 WHERE id = ?').run(subject);
      },
    },
    ...overrides,
  });
  open.push(retention);
  return { retention, store, audit, disabled, restored };
}

describe('the erasure flow', () => {
  it('erases every location in order, with one receipt each chained into the audit log', async () => {
    const app = application();
    app.addUser('u-1');
    app.addUser('u-2');
    app.stripe.set('cus_1', 'u-1');
    const { map, order } = dataMapOf(app);
    const { retention, audit, disabled } = await retentionFor(app, { dataMap: map });

    const request = await retention.requestErasure('u-1', {
      source: 'user_request',
      reason: 'ticket 4411',
    });
    expect(disabled).toEqual(['u-1']);
    expect(app.count('SELECT login_enabled n FROM users WHERE id = ?', 'u-1')).toBe(0);
    expect(request.status).toBe('pending');

    const report = await retention.waitForErasure(request.id, { timeoutMs: 10_000 });
    expect(report.status).toBe('partial'); // the backups cannot forget
    const receipts = Object.fromEntries(report.locations.map((l) => [l.location, l.receipt]));
    expect(receipts.sessions).toMatchObject({ outcome: 'erased', affected: 2, verified: true });
    expect(receipts.stripe).toMatchObject({ outcome: 'erased', affected: 1 });
    expect(receipts.orders).toMatchObject({ outcome: 'anonymized', affected: 1, verified: true });
    expect(receipts['audit-log']).toMatchObject({ outcome: 'retained' });
    expect(receipts.backups).toMatchObject({
      outcome: 'unsupported',
      reason: expect.stringMatching(/backups/),
    });
    expect(receipts.users).toMatchObject({ outcome: 'erased', affected: 1, verified: true });
    // `after` is honoured: stripe before orders; users last.
    expect(order.indexOf('stripe')).toBeLessThan(order.indexOf('orders'));
    expect(order.at(-1)).toBe('users');
    // The other subject is untouched.
    expect(app.count('SELECT count(*) n FROM sessions WHERE user_id = ?', 'u-2')).toBe(2);
    // Receipts are audit records; the chain verifies.
    const settled = await audit.query({ action: 'retention.erasure.location-settled' });
    expect(settled.records).toHaveLength(6);
    for (const location of report.locations) {
      const [, seq] = (location.receipt?.auditRecordId ?? '').split(':');
      expect(settled.records.some((r) => String(r.seq) === seq)).toBe(true);
    }
    expect((await audit.verify()).ok).toBe(true);
    // The identifiers are cleared once it ends.
    expect(report.locations.every((l) => l.status === 'done')).toBe(true);
  });

  it('a second request for the same subject returns the open one; a re-run writes no second receipt', async () => {
    const app = application();
    app.addUser('u-1');
    const { retention, audit } = await retentionFor(app, { grace: '30 days' });
    const first = await retention.requestErasure('u-1', { source: 'user_request' });
    const second = await retention.requestErasure('u-1', { source: 'support' });
    expect(second.id).toBe(first.id);
    expect((await audit.query({ action: 'retention.erasure.requested' })).records).toHaveLength(1);
  });

  it('a failing location is retried with backoff; one that fails for good is retried by retryErasure', async () => {
    const app = application();
    app.addUser('u-1');
    app.stripe.set('cus_1', 'u-1');
    const flaky = dataMapOf(app, { stripeFailures: 2 });
    const { retention } = await retentionFor(app, { dataMap: flaky.map });
    const request = await retention.requestErasure('u-1', { source: 'user_request' });
    const report = await retention.waitForErasure(request.id, { timeoutMs: 10_000 });
    expect(report.locations.find((l) => l.location === 'stripe')?.receipt).toMatchObject({
      outcome: 'erased',
      attempts: 3,
    });

    const app2 = application();
    app2.addUser('u-9');
    const broken = dataMapOf(app2, { stripeFailures: 100 });
    const { retention: r2 } = await retentionFor(app2, { dataMap: broken.map });
    const req2 = await r2.requestErasure('u-9', { source: 'user_request' });
    const stuck = await r2.waitForErasure(req2.id, { timeoutMs: 10_000 });
    expect(stuck.status).toBe('running');
    const stripe = stuck.locations.find((l) => l.location === 'stripe');
    expect(stripe?.status).toBe('failed');
    expect(stripe?.error?.code).toBe('RETENTION_LOCATION_FAILED');
    // orders run after stripe: not started; users neither.
    expect(stuck.locations.find((l) => l.location === 'orders')?.status).toBe('pending');
    expect(stuck.locations.find((l) => l.location === 'sessions')?.status).toBe('done');
  });

  it('cancel during the grace period restores the soft state; after it, it is refused', async () => {
    const app = application();
    app.addUser('u-1');
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const { retention, restored, audit } = await retentionFor(app, { grace: '30 days' }, clock);
    const request = await retention.requestErasure('u-1', { source: 'user_request' });
    expect(request.eraseAfter).toBe('2026-01-31T00:00:00.000Z');
    expect(request.dueAt).toBe('2026-02-01T00:00:00.000Z');
    const cancelled = await retention.cancelErasure(request.id, { reason: 'changed their mind' });
    expect(cancelled.status).toBe('cancelled');
    expect(restored).toEqual(['u-1']);
    expect(app.count('SELECT login_enabled n FROM users WHERE id = ?', 'u-1')).toBe(1);
    expect((await audit.query({ action: 'retention.erasure.cancelled' })).records).toHaveLength(1);

    const again = await retention.requestErasure('u-1', { source: 'user_request' });
    expect(again.id).not.toBe(request.id);
    clock.advance(31 * 24 * 3600_000);
    await expect(retention.cancelErasure(again.id, { reason: 'too late' })).rejects.toSatisfy((e) =>
      isFlowproofError(e, 'RETENTION_NOT_CANCELLABLE'),
    );
  });

  it('deadlines: due soon, overdue, extensions up to two months', async () => {
    const app = application();
    const clock = createManualClock('2026-01-31T12:00:00Z');
    const { retention } = await retentionFor(app, { grace: '30 days' }, clock);
    const request = await retention.requestErasure('u-1', { source: 'user_request' });
    expect(request.dueAt).toBe('2026-03-01T00:00:00.000Z'); // February has no 31st: the month's end
    expect((await retention.dueErasures({ within: '7 days' })).dueSoon).toHaveLength(0);
    clock.advance(25 * 24 * 3600_000);
    expect((await retention.dueErasures({ within: '7 days' })).dueSoon.map((r) => r.id)).toEqual([
      request.id,
    ]);
    const extended = await retention.extendDeadline(request.id, {
      by: '1 month',
      reason: 'complex request',
    });
    expect(extended.dueAt).toBe('2026-04-01T00:00:00.000Z');
    expect(extended.extensions).toHaveLength(1);
    await expect(
      retention.extendDeadline(request.id, { by: '2 months', reason: 'more' }),
    ).rejects.toSatisfy((e) => isFlowproofError(e, 'RETENTION_EXTENSION_REFUSED'));
    clock.advance(60 * 24 * 3600_000);
    expect((await retention.dueErasures()).overdue.map((r) => r.id)).toEqual([request.id]);
  });

  it('a legal hold stops the held locations until it is released; both are audited', async () => {
    const app = application();
    app.addUser('u-1');
    const { retention, audit } = await retentionFor(app);
    const hold = await retention.placeHold({
      subject: 'u-1',
      dataType: 'order_history',
      reason: 'case 12',
      owner: 'legal',
    });
    const request = await retention.requestErasure('u-1', { source: 'user_request' });
    const plan = await retention.planErasure('u-1');
    expect(plan.locations.find((l) => l.location === 'orders')?.heldBy).toEqual([hold.id]);
    const waiting = await retention.waitForErasure(request.id, { timeoutMs: 10_000 });
    expect(waiting.status).toBe('running');
    expect(waiting.locations.find((l) => l.location === 'orders')?.status).toBe('pending');
    expect(app.count("SELECT count(*) n FROM orders WHERE user_email <> '[deleted]'")).toBe(1);
    await retention.releaseHold(hold.id, { reason: 'case closed' });
    const done = await retention.waitForErasure(request.id, { timeoutMs: 10_000 });
    expect(done.status).toBe('partial');
    expect(app.count("SELECT count(*) n FROM orders WHERE user_email <> '[deleted]'")).toBe(0);
    expect((await audit.query({ action: 'retention.hold.placed' })).records).toHaveLength(1);
    expect((await audit.query({ action: 'retention.hold.released' })).records).toHaveLength(1);
  });

  it('a location added to the data map mid-request is resolved and erased too', async () => {
    const app = application();
    app.addUser('u-1');
    const base = dataMapOf(app);
    const { retention, store, audit } = await retentionFor(app, {
      dataMap: base.map,
      grace: '30 days',
    });
    const request = await retention.requestErasure('u-1', { source: 'user_request' });
    // A new process starts with a bigger map, after the grace period.
    const cache = new Set(['user:u-1:profile']);
    base.map.add({
      name: 'cache',
      kind: 'cache',
      label: 'Redis: user:{user_id}:*',
      action: 'delete',
      resolve: (subject) => [...cache].filter((k) => k.startsWith(`user:${subject}:`)),
      erase: ({ identifiers }) => ({
        affected: (identifiers as string[]).filter((k) => cache.delete(k)).length,
      }),
      verify: ({ subject }) => [...cache].filter((k) => k.startsWith(`user:${subject}:`)).length,
    });
    const laterSagas = createMemorySagaStore({ backend: createMemoryBackend() });
    await laterSagas.migrate();
    const later = createRetention({
      store,
      audit,
      sagaStore: laterSagas,
      dataMap: base.map,
      grace: '0 days',
      retry: { retries: 1, minTimeout: 1, maxTimeout: 1 },
    });
    open.push(later);
    // Skip the grace period by hand: move eraseAfter to now.
    const row = await store.getRequest(request.id);
    await store.updateRequest(request.id, row!.version, { eraseAfter: 0 });
    const report = await later.waitForErasure(request.id, { timeoutMs: 10_000 });
    expect(report.locations.map((l) => l.location)).toContain('cache');
    expect(report.locations.find((l) => l.location === 'cache')?.receipt).toMatchObject({
      outcome: 'erased',
      affected: 1,
    });
    expect(cache.size).toBe(0);
  });

  it('withdrawing consent erases only the consent data types, at once', async () => {
    const app = application();
    const marketing = new Set(['u-1']);
    const map = createDataMap([
      {
        name: 'newsletter',
        kind: 'external-service',
        dataType: 'marketing_consent',
        action: 'delete',
        erase: ({ subject }) => ({ affected: marketing.delete(subject) ? 1 : 0 }),
      },
      {
        name: 'profile',
        kind: 'sql-table',
        dataType: 'session_logs',
        action: 'delete',
        erase: () => ({ affected: 1 }),
      },
    ]);
    const { retention } = await retentionFor(app, { dataMap: map, grace: '30 days' });
    const request = await retention.withdrawConsent('u-1');
    expect(request.dataTypes).toEqual(['marketing_consent']);
    const report = await retention.waitForErasure(request.id, { timeoutMs: 10_000 });
    expect(report.status).toBe('completed');
    expect(report.locations.map((l) => l.location)).toEqual(['newsletter']);
    expect(marketing.size).toBe(0);
  });

  it('reapplyErasures erases ledgered subjects again after a restore', async () => {
    const app = application();
    app.addUser('u-1');
    app.addUser('u-2');
    const { retention } = await retentionFor(app);
    const request = await retention.requestErasure('u-1', { source: 'user_request' });
    await retention.waitForErasure(request.id, { timeoutMs: 10_000 });
    expect(app.count('SELECT count(*) n FROM users')).toBe(1);
    app.addUser('u-1'); // the backup came back with the subject in it
    const report = await retention.reapplyErasures();
    expect(report).toMatchObject({ subjects: 1, failures: [] });
    expect(app.count("SELECT count(*) n FROM users WHERE id = 'u-1'")).toBe(0);
    expect(app.count("SELECT count(*) n FROM sessions WHERE user_id = 'u-1'")).toBe(0);
    expect(app.count("SELECT count(*) n FROM users WHERE id = 'u-2'")).toBe(1);
  });

  it('sweeps the registered tables under the policies, leaving what a hold covers', async () => {
    const app = application();
    const db = new Database(':memory:');
    db.exec('CREATE TABLE sessions (id INTEGER PRIMARY KEY, user_id TEXT, created_at TEXT)');
    const insert = db.prepare('INSERT INTO sessions (user_id, created_at) VALUES (?, ?)');
    const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
    for (const user of ['u-1', 'u-2']) {
      for (let i = 0; i < 30; i++) insert.run(user, daysAgo(100 + i));
      for (let i = 0; i < 5; i++) insert.run(user, daysAgo(i));
    }
    const sweeper = createSqliteTableSweeper({ backend: createSqliteBackend({ database: db }) });
    const { retention } = await retentionFor(app, {
      tables: [
        {
          table: 'sessions',
          dataType: 'session_logs',
          timestamp: 'created_at',
          subject: 'user_id',
          sweeper,
        },
      ],
    });
    await retention.placeHold({ subject: 'u-2', reason: 'case 7', owner: 'legal' });
    const dry = await retention.sweep({ dryRun: true });
    expect(dry.tables[0]?.due).toEqual({ delete: 30, anonymize: 0 });
    expect(db.prepare('SELECT count(*) n FROM sessions').get()).toEqual({ n: 70 });
    const progress: number[] = [];
    const report = await retention.sweep({
      batchSize: 7,
      onProgress: (p) => progress.push(p.deleted),
    });
    expect(report.tables[0]).toMatchObject({ deleted: 30, held: 1 });
    expect(progress.at(-1)).toBe(30);
    const left = db
      .prepare('SELECT user_id, count(*) n FROM sessions GROUP BY user_id ORDER BY user_id')
      .all();
    expect(left).toEqual([
      { user_id: 'u-1', n: 5 },
      { user_id: 'u-2', n: 35 },
    ]);
  });
});
