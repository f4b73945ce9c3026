import { PGlite } from '@electric-sql/pglite';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresUrl } from '../../../test/support/services.js';
import { auditRecordBody, auditRecordHash } from '../../audit/audit-encoding.js';
import { AUDIT_GENESIS_HASH, type AuditAppend, type AuditStore } from '../../audit/audit-store.js';
import { canonicalJson } from '../../core/canonical-json.js';
import { unstorableText } from '../../core/options.js';
import { uniqueNamespace } from '../../testing/index.js';
import { createPostgresAuditStore, createPostgresBackend } from '../postgres/index.js';
import { createSqliteAuditStore, createSqliteBackend } from '../sqlite/index.js';

const closers: (() => Promise<unknown>)[] = [];
afterAll(() => Promise.all(closers.map((close) => close())));

const stores: Record<string, () => AuditStore> = {
  sqlite: () =>
    createSqliteAuditStore({
      backend: createSqliteBackend({ database: new Database(':memory:') }),
    }),
  pglite: () => {
    const client = new PGlite();
    closers.push(() => client.close());
    return createPostgresAuditStore({ backend: createPostgresBackend({ client }) });
  },
};
const url = postgresUrl();
if (url) {
  stores.postgres = () => {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    closers.push(() => pool.end());
    const backend = createPostgresBackend({ client: pool, schema: uniqueNamespace('audit') });
    return createPostgresAuditStore({ backend });
  };
}

/** Text every store keeps (the entries' checks refuse the rest). */
const text = (minLength: number) =>
  fc
    .string({ unit: 'binary', minLength, maxLength: 12 })
    .filter((value) => unstorableText(value) === undefined);

/** An entry as the audit log would hand it over: canonical content with any JSON data in it. */
const entries = fc.array(
  fc.record({
    chain: fc.oneof(fc.constantFrom('global', 'tenant "a"'), text(1)),
    action: text(1),
    actorId: fc.option(text(1), { nil: null }),
    resourceType: text(1),
    resourceId: text(1),
    data: fc.jsonValue({ maxDepth: 2 }),
  }),
  { minLength: 1, maxLength: 3 },
);

function toAppend(e: Generated): AuditAppend | undefined {
  let content: string;
  try {
    content = canonicalJson(
      {
        action: e.action,
        actor: e.actorId === null ? null : { id: e.actorId },
        resource: { type: e.resourceType, id: e.resourceId },
        data: e.data,
      },
      'entry',
    ).slice(1, -1);
  } catch {
    return undefined; // JSON data with text a store cannot keep
  }
  return {
    chain: e.chain,
    content,
    action: e.action,
    actorId: e.actorId,
    resourceType: e.resourceType,
    resourceId: e.resourceId,
    correlationId: null,
  };
}

type Generated = typeof entries extends fc.Arbitrary<(infer T)[]> ? T : never;

describe.each(Object.keys(stores))('SQL audit store on %s: encoding', (name) => {
  it('stores any chain name and content byte for byte, each hash linked as the encoding says (one record and batches)', async () => {
    const store = (stores[name] as () => AuditStore)();
    await store.migrate();
    const last = new Map<string, string>();
    await fc.assert(
      fc.asyncProperty(entries, async (generated) => {
        const batch = generated.map(toAppend).filter((e): e is AuditAppend => e !== undefined);
        if (batch.length === 0) return;
        const rows = await store.append(batch);
        rows.forEach((row, i) => {
          const entry = batch[i] as AuditAppend;
          const prev = last.get(row.chain) ?? AUDIT_GENESIS_HASH;
          expect(row.chain).toBe(entry.chain);
          expect(row.prevHash).toBe(prev);
          expect(row.body).toBe(
            auditRecordBody(entry.chain, row.seq, row.recordedAt, entry.content),
          );
          expect(row.hash).toBe(auditRecordHash(prev, row.body));
          last.set(row.chain, row.hash);
        });
        for (const row of rows) {
          const [stored] = await store.readChain({
            chain: row.chain,
            afterSeq: row.seq - 1,
            limit: 1,
          });
          expect(stored).toEqual(row);
        }
      }),
      { numRuns: 40 },
    );
    await store.close();
  }, 60_000);
});
