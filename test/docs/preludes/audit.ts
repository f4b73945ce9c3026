/**
 * What docs/audit.md's snippets assume the application has: a `pg` pool on the test PostgreSQL
 * server (in a schema of its own, with a `users` table holding one user), a directory for the
 * witness file and the archives, and an Ed25519 key pair for signing checkpoints.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { postgresUrl } from '../../support/services.js';

const schema = 'docs_audit';
const connectionString = postgresUrl();
if (!connectionString) throw new Error('docs/audit.md runs on the test PostgreSQL server');

/** The application's pool; its connections use the guide's schema. */
export const pool = new pg.Pool({
  connectionString,
  options: `-c search_path=${schema}`,
  allowExitOnIdle: true,
});
await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
await pool.query(`CREATE SCHEMA ${schema}`);
await pool.query(
  `CREATE TABLE users (id text PRIMARY KEY, email text NOT NULL, name text NOT NULL)`,
);
await pool.query(
  `INSERT INTO users (id, email, name) VALUES ('u-42', 'ada@example.com', 'Ada Lovelace')`,
);

/** A directory the application may write (the witness file, archives). */
export const dataDir = mkdtempSync(join(tmpdir(), 'flowproof-docs-audit-'));

const keys = generateKeyPairSync('ed25519');
/** The checkpoint signing key (in production: from your secret manager). */
export const auditPrivateKey = keys.privateKey;
/** Its public half, which auditors get. */
export const auditPublicKey = keys.publicKey;

/** The user the request runs as, as the application's auth middleware sets it. */
export const currentUser = { id: 'admin-7', sessionId: 'sess-19' };
