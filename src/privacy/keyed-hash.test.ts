import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createKeyedHasher } from './keyed-hash.js';

const key = randomBytes(32);

describe('createKeyedHasher', () => {
  it('hashes equal values (after normalize) alike per context, and contexts apart (property)', () => {
    const hasher = createKeyedHasher({ key, normalize: (value) => value.trim().toLowerCase() });
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (value, a, b) => {
        expect(hasher.hash(` ${value.toUpperCase()} `, a)).toBe(
          hasher.hash(value.toLowerCase(), a),
        );
        if (a !== b) expect(hasher.hash(value, a)).not.toBe(hasher.hash(value, b));
      }),
    );
  });

  it('refuses a misspelled option with a TypeError naming it', () => {
    expect(() => createKeyedHasher({ key, normalise: (value: string) => value } as never)).toThrow(
      /options\.normalise/,
    );
  });

  it('a normalize that does not return a string is a TypeError naming it, not an engine error', () => {
    const hasher = createKeyedHasher({ key, normalize: () => 5 as never });
    expect(() => hasher.hash('x', 'users.email')).toThrow(
      expect.objectContaining({
        name: 'TypeError',
        message: expect.stringMatching(/^options\.normalize must return a string/),
      }),
    );
  });

  it('never shows its key', () => {
    const hasher = createKeyedHasher({ key: key.toString('base64') });
    const shown = `${inspect(hasher, { showHidden: true, depth: 5 })}${JSON.stringify(hasher)}`;
    expect(shown).not.toContain(key.toString('base64'));
    expect(shown).not.toContain(key.toString('hex'));
  });
});
