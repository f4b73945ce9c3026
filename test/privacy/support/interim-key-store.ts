// INTERIM, not committed: a stand-in for createPostgresDataKeyStore until feat/privacy-stores lands.
import type { PostgresBackend } from '../../../src/adapters/postgres/index.js';
import type { DataKeyRow, DataKeyStore } from '../../../src/privacy/data-key-store.js';

interface Raw {
  id: string;
  purpose: DataKeyRow['purpose'];
  name: string | null;
  kek_id: string | null;
  wrapped: Buffer | null;
  created_at: string;
  retired_at: string | null;
  shredded_at: string | null;
}
const row = (r: Raw): DataKeyRow => ({
  id: Number(r.id),
  purpose: r.purpose,
  name: r.name,
  kekId: r.kek_id,
  wrapped: r.wrapped && new Uint8Array(r.wrapped),
  createdAt: Number(r.created_at),
  retiredAt: r.retired_at === null ? null : Number(r.retired_at),
  shreddedAt: r.shredded_at === null ? null : Number(r.shredded_at),
});
const NOW = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;

export function interimKeyStore(backend: PostgresBackend): DataKeyStore {
  const keys = backend.table('interim_keys');
  const cursors = backend.table('interim_cursors');
  const one = async (sql: string, params: unknown[]) => {
    const [r] = await backend.query<Raw>(sql, params);
    return r && row(r);
  };
  const store: DataKeyStore = {
    kind: 'postgres',
    backend,
    async migrate() {
      if (backend.schema) await backend.execute(`CREATE SCHEMA IF NOT EXISTS "${backend.schema}"`);
      await backend.execute(`CREATE TABLE IF NOT EXISTS ${keys} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        purpose text NOT NULL, name text, kek_id text, wrapped bytea, created_at bigint NOT NULL,
        retired_at bigint, shredded_at bigint, UNIQUE (purpose, name))`);
      await backend.execute(
        `CREATE TABLE IF NOT EXISTS ${cursors} (job text PRIMARY KEY, cursor text NOT NULL)`,
      );
      return { applied: [] } as never;
    },
    async now() {
      return new Date();
    },
    withBackend(tx) {
      return interimKeyStore(tx as PostgresBackend);
    },
    async create(key) {
      const inserted = await one(
        `INSERT INTO ${keys} (purpose, name, kek_id, wrapped, created_at) VALUES ($1, $2, $3, $4, ${NOW})
         ON CONFLICT (purpose, name) DO NOTHING RETURNING *`,
        [key.purpose, key.name, key.kekId, Buffer.from(key.wrapped)],
      );
      if (inserted) return { key: inserted, created: true };
      const existing = await one(`SELECT * FROM ${keys} WHERE purpose = $1 AND name = $2`, [
        key.purpose,
        key.name,
      ]);
      return { key: existing as DataKeyRow, created: false };
    },
    get: (id) => one(`SELECT * FROM ${keys} WHERE id = $1`, [id]),
    byName: (purpose, name) =>
      one(`SELECT * FROM ${keys} WHERE purpose = $1 AND name = $2`, [purpose, name]),
    newestFieldKey: () =>
      one(
        `SELECT * FROM ${keys} WHERE purpose = 'field' AND retired_at IS NULL ORDER BY id DESC LIMIT 1`,
        [],
      ),
    async list(read) {
      return (
        await backend.query<Raw>(
          `SELECT * FROM ${keys} WHERE purpose = $1 AND id > $2 ORDER BY id LIMIT $3`,
          [read.purpose, read.afterId ?? 0, read.limit],
        )
      ).map(row);
    },
    async rewrap(c) {
      return (
        (await backend.execute(
          `UPDATE ${keys} SET kek_id = $3, wrapped = $4 WHERE id = $1 AND kek_id = $2 AND shredded_at IS NULL`,
          [c.id, c.expectKekId, c.kekId, Buffer.from(c.wrapped)],
        )) === 1
      );
    },
    retire: (id) =>
      one(
        `UPDATE ${keys} SET retired_at = COALESCE(retired_at, ${NOW}) WHERE id = $1 RETURNING *`,
        [id],
      ),
    async shred(subject) {
      await backend.execute(
        `INSERT INTO ${keys} (purpose, name, created_at, shredded_at) VALUES ('subject', $1, ${NOW}, ${NOW})
         ON CONFLICT (purpose, name) DO UPDATE SET kek_id = NULL, wrapped = NULL,
         shredded_at = COALESCE(${keys}.shredded_at, ${NOW})`,
        [subject],
      );
      return (await store.byName('subject', subject)) as DataKeyRow;
    },
    async loadCursor(job) {
      const [r] = await backend.query<{ cursor: string }>(
        `SELECT cursor FROM ${cursors} WHERE job = $1`,
        [job],
      );
      return r?.cursor;
    },
    async saveCursor(job, cursor) {
      if (cursor === null) await backend.execute(`DELETE FROM ${cursors} WHERE job = $1`, [job]);
      else
        await backend.execute(
          `INSERT INTO ${cursors} (job, cursor) VALUES ($1, $2) ON CONFLICT (job) DO UPDATE SET cursor = $2`,
          [job, cursor],
        );
    },
    async close() {},
  };
  return store;
}
