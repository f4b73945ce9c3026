/**
 * What docs/audit.md's snippets assume the application has: a `pg` pool on the test PostgreSQL
 * server (in a schema of its own, with a `users` table holding one user), a directory for the
 * witness file and the archives, and an Ed25519 key pair for signing checkpoints.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guideDatabase } from '../../support/guide-database.js';

const database = await guideDatabase('docs/audit.md', 'docs_audit');

/** The application's pool; its connections use the guide's schema. */
export const pool = database.pool;
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
