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

  it('refuses a savepoint started while a sibling savepoint is running', async () => {
    const backend = createMemoryBackend();
    let results: PromiseSettledResult<unknown>[] = [];
    await backend.transaction(async (tx) => {
      results = await Promise.allSettled([
        tx.transaction(async (a) => {
          a.collection('t').set('pA', 1);
          await sleep(10);
          throw new Error('A fails');
        }),
        tx.transaction(async (b) => {
          b.collection('t').set('pB', 1);
          await sleep(20);
        }),
      ]);
      tx.collection('t').set('after', 1);
    });
    expect(results[0]).toMatchObject({ status: 'rejected', reason: { message: 'A fails' } });
    expect(results[1]).toMatchObject({
      status: 'rejected',
      reason: {
        code: 'TRANSACTION_UNSUPPORTED',
        details: { backend: 'memory', reason: 'concurrent-savepoints' },
      },
    });
    expect([...backend.collection('t').keys()]).toEqual(['after']);
  });

  it('still runs savepoints one after another and nested inside each other', async () => {
    const backend = createMemoryBackend();
    const set = (tx: typeof backend, key: string) => tx.collection('t').set(key, 1);
    await backend.transaction(async (tx) => {
      set(tx, 'outer1');
      await tx.transaction(async (mid) => {
        set(mid, 'mid');
        await mid
          .transaction(async (inner) => {
            set(inner, 'inner');
            throw new Error('inner');
          })
          .catch(() => {});
        set(mid, 'mid2');
      });
      await tx
        .transaction(async (bad) => {
          set(bad, 'bad');
          throw new Error('bad');
        })
        .catch(() => {});
      set(tx, 'outer2');
    });
    expect([...backend.collection('t').keys()]).toEqual(['outer1', 'mid', 'mid2', 'outer2']);
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
