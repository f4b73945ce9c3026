import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlowproofError } from '../core/errors.js';
import {
  DEFAULT_PASSWORD_HASH_PARAMS,
  hashPassword,
  type PasswordHashParams,
  passwordNeedsRehash,
  verifyPassword,
} from './passwords.js';

/** Cheap parameters (1 MiB, a few milliseconds) for the tests that are not about cost. */
const FAST: PasswordHashParams = { logN: 10, blockSize: 8, parallelization: 1 };

/** The error `promise` (or `run`) fails with. */
async function failure(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

async function expectInvalid(stored: string, reason: string): Promise<void> {
  const error = await failure(() => verifyPassword('secret', stored));
  expect(error).toBeInstanceOf(FlowproofError);
  expect(error).toMatchObject({ code: 'PASSWORD_HASH_INVALID', details: { reason } });
  expect(() => passwordNeedsRehash(stored)).toThrow(FlowproofError);
}

describe('hashPassword and verifyPassword', () => {
  it('writes PHC text with the parameters and salt, and verifies only the same password', async () => {
    const stored = await hashPassword('correct horse battery staple', FAST);
    expect(stored).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await verifyPassword('correct horse battery staple', stored)).toBe(true);
    expect(await verifyPassword('correct horse battery stapler', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('salts every hash, so the same password hashes differently each time', async () => {
    const [a, b] = await Promise.all([hashPassword('pw', FAST), hashPassword('pw', FAST)]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('pw', a)).toBe(true);
    expect(await verifyPassword('pw', b)).toBe(true);
  });

  it('verifies exactly the hashed password, whatever it is (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary' }), fc.string(), async (password, other) => {
        const stored = await hashPassword(password, { logN: 10, blockSize: 1 });
        expect(await verifyPassword(password, stored)).toBe(true);
        if (other.normalize('NFC') !== password.normalize('NFC')) {
          expect(await verifyPassword(other, stored)).toBe(false);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('normalizes to NFC, so a composed and a decomposed é are one password', async () => {
    const stored = await hashPassword('caf\u00e9', FAST);
    expect(await verifyPassword('cafe\u0301', stored)).toBe(true);
  });

  it('refuses to hash a lone surrogate, and never verifies one', async () => {
    await expect(hashPassword('a\ud800', FAST)).rejects.toThrow(
      new TypeError('password must be well-formed Unicode (it holds a lone surrogate)'),
    );
    // Both would be encoded as U+FFFD and hash alike if they were accepted.
    const stored = await hashPassword('a\ufffd', FAST);
    expect(await verifyPassword('a\ud800', stored)).toBe(false);
    expect(await verifyPassword('a\ufffd', stored)).toBe(true);
  });

  it('uses N = 2^17, r = 8, p = 1 by default and verifies such a hash', async () => {
    expect(DEFAULT_PASSWORD_HASH_PARAMS).toEqual({ logN: 17, blockSize: 8, parallelization: 1 });
    const stored = await hashPassword('default cost');
    expect(stored.startsWith('$scrypt$ln=17,r=8,p=1$')).toBe(true);
    expect(await verifyPassword('default cost', stored)).toBe(true);
    expect(passwordNeedsRehash(stored)).toBe(false);
  });

  it('refuses bad arguments with a TypeError naming them', async () => {
    await expect(hashPassword(42 as unknown as string)).rejects.toThrow(
      new TypeError('password must be a string, got number'),
    );
    await expect(hashPassword('pw', { logN: 9 })).rejects.toThrow(
      /^params\.logN must be an integer between 10 and 20/,
    );
    await expect(hashPassword('pw', { blockSize: 0 })).rejects.toThrow(/^params\.blockSize/);
    await expect(hashPassword('pw', { parallelization: 17 })).rejects.toThrow(
      /^params\.parallelization/,
    );
    await expect(hashPassword('pw', { logN: 20 })).rejects.toThrow(/^params need 1024 MiB/);
    await expect(hashPassword('pw', { logN: 18, parallelization: 16 })).rejects.toThrow(
      /^params cost more/,
    );
    await expect(hashPassword('pw', { cost: 17 } as never)).rejects.toThrow(
      /unknown option params\.cost/,
    );
    await expect(verifyPassword(undefined as unknown as string, '$scrypt$')).rejects.toThrow(
      /^password must be a string/,
    );
    await expect(verifyPassword('pw', null as unknown as string)).rejects.toThrow(
      /^stored must be a string/,
    );
  });
});

describe('stored hashes that hashPassword did not write', () => {
  it('are PASSWORD_HASH_INVALID, with the reason', async () => {
    const good = await hashPassword('secret', FAST);
    const [, , , salt, hash] = good.split('$');
    await expectInvalid('', 'format');
    await expectInvalid('secret', 'format');
    await expectInvalid(`$argon2id$v=19$m=65536,t=3,p=4$${salt}$${hash}`, 'format');
    await expectInvalid(`$scrypt$ln=10,r=8,p=1$${salt}`, 'format');
    await expectInvalid(`$scrypt$ln=10,r=8,p=1$${salt}$${hash}=`, 'format');
    await expectInvalid(`$scrypt$ln=10,r=8,p=1$${salt}$${hash}\n`, 'format');
    await expectInvalid(`$scrypt$ln=9,r=8,p=1$${salt}$${hash}`, 'parameters');
    await expectInvalid(`$scrypt$ln=10,r=0,p=1$${salt}$${hash}`, 'parameters');
    await expectInvalid(`$scrypt$ln=10,r=8,p=17$${salt}$${hash}`, 'parameters');
    await expectInvalid(`$scrypt$ln=10,r=8,p=1$QUJD$${hash}`, 'salt');
    await expectInvalid(`$scrypt$ln=10,r=8,p=1$${salt}$QUJD`, 'hash');
    // Non-canonical base64: the last character carries bits the decoder drops.
    await expectInvalid(`$scrypt$ln=10,r=8,p=1$${salt}$${hash?.slice(0, -1)}B`, 'hash');
  });

  it('asking for gigabytes are refused before any memory is allocated', async () => {
    const good = await hashPassword('secret', FAST);
    const [, , , salt, hash] = good.split('$');
    for (const params of ['ln=20,r=8,p=1', 'ln=20,r=32,p=16', 'ln=99,r=99,p=99', 'ln=19,r=8,p=1']) {
      const started = performance.now();
      await expectInvalid(`$scrypt$${params}$${salt}$${hash}`, 'parameters');
      expect(performance.now() - started).toBeLessThan(100);
    }
  });
});

describe('passwordNeedsRehash', () => {
  it('is true when the stored parameters differ from the wanted ones', async () => {
    const stored = await hashPassword('secret', FAST);
    expect(passwordNeedsRehash(stored)).toBe(true);
    expect(passwordNeedsRehash(stored, FAST)).toBe(false);
    expect(passwordNeedsRehash(stored, { ...FAST, logN: 11 })).toBe(true);
    expect(passwordNeedsRehash(stored, { ...FAST, parallelization: 2 })).toBe(true);
    expect(() => passwordNeedsRehash(stored, { logN: 30 })).toThrow(TypeError);
  });

  it('is true for a salt or hash length other than what hashPassword writes', async () => {
    const stored = await hashPassword('secret', FAST);
    const [, , params, salt, hash] = stored.split('$');
    const longerHash = Buffer.concat([Buffer.from(hash ?? '', 'base64'), Buffer.alloc(8)])
      .toString('base64')
      .replace(/=+$/, '');
    expect(passwordNeedsRehash(`$scrypt$${params}$${salt}$${longerHash}`, FAST)).toBe(true);
  });
});
