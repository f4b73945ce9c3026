/**
 * `npm run demo`: a short, real run over flowproof's core and the embedded SQLite backend.
 * Nothing to install: the database is a temporary file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { createSqliteBackend, type SqliteBackend } from '../../src/adapters/sqlite/index.js';
import {
  getContext,
  isFlowproofError,
  restoreContext,
  runWithContext,
  serializeContext,
  utcDateTime,
} from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'flowproof-demo-'));
const database = new Database(join(dir, 'demo.db'));
database.pragma('journal_mode = WAL');
const backend = createSqliteBackend({ database, ownsDatabase: true });
const say = (text: string) => console.log(`• ${text}`);

const orders = {
  component: 'demo-orders',
  migrations: [
    {
      version: 1,
      name: 'create orders',
      up: (db: SqliteBackend) =>
        db.execute(
          `CREATE TABLE ${db.table('orders')} (id TEXT PRIMARY KEY, placed_at TEXT NOT NULL)`,
        ),
    },
  ],
};

const OrderPlaced = z.object({ orderId: z.string().min(1), placedAt: utcDateTime() });

try {
  const report = await backend.migrate(orders);
  say(
    `migrated ${report.component} from v${report.from} to v${report.to} (applied ${report.applied.join(', ')})`,
  );
  say(
    `running migrate again applies nothing: ${JSON.stringify((await backend.migrate(orders)).applied)}`,
  );

  await runWithContext({ actor: { id: 'user_42', type: 'user' }, tenant: 'acme' }, async () => {
    const context = getContext();
    say(
      `request context: correlation ${context?.correlationId}, actor ${context?.actor?.id}, tenant ${context?.tenant}`,
    );

    const event = OrderPlaced.parse({ orderId: 'o-1001', placedAt: '2026-11-24T15:00:00+01:00' });
    say(`validated event, timestamp normalised to UTC: ${event.placedAt}`);
    const local = OrderPlaced.safeParse({ orderId: 'o-1002', placedAt: '2026-11-24T15:00:00' });
    say(
      `a timestamp without an offset is refused: ${local.success ? 'accepted?!' : local.error.issues[0]?.message}`,
    );

    await backend.transaction(async (tx) => {
      await tx.execute(`INSERT INTO ${tx.table('orders')} VALUES (?, ?)`, [
        event.orderId,
        event.placedAt,
      ]);
    });
    say('order o-1001 committed in a transaction');

    await backend
      .transaction(async (tx) => {
        await tx.execute(`INSERT INTO ${tx.table('orders')} VALUES (?, ?)`, [
          'o-1003',
          event.placedAt,
        ]);
        throw new Error('payment declined');
      })
      .catch((error: Error) => say(`order o-1003 rolled back: ${error.message}`));
    const rows = await backend.query<{ id: string }>(`SELECT id FROM ${backend.table('orders')}`);
    say(`orders stored: ${rows.map((r) => r.id).join(', ')}`);

    const headers = serializeContext();
    say(`context handed to a queue as headers: ${JSON.stringify(headers)}`);
    await runWithContext(
      restoreContext(headers, { trustIdentity: true, causationId: 'msg-1' }),
      async () => {
        const consumer = getContext();
        say(
          `consumer continues correlation ${consumer?.correlationId}, caused by ${consumer?.causationId}`,
        );
      },
    );
  });

  say(`store clock (SQLite): ${(await backend.now()).toISOString()}`);
  await backend.query(`SELECT * FROM ${backend.table('invoices')}`).catch((error: unknown) => {
    if (isFlowproofError(error)) say(`a missing table is a typed error: ${error.code}`);
  });
} finally {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
}
