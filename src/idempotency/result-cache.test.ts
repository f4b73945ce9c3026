import { afterEach, describe, expect, it, vi } from 'vitest';
import { ResultCache } from './result-cache.js';

describe('ResultCache', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps at most maxEntries, evicting the least recently used', () => {
    const cache = new ResultCache(4, 60_000);
    for (const key of ['a', 'b', 'c', 'd'])
      cache.set(key, 'request', `f-${key}`, `p-${key}`, 60_000);
    // 'a' is the oldest and in the older half: a hit moves it to the back.
    expect(cache.get('a')?.payload).toBe('p-a');
    cache.set('e', 'request', 'f-e', 'p-e', 60_000);
    expect(cache.get('b')).toBeUndefined();
    expect(['a', 'c', 'd', 'e'].map((key) => cache.get(key)?.payload)).toEqual([
      'p-a',
      'p-c',
      'p-d',
      'p-e',
    ]);
  });

  it('never holds more than maxEntries under any mix of sets and hits', () => {
    const cache = new ResultCache(8, 60_000);
    let present = 0;
    for (let i = 0; i < 1_000; i++) {
      cache.set(`k${i % 37}`, 'request', 'f', 'p', 60_000);
      cache.get(`k${(i * 7) % 37}`);
    }
    for (let i = 0; i < 37; i++) if (cache.get(`k${i}`)) present += 1;
    expect(present).toBe(8);
  });

  it('expires entries at the record retention or the ttl, whichever comes first', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const cache = new ResultCache(10, 1_000);
    cache.set('short', 'request', 'f', 'p', 200);
    cache.set('long', 'request', 'f', 'p', 60_000);
    cache.set('gone', 'request', 'f', 'p', 0);
    expect(cache.get('gone')).toBeUndefined();
    vi.advanceTimersByTime(250);
    expect(cache.get('short')).toBeUndefined();
    expect(cache.get('long')).toBeDefined();
    vi.advanceTimersByTime(800);
    expect(cache.get('long')).toBeUndefined();
  });

  it('replaces an entry set again under the same key', () => {
    const cache = new ResultCache(2, 60_000);
    cache.set('a', 'request', 'f1', 'p1', 60_000);
    cache.set('a', 'request', 'f2', 'p2', 60_000);
    cache.set('b', 'request', 'f', 'p', 60_000);
    expect(cache.get('a')).toMatchObject({ fingerprint: 'f2', payload: 'p2' });
    expect(cache.get('b')).toBeDefined();
  });
});
