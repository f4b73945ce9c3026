/**
 * The warning for `run()` keys that nothing scopes by tenant or principal. In a file of its own:
 * it is said once per process, and each test file gets fresh modules.
 */
import { describe, expect, it, vi } from 'vitest';
import { createMemoryBackend } from '../adapters/memory/memory-backend.js';
import { createMemoryIdempotencyStore } from '../adapters/memory/memory-idempotency-store.js';
import { runWithContext } from '../core/context.js';
import { createDedupe } from './dedupe.js';
import { createIdempotency } from './idempotency.js';

async function memoryStore() {
  const store = createMemoryIdempotencyStore({ backend: createMemoryBackend() });
  await store.migrate();
  return store;
}

describe('unscoped run()', () => {
  it('warns once per process when no tenant or principal scopes the key, and not when one does', async () => {
    const warning = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const store = await memoryStore();
      const idempotency = createIdempotency({ store, operation: 'op' });
      await runWithContext({ tenant: 'acme' }, () => idempotency.run('a', 1, () => 1));
      await idempotency.run('b', 1, () => 1, { scope: { principal: 'user_1' } });
      await idempotency.run('c', 1, () => 1, { scope: {} });
      await createIdempotency({ store, operation: 'op', scope: () => ({}) }).run('d', 1, () => 1);
      await createDedupe({ store }).dedupe('m1', () => 1);
      expect(warning).not.toHaveBeenCalled();
      await idempotency.run('e', 1, () => 1);
      await idempotency.run('f', 1, () => 1);
      await idempotency.runInTransaction('g', 1, async () => 1);
      expect(warning).toHaveBeenCalledTimes(1);
      expect(warning.mock.calls[0]?.[1]).toMatchObject({ code: 'FLOWPROOF_UNSCOPED_IDEMPOTENCY' });
      expect(String(warning.mock.calls[0]?.[0])).toMatch(/scope/);
    } finally {
      warning.mockRestore();
    }
  });
});
