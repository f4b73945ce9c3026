import { PGlite } from '@electric-sql/pglite';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { orderTotalRecord } from '../../test/support/lineage-records.js';
import { createId } from '../core/ids.js';
import { unstorableText } from '../core/options.js';
import type { LineageAppend, LineageStore } from '../lineage/lineage-store.js';
import { createMemoryBackend, createMemoryLineageStore } from './memory/index.js';
import { createPostgresBackend, createPostgresLineageStore } from './postgres/index.js';
import { createSqliteBackend, createSqliteLineageStore } from './sqlite/index.js';

const closers: (() => Promise<unknown>)[] = [];
afterAll(() => Promise.all(closers.map((close) => close())));

const stores: Record<string, () => LineageStore> = {
  memory: () => createMemoryLineageStore({ backend: createMemoryBackend() }),
  sqlite: () =>
    createSqliteLineageStore({
      backend: createSqliteBackend({ database: new Database(':memory:') }),
    }),
  pglite: () => {
    const client = new PGlite();
    closers.push(() => client.close());
    return createPostgresLineageStore({ backend: createPostgresBackend({ client }) });
  },
};

/** Text every store keeps (the records' checks refuse the rest). */
const text = (minLength: number) =>
  fc
    .string({ unit: 'binary', minLength, maxLength: 16 })
    .filter((value) => unstorableText(value) === undefined);

describe.each(Object.keys(stores))('lineage store on %s', (name) => {
  it('keeps any storable entity, field, correlation id and body byte for byte', async () => {
    const store = (stores[name] as () => LineageStore)();
    await store.migrate();
    await fc.assert(
      fc.asyncProperty(
        fc.record({ entity: text(1), field: text(1), correlationId: text(1), body: text(0) }),
        async ({ entity, field, correlationId, body }) => {
          const record: LineageAppend = {
            id: createId(),
            kind: 'value',
            entity,
            field,
            job: null,
            runId: null,
            correlationId,
            causationId: null,
            body,
          };
          const [row] = await store.append([record]);
          expect(row).toEqual({ ...record, recordedAt: row?.recordedAt });
          expect(await store.latest(entity, field)).toEqual(row);
          expect(await store.byCorrelation({ correlationId, limit: 1_000 })).toContainEqual(row);
        },
      ),
      { numRuns: 60 },
    );
    await store.close();
  }, 60_000);
});

describe("lineage stores in the application's own transaction", () => {
  const record = orderTotalRecord;

  it('SQLite (joinOpenTransaction): a refused batch leaves the transaction usable, ROLLBACK undoes the rest', async () => {
    const database = new Database(':memory:');
    const backend = createSqliteBackend({ database });
    const store = createSqliteLineageStore({ backend });
    await store.migrate();
    const [kept] = await store.append([record()]);
    database.exec('BEGIN');
    const bound = store.withBackend(backend.joinOpenTransaction());
    await expect(bound.append([record(), record(kept?.id)])).rejects.toMatchObject({
      code: 'LINEAGE_RECORD_EXISTS',
      details: { id: kept?.id },
    });
    await bound.append([record(), record()]);
    expect(await bound.byCorrelation({ correlationId: 'c-1', limit: 10 })).toHaveLength(3);
    database.exec('ROLLBACK');
    expect(await store.byCorrelation({ correlationId: 'c-1', limit: 10 })).toEqual([kept]);
  });

  it('PGlite (withTransactionClient): a refused batch leaves the transaction usable, a rollback undoes the rest', async () => {
    const client = new PGlite();
    closers.push(() => client.close());
    const backend = createPostgresBackend({ client });
    const store = createPostgresLineageStore({ backend });
    await store.migrate();
    const [kept] = await store.append([record()]);
    await expect(
      client.transaction(async (tx) => {
        const bound = store.withBackend(backend.withTransactionClient(tx));
        await expect(bound.append([record(), record(kept?.id)])).rejects.toMatchObject({
          code: 'LINEAGE_RECORD_EXISTS',
        });
        await expect(bound.append([record(kept?.id)])).rejects.toMatchObject({
          code: 'LINEAGE_RECORD_EXISTS',
        });
        await bound.append([record(), record()]);
        expect(await bound.byCorrelation({ correlationId: 'c-1', limit: 10 })).toHaveLength(3);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await store.byCorrelation({ correlationId: 'c-1', limit: 10 })).toEqual([kept]);
  });
});
