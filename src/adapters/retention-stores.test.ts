import { PGlite } from '@electric-sql/pglite';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { countedStatements } from '../../test/support/counted-statements.js';
import { expectNoEngineError, oddValue } from '../../test/support/odd-values.js';
import { createId } from '../core/ids.js';
import { unstorableText } from '../core/options.js';
import type { NewErasureRequest } from '../retention/retention-store.js';
import { uniqueNamespace } from '../testing/index.js';
import { createMemoryBackend, createMemoryRetentionStore } from './memory/index.js';
import { createPostgresBackend, createPostgresRetentionStore } from './postgres/index.js';
import { createSqliteBackend, createSqliteRetentionStore } from './sqlite/index.js';

const request = (subject: string, scope = ''): NewErasureRequest => ({
  id: createId(),
  subject,
  scope,
  source: 'user_request',
  reason: null,
  actor: null,
  graceMs: 1000,
  dueInMs: 2000,
});

let pglite: PGlite | undefined;
function sharedPGlite(): PGlite {
  pglite ??= new PGlite();
  return pglite;
}
afterAll(() => pglite?.close());

describe('retention store factories and withBackend()', () => {
  const pgClient = { query: async () => ({ rows: [] }) };
  const factories: Record<string, (extra: object) => unknown> = {
    createMemoryRetentionStore: (extra) =>
      createMemoryRetentionStore({ backend: createMemoryBackend(), ...extra }),
    createSqliteRetentionStore: (extra) =>
      createSqliteRetentionStore({
        backend: createSqliteBackend({ database: new Database(':memory:') }),
        ...extra,
      }),
    createPostgresRetentionStore: (extra) =>
      createPostgresRetentionStore({
        backend: createPostgresBackend({ client: pgClient }),
        ...extra,
      }),
  };

  it.each(Object.entries(factories))('%s refuses bad options, naming them', (_, create) => {
    expect(() => create({ leasMs: 1 })).toThrow(/options\.leasMs/);
    expect(() => create({ ownsBackend: 'yes' })).toThrow(/options\.ownsBackend/);
    expect(() => create({})).not.toThrow();
  });

  it('the factories refuse a backend of another kind, naming options.backend', () => {
    const memory = createMemoryBackend();
    const sqlite = createSqliteBackend({ database: new Database(':memory:') });
    expect(() => createMemoryRetentionStore({ backend: sqlite as never })).toThrow(
      /options\.backend must be a memory backend/,
    );
    expect(() => createSqliteRetentionStore({ backend: memory as never })).toThrow(
      /options\.backend must be a SQLite backend/,
    );
    expect(() => createPostgresRetentionStore(undefined as never)).toThrow(/options/);
  });

  it.each([
    [
      'memory',
      () => createMemoryBackend(),
      () => createSqliteBackend({ database: new Database(':memory:') }),
    ],
    [
      'SQLite',
      () => createSqliteBackend({ database: new Database(':memory:') }),
      () => createMemoryBackend(),
    ],
  ] as const)('the %s store binds only a backend of its kind', (_, own, other) => {
    const backend = own();
    const store =
      backend.kind === 'memory'
        ? createMemoryRetentionStore({ backend })
        : createSqliteRetentionStore({ backend });
    const bind = store.withBackend.bind(store) as (backend: unknown) => unknown;
    expect(() => bind(other())).toThrow(/backend must be a/);
    expect(() => bind(undefined)).toThrow(TypeError);
    expect(bind(backend)).toMatchObject({ kind: backend.kind });
  });
});

describe('the PostgreSQL retention store', () => {
  it('creates or finds a request in one statement (one round trip)', async () => {
    const raw = createPostgresBackend({ client: sharedPGlite(), schema: uniqueNamespace('rt') });
    const { backend, calls } = countedStatements(raw);
    const store = createPostgresRetentionStore({ backend });
    await store.migrate();
    const trips = async (run: () => Promise<unknown>) => {
      const before = calls();
      await run();
      return calls() - before;
    };
    expect(await trips(() => store.createRequest(request('alice')))).toBe(1);
    expect(await trips(() => store.createRequest(request('alice')))).toBe(1);
    expect(
      await trips(() => store.appendLedger({ requestId: createId(), subject: 'a', scope: '' })),
    ).toBe(1);
    const hold = { id: createId(), subject: 'a', dataType: null, reason: 'r', owner: 'o' };
    expect(await trips(() => store.placeHold(hold))).toBe(1);
    expect(await trips(() => store.placeHold(hold))).toBe(1);
  }, 60_000);

  it('is BACKEND_ERROR when a create can neither store nor read back its request', async () => {
    let statements = 0;
    const client = {
      query: async () => {
        statements += 1;
        return { rows: [] };
      },
    };
    const store = createPostgresRetentionStore({ backend: createPostgresBackend({ client }) });
    await expect(store.createRequest(request('a'))).rejects.toMatchObject({
      name: 'FlowproofError',
      code: 'BACKEND_ERROR',
      details: { backend: 'postgres', reason: 'insert-found-no-row' },
    });
    expect(statements).toBe(2);
  });
});

describe('stored retention data a store cannot decode is STORE_DATA_CORRUPT, naming the record', () => {
  it('SQLite requests, locations, holds and ledger entries', async () => {
    const backend = createSqliteBackend({ database: new Database(':memory:') });
    const store = createSqliteRetentionStore({ backend });
    await store.migrate();
    const { row } = await store.createRequest(request('alice'));
    await store.addLocations(row.id, [{ location: 'orders', identifiers: null }]);
    const hold = await store.placeHold({
      id: createId(),
      subject: 'alice',
      dataType: null,
      reason: 'r',
      owner: 'o',
    });
    await store.appendLedger({ requestId: row.id, subject: 'alice', scope: '' });
    const corrupt = (id: string, field: string) => ({
      name: 'FlowproofError',
      code: 'STORE_DATA_CORRUPT',
      details: { backend: 'sqlite', component: 'retention', id, field },
      message: expect.not.stringContaining('soon'),
    });
    await backend.execute(`UPDATE ${backend.table('erasure_requests')} SET due_at = 'soon'`);
    await expect(store.getRequest(row.id)).rejects.toMatchObject(corrupt(row.id, 'due_at'));
    await backend.execute(
      `UPDATE ${backend.table('erasure_requests')} SET due_at = 1, actor = X'00'`,
    );
    await expect(store.requestsOfSubject('alice', 5)).rejects.toMatchObject(
      corrupt(row.id, 'actor'),
    );
    await backend.execute(`UPDATE ${backend.table('erasure_locations')} SET added_at = -1`);
    await expect(store.locations(row.id)).rejects.toMatchObject(
      corrupt(`${row.id}/orders`, 'added_at'),
    );
    await backend.execute(`UPDATE ${backend.table('legal_holds')} SET owner = X'00'`);
    await expect(store.getHold(hold.id)).rejects.toMatchObject(corrupt(hold.id, 'owner'));
    await backend.execute(`UPDATE ${backend.table('erasure_ledger')} SET erased_at = 1.5`);
    await expect(store.ledger({ limit: 5 })).rejects.toMatchObject(corrupt(row.id, 'erased_at'));
  });
});

describe('retention stores keep any name and text exactly', () => {
  // Storable text: no NUL, no lone surrogate (the input checks refuse those).
  const text = (minLength: number) =>
    fc
      .string({ unit: 'binary', minLength, maxLength: 40 })
      .filter((s) => unstorableText(s) === undefined);
  const engines = {
    memory: () => createMemoryBackend(),
    SQLite: () => createSqliteBackend({ database: new Database(':memory:') }),
    PGlite: () => createPostgresBackend({ client: sharedPGlite(), schema: uniqueNamespace('rt') }),
  };

  it.each(Object.entries(engines))(
    '%s',
    async (_, open) => {
      const backend = open();
      const store =
        backend.kind === 'memory'
          ? createMemoryRetentionStore({ backend })
          : backend.kind === 'sqlite'
            ? createSqliteRetentionStore({ backend })
            : createPostgresRetentionStore({ backend });
      await store.migrate();
      await fc.assert(
        fc.asyncProperty(
          text(1),
          text(0),
          fc.option(text(0)),
          fc.uniqueArray(text(1), { minLength: 1, maxLength: 4 }),
          text(0),
          async (subject, scope, reason, names, json) => {
            // Subjects and scopes repeat across runs (fast-check shrinks towards short strings):
            // each run ends its request, so the next one of the same pair is created anew.
            const { row, created } = await store.createRequest({
              ...request(subject, scope),
              source: subject,
              reason,
              actor: json,
            });
            expect(created).toBe(true);
            expect(await store.getRequest(row.id)).toEqual(row);
            expect(row).toMatchObject({ subject, scope, source: subject, reason, actor: json });
            expect(await store.requestsOfSubject(subject, 1)).toEqual([row]);
            await store.addLocations(
              row.id,
              names.map((location) => ({ location, identifiers: json })),
            );
            const stored = await store.locations(row.id);
            expect(new Set(stored.map((l) => l.location))).toEqual(new Set(names));
            for (const l of stored) expect(l.identifiers).toBe(json);
            const [first] = names as [string];
            const { row: settled } = await store.settleLocation(row.id, first, json);
            expect(settled.receipt).toBe(json);
            const hold = await store.placeHold({
              id: createId(),
              subject,
              dataType: first,
              reason: subject,
              owner: first,
            });
            expect(await store.getHold(hold.id)).toEqual(hold);
            expect(hold).toMatchObject({ subject, dataType: first, reason: subject, owner: first });
            expect(await store.activeHolds({ subject, dataTypes: [first] })).toContainEqual(hold);
            await store.releaseHold(hold.id, subject);
            const entry = await store.appendLedger({ requestId: row.id, subject, scope });
            expect(entry).toMatchObject({ requestId: row.id, subject, scope });
            expect(await store.updateRequest(row.id, 1, { status: 'completed' })).toBeDefined();
          },
        ),
        { numRuns: 25 },
      );
      await store.close();
      await backend.close();
    },
    120_000,
  );
});

describe('odd arguments to every entry of the retention stores', () => {
  it('are TypeErrors naming the argument or FlowproofErrors (property)', async () => {
    const store = createMemoryRetentionStore({ backend: createMemoryBackend() });
    await store.migrate();
    const { row } = await store.createRequest(request('alice'));
    await fc.assert(
      fc.asyncProperty(oddValue, async (make) => {
        await expectNoEngineError('options', () => createMemoryRetentionStore(make() as never));
        await expectNoEngineError('options', () => createSqliteRetentionStore(make() as never));
        await expectNoEngineError('options', () => createPostgresRetentionStore(make() as never));
        await expectNoEngineError('request', () => store.createRequest(make() as never));
        await expectNoEngineError('request', () =>
          store.createRequest({ ...request('bob'), reason: make() } as never),
        );
        await expectNoEngineError('id', () => store.getRequest(make() as never));
        await expectNoEngineError('expectedVersion', () =>
          store.updateRequest(row.id, make() as never, {}),
        );
        await expectNoEngineError('patch', () => store.updateRequest(row.id, 99, make() as never));
        await expectNoEngineError('query', () => store.requestsByStatus(make() as never));
        await expectNoEngineError('subject', () => store.requestsOfSubject(make() as never, 1));
        await expectNoEngineError('limit', () => store.requestsOfSubject('s', make() as never));
        await expectNoEngineError('query', () => store.requestsDueBefore(make() as never));
        await expectNoEngineError('locations', () => store.addLocations(row.id, make() as never));
        await expectNoEngineError('requestId', () => store.locations(make() as never));
        await expectNoEngineError('status', () => store.markLocation(row.id, 'x', make() as never));
        await expectNoEngineError('receipt', () =>
          store.settleLocation(row.id, 'x', make() as never),
        );
        await expectNoEngineError('requestId', () => store.clearIdentifiers(make() as never));
        await expectNoEngineError('hold', () => store.placeHold(make() as never));
        await expectNoEngineError('reason', () => store.releaseHold(createId(), make() as never));
        await expectNoEngineError('lookup', () => store.activeHolds(make() as never));
        await expectNoEngineError('limit', () => store.activeHolds({}, make() as never));
        await expectNoEngineError('query', () => store.listHolds(make() as never));
        await expectNoEngineError('entry', () => store.appendLedger(make() as never));
        await expectNoEngineError('query', () => store.ledger(make() as never));
      }),
      { numRuns: 200 },
    );
  });
});
