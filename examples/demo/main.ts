/**
 * `npm run demo`: the order flow end to end on the embedded default, SQLite. Nothing to install:
 * the database is a temporary file. Each step prints what flowproof did.
 *
 *   1. a create-order request goes through the validation pipeline (trust boundaries, enrichment);
 *   2. creating the order is idempotent: a retry replays the stored result, a reused key with
 *      another payload is refused;
 *   3. the order's lifecycle is a persisted state machine: impossible moves are refused, concurrent
 *      writers are caught by optimistic locking, every transition is in the history;
 *   4. the correlation id follows the work across a (simulated) queue hop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  createSqliteBackend,
  createSqliteEntityStore,
  createSqliteIdempotencyStore,
} from '../../src/adapters/sqlite/index.js';
import { createIdempotency } from '../../src/idempotency/index.js';
import {
  getContext,
  isFlowproofError,
  restoreContext,
  runWithContext,
  serializeContext,
} from '../../src/index.js';
import { createEntities } from '../../src/state-machine/entities/index.js';
import { toMermaid } from '../../src/state-machine/mermaid/index.js';
import { createOrderPipeline, orderMachine } from './order-flow.js';

const dir = mkdtempSync(join(tmpdir(), 'flowproof-demo-'));
const database = new Database(join(dir, 'demo.db'));
database.pragma('journal_mode = WAL');
const backend = createSqliteBackend({ database, ownsDatabase: true });
const say = (text: string) => console.log(`• ${text}`);
const codeOf = (error: unknown) => (isFlowproofError(error) ? error.code : String(error));

try {
  const idempotencyStore = createSqliteIdempotencyStore({ backend });
  const entityStore = createSqliteEntityStore({ backend });
  for (const report of [await idempotencyStore.migrate(), await entityStore.migrate()]) {
    say(`migrated ${report.component} to v${report.to}`);
  }
  const createOrder = createIdempotency({ store: idempotencyStore, operation: 'orders.create' });
  const orders = createEntities({ machine: orderMachine, store: entityStore });

  await runWithContext({ actor: { id: 'user_42', type: 'user' }, tenant: 'acme' }, async () => {
    say(
      `request context: correlation ${getContext()?.correlationId}, tenant ${getContext()?.tenant}`,
    );

    // 1. Validation at the trust boundaries.
    const request = {
      userId: 'user_42',
      items: [
        { sku: 'sku-001', qty: 1 },
        { sku: 'sku-003', qty: 4 },
      ],
      shipping: {
        name: 'Ada Lovelace',
        line1: '12 St James Square',
        city: 'London',
        country: 'gb',
      },
      requestedAt: '2026-11-24T15:00:00+01:00',
    };
    const validated = await createOrderPipeline.run(request);
    if (!validated.ok) throw new Error('the demo request should be valid');
    const order = validated.value;
    say(
      `pipeline ${createOrderPipeline
        .describe()
        .stages.map((s) => s.name)
        .join(' → ')}`,
    );
    say(
      `validated order: ${order.items.length} items, total ${order.total.amount} ${order.total.currency}, requested at ${order.requestedAt}`,
    );
    const invalid = await createOrderPipeline.run({ ...request, items: [] });
    say(
      `an order without items is rejected at the gateway: ${invalid.ok ? 'accepted?' : invalid.error.code}`,
    );

    // 2. Idempotent creation.
    const place = () =>
      createOrder.run('client-key-7f3a', request, async () => {
        const id = `ord_${Date.now().toString(36)}`;
        await orders.create(id, { total: order.total.amount });
        say(`   (side effect) order ${id} created`);
        return { orderId: id };
      });
    const first = await place();
    const retry = await place();
    say(
      `first call created ${first.orderId}; the retry replayed ${retry.orderId} without creating another`,
    );
    const reused = await createOrder
      .run('client-key-7f3a', { ...request, userId: 'someone-else' }, async () => ({
        orderId: 'x',
      }))
      .catch((e: unknown) => e);
    say(`the same key with another payload is refused: ${codeOf(reused)}`);

    // 3. The lifecycle.
    const id = first.orderId;
    const paid = await orders.apply(id, {
      type: 'payment_succeeded',
      payload: { transactionId: 'tx_1' },
    });
    say(
      `payment succeeded: ${id} is ${paid.entity.state} (version ${paid.entity.stateVersion}), effects to run: ${paid.effects.join(', ')}`,
    );
    const denied = await orders.apply(id, { type: 'delivered' }).catch((e: unknown) => e);
    say(
      `delivering a paid order that was never shipped is refused: ${codeOf(denied)} (allowed: ${isFlowproofError(denied) ? String(denied.details.allowed) : '?'})`,
    );
    const racers = await Promise.allSettled([
      orders.apply(id, { type: 'items_picked' }, { expectedVersion: paid.entity.stateVersion }),
      orders.apply(id, { type: 'user_cancelled' }, { expectedVersion: paid.entity.stateVersion }),
    ]);
    say(
      `two writers raced on version ${paid.entity.stateVersion}: ${racers.map((r) => (r.status === 'fulfilled' ? `won → ${r.value.entity.state}` : `lost → ${codeOf(r.reason)}`)).join('; ')}`,
    );
    const history = await orders.history(id);
    say(
      `history of ${id}: ${history.entries.map((h) => `${h.from ?? '∅'} →(${h.event}) ${h.to} by ${h.actor?.id ?? '?'}`).join(', ')}`,
    );

    // 4. Across a queue hop.
    const headers = serializeContext();
    await runWithContext(
      restoreContext(headers, { trustIdentity: true, causationId: 'msg-1' }),
      async () => {
        say(
          `the consumer continues correlation ${getContext()?.correlationId}, caused by ${getContext()?.causationId}`,
        );
      },
    );
  });

  say('the order lifecycle, as drawn by toMermaid():');
  console.log(toMermaid(orderMachine));
} finally {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
}
