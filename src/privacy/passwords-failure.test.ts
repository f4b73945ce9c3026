import { describe, expect, it, vi } from 'vitest';
import { FlowproofError } from '../core/errors.js';

// scrypt fails only when the process cannot allocate its memory; make it fail on demand.
vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  return {
    ...original,
    scrypt: (...args: unknown[]) => {
      const callback = args.at(-1) as (error: Error | null, key?: Buffer) => void;
      const error = Object.assign(new RangeError('Invalid scrypt params: memory limit exceeded'), {
        code: 'ERR_CRYPTO_INVALID_SCRYPT_PARAMS',
      });
      callback(error);
    },
  };
});

const { hashPassword, verifyPassword } = await import('./passwords.js');

describe('when scrypt fails', () => {
  it('hashPassword and verifyPassword fail with PASSWORD_HASH_FAILED, the engine error as cause', async () => {
    const hashing = await hashPassword('pw', { logN: 10 }).catch((error: unknown) => error);
    expect(hashing).toBeInstanceOf(FlowproofError);
    expect(hashing).toMatchObject({ code: 'PASSWORD_HASH_FAILED', details: { operation: 'hash' } });
    expect((hashing as Error).cause).toBeInstanceOf(RangeError);
    const stored = `$scrypt$ln=10,r=8,p=1$${'A'.repeat(21)}A$${'A'.repeat(42)}A`;
    const verifying = await verifyPassword('pw', stored).catch((error: unknown) => error);
    expect(verifying).toMatchObject({
      code: 'PASSWORD_HASH_FAILED',
      details: { operation: 'verify' },
    });
  });
});
