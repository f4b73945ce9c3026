/**
 * The database a guide's snippets run against: a schema of the guide's own on the test
 * PostgreSQL server, created afresh, and a `pg` pool whose connections use it.
 */
import pg from 'pg';
import { postgresUrl } from './services.js';

/** What {@link guideDatabase} gives a prelude. */
export interface GuideDatabase {
  /** A pool whose connections use the guide's schema; it lets the process exit when idle. */
  readonly pool: pg.Pool;
  /** The server's URL, for connections the guide opens itself. */
  readonly url: string;
}

/** Drops and creates `schema`, and opens a pool on it, for the snippets of `page`. */
export async function guideDatabase(page: string, schema: string): Promise<GuideDatabase> {
  const url = postgresUrl();
  if (!url) throw new Error(`${page} runs on the test PostgreSQL server`);
  const pool = new pg.Pool({
    connectionString: url,
    options: `-c search_path=${schema}`,
    allowExitOnIdle: true,
  });
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool.query(`CREATE SCHEMA ${schema}`);
  return { pool, url };
}
