/**
 * The cost of flowproof's backend layer over the raw driver: the same insert through
 * `backend.execute()` and through the driver directly.
 */
import { PGlite } from '@electric-sql/pglite';
import Database from 'better-sqlite3';
import { createPostgresBackend } from '../src/adapters/postgres/index.js';
import { createSqliteBackend } from '../src/adapters/sqlite/index.js';
import { defineSuite } from './harness.js';

export default async function suites() {
  const sqlite = new Database(':memory:');
  sqlite.exec(
    'CREATE TABLE raw_items (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE fp_items (id INTEGER PRIMARY KEY, v TEXT)',
  );
  const sqliteBackend = createSqliteBackend({ database: sqlite });
  const rawInsert = sqlite.prepare('INSERT INTO raw_items (v) VALUES (?)');

  const pglite = new PGlite();
  await pglite.exec(
    'CREATE TABLE raw_items (id serial PRIMARY KEY, v text); CREATE TABLE fp_items (id serial PRIMARY KEY, v text)',
  );
  const pgliteBackend = createPostgresBackend({ client: pglite });

  return [
    defineSuite({
      name: 'SQLite backend: one INSERT',
      unit: 'inserts',
      baseline: 'better-sqlite3 prepared statement',
      tasks: [
        { name: 'better-sqlite3 prepared statement', fn: () => rawInsert.run('value') },
        {
          name: 'flowproof SQLite backend.execute',
          fn: () => sqliteBackend.execute('INSERT INTO fp_items (v) VALUES (?)', ['value']),
        },
      ],
      teardown: () => {
        sqlite.close();
      },
    }),
    defineSuite({
      name: 'PostgreSQL backend (PGlite): one INSERT',
      unit: 'inserts',
      baseline: 'PGlite query',
      tasks: [
        {
          name: 'PGlite query',
          fn: () => pglite.query('INSERT INTO raw_items (v) VALUES ($1)', ['value']),
        },
        {
          name: 'flowproof PostgreSQL backend.execute',
          fn: () => pgliteBackend.execute('INSERT INTO fp_items (v) VALUES ($1)', ['value']),
        },
      ],
      teardown: () => pglite.close(),
    }),
  ];
}
