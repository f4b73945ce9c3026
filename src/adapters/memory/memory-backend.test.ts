import { describe, expect, it } from 'vitest';
import { sleep } from '../../core/async.js';
import { createMemoryBackend } from './memory-backend.js';

const closed = expect.objectContaining({ code: 'BACKEND_CLOSED' });

describe('createMemoryBackend', () => {
  it('runs a synchronous exclusive() callback at once when nothing holds the lock', async () => {
    const backend = createMemoryBackend();
    let ran = false;
    const done = backend.exclusive(() => {
      ran = true;
      return 'done';
    });
    expect(ran).toBe(true);
    expect(await done).toBe('done');
  });

  it('keeps an async exclusive() write when a concurrent transaction rolls back', async () => {
    const backend = createMemoryBackend();
    const values = backend.collection<number>('c');
    const exclusive = backend.exclusive(async () => {
      await sleep(10);
      values.set('x', 1);
    });
    const failing = backend.transaction(async (tx) => {
      tx.collection<number>('c').set('y', 2);
      await sleep(30);
      throw new Error('roll back');
    });
    await exclusive;
    await expect(failing).rejects.toThrow('roll back');
    expect(values.get('x')).toBe(1);
    expect(values.has('y')).toBe(false);
  });

  it('does not commit a transaction whose callback resolves after close()', async () => {
    const backend = createMemoryBackend();
    const values = backend.collection<number>('t');
    values.set('before', 1);
    const pending = backend.transaction(async (tx) => {
      tx.collection<number>('t').set('x', 1);
      await sleep(20);
      return 'ok';
    });
    await sleep(5);
    await backend.close();
    await expect(pending).rejects.toThrow(closed);
    expect([...values.keys()]).toEqual(['before']);
  });

  it('closes only itself when a transaction-bound backend is closed', async () => {
    const backend = createMemoryBackend();
    await backend.transaction(async (tx) => {
      await tx.close();
      expect(() => tx.collection('t')).toThrow(closed);
    });
    backend.collection('t').set('x', 1);
    expect(await backend.transaction(async (tx) => tx.collection('t').get('x'))).toBe(1);
    await backend.close();
    expect(() => backend.collection('t')).toThrow(closed);
  });

  it('refuses a transaction-bound backend used after its transaction ended', async () => {
    const backend = createMemoryBackend();
    let leaked: typeof backend | undefined;
    let leakedSavepoint: typeof backend | undefined;
    await backend.transaction(async (tx) => {
      leaked = tx;
      await tx.transaction(async (sp) => {
        leakedSavepoint = sp;
      });
      // The savepoint ended; its transaction goes on.
      expect(() => leakedSavepoint?.collection('t')).toThrow(closed);
      tx.collection('t').set('inside', 1);
    });
    if (!leaked) throw new Error('unreachable');
    const ended = expect.objectContaining({
      code: 'BACKEND_CLOSED',
      message: expect.stringMatching(/transaction.*ended/),
    });
    expect(() => leaked?.collection('t')).toThrow(ended);
    await expect(leaked.exclusive(() => 1)).rejects.toThrow(ended);
    await expect(leaked.transaction(async () => 1)).rejects.toThrow(ended);
    await expect(leaked.now()).rejects.toThrow(ended);
    // The backend itself is still open.
    expect(backend.collection('t').get('inside')).toBe(1);
  });
});
