/**
 * The warning for HTTP idempotency whose keys nothing scopes by account. In a file of its own:
 * it is said once per process, and each test file gets fresh modules.
 */
import { describe, expect, it, vi } from 'vitest';
import { createMemoryBackend } from '../../adapters/memory/memory-backend.js';
import { createMemoryIdempotencyStore } from '../../adapters/memory/memory-idempotency-store.js';
import { runWithContext } from '../../core/context.js';
import { createIdempotency } from '../idempotency.js';
import { createHttpIdempotency } from './http-idempotency.js';

async function memoryStore() {
  const store = createMemoryIdempotencyStore({ backend: createMemoryBackend() });
  await store.migrate();
  return store;
}

describe('unscoped HTTP idempotency', () => {
  it('warns once per process when nothing scopes the keys by account, and not when something does', async () => {
    const warning = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const idempotency = createIdempotency({ store: await memoryStore() });
      const ok = async () => ({ status: 201, headers: {}, body: '' });
      const request = (key: string) => ({
        method: 'POST',
        url: '/orders',
        headers: { 'idempotency-key': `"${key}"` },
        body: {},
      });
      const unscoped = createHttpIdempotency({ idempotency });
      await runWithContext({ actor: { id: 'user_1', type: 'user' } }, () =>
        unscoped.handle(request('a'), ok),
      );
      await createHttpIdempotency({ idempotency, scope: () => ({}) }).handle(request('b'), ok);
      expect(warning).not.toHaveBeenCalled();
      await unscoped.handle(request('c'), ok);
      await unscoped.handle(request('d'), ok);
      expect(warning).toHaveBeenCalledTimes(1);
      expect(warning.mock.calls[0]?.[1]).toMatchObject({ code: 'FLOWPROOF_UNSCOPED_IDEMPOTENCY' });
    } finally {
      warning.mockRestore();
    }
  });
});
