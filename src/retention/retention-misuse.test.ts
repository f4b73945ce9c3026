import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectNoEngineError, oddValue } from '../../test/support/odd-values.js';
import {
  createMemoryAuditStore,
  createMemoryBackend,
  createMemoryRetentionStore,
  createMemorySagaStore,
} from '../adapters/memory/index.js';
import { createSqliteAuditStore, createSqliteBackend } from '../adapters/sqlite/index.js';
import { createAuditLog } from '../audit/audit-log.js';
import { isFlowproofError } from '../core/errors.js';
import { createRetention } from './create-retention.js';
import { createDataMap } from './data-map.js';
import { definePolicies } from './retention-policies.js';
import { subjectKeyLocation } from './subject-key-location.js';

async function parts() {
  const backend = createMemoryBackend();
  const store = createMemoryRetentionStore({ backend });
  const auditStore = createMemoryAuditStore({ backend });
  const sagaStore = createMemorySagaStore({ backend: createMemoryBackend() });
  await Promise.all([store.migrate(), auditStore.migrate(), sagaStore.migrate()]);
  const dataMap = createDataMap([
    { name: 'users', kind: 'sql-table', action: 'delete', erase: () => ({ affected: 1 }) },
  ]);
  const policies = definePolicies({
    marketing: { keep: 'indefinite', delete_on_consent_withdrawal: true },
  });
  return { store, audit: createAuditLog({ store: auditStore }), sagaStore, dataMap, policies };
}

describe('createRetention options', () => {
  it('names the option that is missing or wrong', async () => {
    const base = await parts();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...base, store: undefined }, /^options\.store must be an object/],
      [{ ...base, audit: {} }, /^options\.audit must have a record\(\) method/],
      [{ ...base, sagaStore: 1 }, /^options\.sagaStore must be an object/],
      [{ ...base, dataMap: { plan: 1 } }, /^options\.dataMap must have a plan\(\) method/],
      [{ ...base, grace: '30 dayz' }, /options\.grace/],
      [{ ...base, deadline: 5 }, /^options\.deadline must be a duration/],
      [{ ...base, retry: { retries: -1 } }, /^options\.retry\.retries/],
      [{ ...base, hooks: { disable: 'no' } }, /^options\.hooks\.disable must be a function/],
      [{ ...base, pollIntervalMs: 0 }, /^options\.pollIntervalMs/],
      [{ ...base, tables: {} }, /^options\.tables must be an array/],
      [{ ...base, sweepr: [] }, /options\.sweepr/],
    ];
    for (const [options, message] of cases) {
      expect(() => createRetention(options as never), String(message)).toThrow(message);
    }
  });

  it('odd values are TypeErrors naming the option (property)', async () => {
    const base = await parts();
    await fc.assert(
      fc.asyncProperty(oddValue, async (make) => {
        await expectNoEngineError('options', () => createRetention(make() as never));
        for (const key of [
          'store',
          'audit',
          'sagaStore',
          'dataMap',
          'policies',
          'hooks',
          'grace',
          'retry',
          'tables',
          'ownData',
          'logger',
        ]) {
          await expectNoEngineError(`options\\.${key}`, () =>
            createRetention({ ...base, [key]: make() } as never),
          );
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('the retention entries', () => {
  it('answer odd arguments with a TypeError naming them or a FlowproofError (property)', async () => {
    const base = await parts();
    const retention = createRetention({ ...base, grace: '0 days' });
    const request = await retention.requestErasure('u-1', { source: 'test' });
    const hold = await retention.placeHold({ subject: 'u-2', reason: 'r', owner: 'o' });
    await fc.assert(
      fc.asyncProperty(oddValue, async (make) => {
        await expectNoEngineError('(subject|options)', () =>
          retention.requestErasure(make() as never, { source: 's' }),
        );
        await expectNoEngineError('options', () =>
          retention.requestErasure('u-9', make() as never),
        );
        await expectNoEngineError(
          'options\\.(source|dataTypes|grace|actor|reason)(\\.\\w+|\\[\\d+\\])?',
          () =>
            retention.requestErasure('u-9', {
              source: make(),
              dataTypes: make(),
              grace: make(),
            } as never),
        );
        await expectNoEngineError('(requestId|options)', () =>
          retention.cancelErasure(make() as never, { reason: 'r' }),
        );
        await expectNoEngineError('options', () =>
          retention.cancelErasure(request.id, make() as never),
        );
        await expectNoEngineError('requestId', () => retention.getErasure(make() as never));
        await expectNoEngineError('(subject|options)', () =>
          retention.planErasure(make() as never),
        );
        await expectNoEngineError('options', () => retention.planErasure('u-1', make() as never));
        await expectNoEngineError('options', () =>
          retention.extendDeadline(request.id, make() as never),
        );
        await expectNoEngineError('options\\.(by|until)', () =>
          retention.extendDeadline(request.id, { by: make(), reason: 'r' } as never),
        );
        await expectNoEngineError('options', () => retention.dueErasures(make() as never));
        await expectNoEngineError('options', () => retention.placeHold(make() as never));
        await expectNoEngineError('(holdId|options)', () =>
          retention.releaseHold(make() as never, { reason: 'r' }),
        );
        await expectNoEngineError('options', () => retention.releaseHold(hold.id, make() as never));
        await expectNoEngineError('options', () => retention.holds(make() as never));
        await expectNoEngineError('options', () => retention.reapplyErasures(make() as never));
        await expectNoEngineError('options', () => retention.processErasures(make() as never));
        await expectNoEngineError('options', () =>
          retention.waitForErasure(request.id, make() as never),
        );
        await expectNoEngineError('options', () => retention.sweep(make() as never));
        await expectNoEngineError('(encryption|options)', () =>
          subjectKeyLocation(make() as never),
        );
      }),
      { numRuns: 200 },
    );
    await retention.close();
  });

  it('runtime conditions are FlowproofErrors with their codes', async () => {
    const base = await parts();
    const retention = createRetention({ ...base, grace: '0 days' });
    await expect(retention.getErasure('nope')).rejects.toSatisfy((e) =>
      isFlowproofError(e, 'RETENTION_REQUEST_NOT_FOUND'),
    );
    await expect(retention.releaseHold('nope', { reason: 'r' })).rejects.toSatisfy((e) =>
      isFlowproofError(e, 'RETENTION_HOLD_NOT_FOUND'),
    );
    const request = await retention.requestErasure('u-1', { source: 'test' });
    const done = await retention.waitForErasure(request.id, { timeoutMs: 5_000 });
    expect(done.status).toBe('completed');
    await expect(retention.cancelErasure(request.id, { reason: 'late' })).rejects.toSatisfy((e) =>
      isFlowproofError(e, 'RETENTION_NOT_CANCELLABLE'),
    );
    await expect(
      retention.extendDeadline(request.id, { by: '1 day', reason: 'r' }),
    ).rejects.toSatisfy((e) => isFlowproofError(e, 'RETENTION_EXTENSION_REFUSED'));
    await retention.close();
    await retention.close();
    await expect(retention.getErasure(request.id)).rejects.toSatisfy((e) =>
      isFlowproofError(e, 'RETENTION_CLOSED'),
    );
  });

  it('an audit log on another kind of database is named as the misconfiguration', async () => {
    const base = await parts();
    const elsewhere = createSqliteAuditStore({
      backend: createSqliteBackend({ database: new Database(':memory:') }),
    });
    await elsewhere.migrate();
    const retention = createRetention({ ...base, audit: createAuditLog({ store: elsewhere }) });
    await expect(retention.requestErasure('u-1', { source: 'test' })).rejects.toThrow(
      /^options\.audit must record on the retention store's database/,
    );
    await retention.close();
  });

  it('a misspelt data type is refused before anything is stored or held', async () => {
    const base = await parts();
    const retention = createRetention({ ...base, grace: '0 days' });
    await expect(
      retention.requestErasure('u-1', { source: 's', dataTypes: ['marketting'] }),
    ).rejects.toThrow(/^options\.dataTypes\[0\] "marketting" is no data type/);
    await expect(retention.planErasure('u-1', { dataTypes: ['nope'] })).rejects.toThrow(TypeError);
    await expect(
      retention.placeHold({ dataType: 'order_histroy', reason: 'r', owner: 'o' }),
    ).rejects.toThrow(/^options\.dataType "order_histroy" is no data type/);
    expect(await retention.erasuresOf('u-1')).toEqual([]);
    expect(await retention.holds()).toEqual([]);
    await retention.close();
  });

  it('a deadline that ends before the grace period is refused', async () => {
    const base = await parts();
    expect(() => createRetention({ ...base, deadline: '1 day' })).toThrow(
      /^options\.deadline \(1 day\) must not end before options\.grace/,
    );
    expect(() => createRetention({ ...base, grace: '11 years' })).toThrow(
      /^options\.grace must be at most 10 years/,
    );
    const quick = definePolicies({ marketing: { keep: 'indefinite', erasure_deadline: '1 week' } });
    expect(() => createRetention({ ...base, policies: quick })).toThrow(
      /^options\.grace \(30 days\) must end before the erasure_deadline of data type "marketing"/,
    );
    const retention = createRetention(base);
    await expect(
      retention.requestErasure('u-1', { source: 's', grace: '2 months' }),
    ).rejects.toThrow(/^options\.grace \(2 months\) must end before the request's deadline/);
    await retention.close();
  });

  it('a handler result that is not a count fails the location instead of writing a receipt', async () => {
    const base = await parts();
    for (const result of [
      { affected: -1 },
      { affected: Number.NaN },
      { affectd: 3 },
      5,
      { detail: 'd'.repeat(1001) },
    ]) {
      const dataMap = createDataMap([
        { name: 'users', kind: 'sql-table', action: 'delete', erase: () => result as never },
      ]);
      const retention = createRetention({
        ...base,
        dataMap,
        grace: '0 days',
        retry: { retries: 0 },
      });
      const request = await retention.requestErasure(`u-${JSON.stringify(result).length}`, {
        source: 's',
      });
      const report = await retention.waitForErasure(request.id, { timeoutMs: 5_000 });
      expect(report.locations[0]).toMatchObject({
        status: 'failed',
        receipt: null,
        error: { code: 'RETENTION_LOCATION_FAILED' },
      });
      await retention.close();
    }
  });
});
