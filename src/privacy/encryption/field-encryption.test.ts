import { createCipheriv, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryBackend, createMemoryDataKeyStore } from '../../adapters/memory/index.js';
import { FlowproofError } from '../../core/errors.js';
import { CIPHERTEXT_OVERHEAD_BYTES, type EncryptionContext } from './ciphertext-format.js';
import { createFieldEncryption, type FieldEncryptionOptions } from './field-encryption.js';
import type { KeyProvider } from './key-provider.js';
import { createLocalKeyProvider } from './local-key-provider.js';

const kek = randomBytes(32);
const users: EncryptionContext = { table: 'users', column: 'email', row: '42' };

async function setup(options: Partial<FieldEncryptionOptions> = {}) {
  const store = createMemoryDataKeyStore({ backend: createMemoryBackend() });
  await store.migrate();
  const keyProvider = createLocalKeyProvider({ keys: { k1: kek }, current: 'k1' });
  const encryption = createFieldEncryption({ store, keyProvider, ...options });
  return { store, keyProvider, encryption };
}

/** The code of what `promise` rejects with (and that it is a FlowproofError). */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(FlowproofError);
    return (error as FlowproofError).code;
  }
  throw new Error('expected a rejection');
}

describe('createFieldEncryption: encrypt and decrypt', () => {
  it('round-trips any text, with exactly 33 bytes of overhead', async () => {
    const { encryption } = await setup();
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 200 }), async (text) => {
        const stored = await encryption.encrypt(text, users);
        expect(stored).toMatch(/^[A-Za-z0-9_-]*$/);
        expect(Buffer.from(stored, 'base64url').length).toBe(
          Buffer.byteLength(text) + CIPHERTEXT_OVERHEAD_BYTES,
        );
        expect(await encryption.decrypt(stored, users)).toBe(text);
      }),
      { numRuns: 200 },
    );
  });

  it('round-trips bytes', async () => {
    const { encryption } = await setup();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        const sealed = await encryption.encryptBytes(bytes, users);
        expect(sealed.byteLength).toBe(bytes.byteLength + 33);
        expect(Buffer.from(await encryption.decryptBytes(sealed, users))).toEqual(
          Buffer.from(bytes),
        );
        // A plain Uint8Array (not a Buffer), at an offset in a larger buffer.
        const copy = new Uint8Array(sealed.byteLength + 3);
        copy.set(sealed, 3);
        expect(Buffer.from(await encryption.decryptBytes(copy.subarray(3), users))).toEqual(
          Buffer.from(bytes),
        );
      }),
      { numRuns: 100 },
    );
  });

  it('uses a fresh IV each time: the same text encrypts differently', async () => {
    const { encryption } = await setup();
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(await encryption.encrypt('same', users));
    expect(seen.size).toBe(2000);
    const ivs = new Set(
      [...seen].map((text) => Buffer.from(text, 'base64url').subarray(5, 17).toString('hex')),
    );
    expect(ivs.size).toBe(2000);
  });

  it('never returns garbage: every flipped bit and every truncation is refused', async () => {
    const { encryption } = await setup();
    const sealed = Buffer.from(
      await encryption.encryptBytes(Buffer.from('ana@example.com'), users),
    );
    const allowed = new Set(['DECRYPTION_FAILED', 'KEY_UNKNOWN', 'CIPHERTEXT_INVALID']);
    for (let at = 0; at < sealed.length; at++) {
      for (let bit = 0; bit < 8; bit++) {
        const tampered = Buffer.from(sealed);
        tampered[at] = (tampered[at] as number) ^ (1 << bit);
        const code = await codeOf(encryption.decryptBytes(tampered, users));
        expect(allowed.has(code)).toBe(true);
        // The text form too.
        expect(
          allowed.has(await codeOf(encryption.decrypt(tampered.toString('base64url'), users))),
        ).toBe(true);
      }
    }
    for (let length = 0; length < sealed.length; length++) {
      expect(
        allowed.has(await codeOf(encryption.decryptBytes(sealed.subarray(0, length), users))),
      ).toBe(true);
    }
  });

  it('never returns garbage for arbitrary text or bytes (property)', async () => {
    const { encryption } = await setup();
    const stored = await encryption.encrypt('value', users);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.base64String(),
          fc.constant(stored.slice(0, -1)),
          fc.constant(`${stored}A`),
        ),
        async (text) => {
          fc.pre(text !== stored);
          await expect(encryption.decrypt(text, users)).rejects.toBeInstanceOf(FlowproofError);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses text that is not canonical base64url (CIPHERTEXT_INVALID encoding)', async () => {
    const { encryption } = await setup();
    const stored = await encryption.encrypt('v', users);
    for (const text of [`${stored}=`, `${stored.slice(0, 10)}+${stored.slice(11)}`, 'A', 'a b']) {
      await expect(encryption.decrypt(text, users)).rejects.toMatchObject({
        code: 'CIPHERTEXT_INVALID',
        details: { reason: 'encoding' },
      });
    }
    // 'v' gives 34 bytes: 46 characters, the last carrying 4 unused bits that must be zero.
    expect(stored.length % 4).toBe(2);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(stored.at(-1) as string);
    const sameBytes = stored.slice(0, -1) + alphabet[last | 1];
    expect(Buffer.from(sameBytes, 'base64url')).toEqual(Buffer.from(stored, 'base64url'));
    await expect(encryption.decrypt(sameBytes, users)).rejects.toMatchObject({
      code: 'CIPHERTEXT_INVALID',
    });
  });

  it('gives CIPHERTEXT_INVALID length and version', async () => {
    const { encryption } = await setup();
    await expect(encryption.decrypt('', users)).rejects.toMatchObject({
      details: { reason: 'length' },
    });
    const sealed = Buffer.from(await encryption.encryptBytes(new Uint8Array(3), users));
    sealed[0] = 3;
    await expect(encryption.decryptBytes(sealed, users)).rejects.toMatchObject({
      code: 'CIPHERTEXT_INVALID',
      details: { reason: 'version' },
    });
    expect(() => encryption.keyIdOf(sealed)).toThrow(
      expect.objectContaining({ code: 'CIPHERTEXT_INVALID' }),
    );
  });

  it('binds a value to its table, column and row (DECRYPTION_FAILED elsewhere)', async () => {
    const { encryption } = await setup();
    const stored = await encryption.encrypt('ana@example.com', users);
    for (const other of [
      { ...users, table: 'user' },
      { ...users, column: 'mail' },
      { ...users, row: '43' },
      { table: 'users', column: 'email' },
      // Shifting characters between the parts must not give the same associated data.
      { table: 'usersemail', column: '', row: '42' },
      { table: 'users', column: 'email4', row: '2' },
    ]) {
      if (other.column === '') continue;
      await expect(encryption.decrypt(stored, other)).rejects.toMatchObject({
        code: 'DECRYPTION_FAILED',
        details: { keyId: 1 },
      });
    }
    const rowless = await encryption.encrypt('x', { table: 'a', column: 'b' });
    await expect(
      encryption.decrypt(rowless, { table: 'a', column: 'b', row: '' }),
    ).rejects.toMatchObject({
      code: 'DECRYPTION_FAILED',
    });
    expect(await encryption.decrypt(rowless, { table: 'a', column: 'b' })).toBe('x');
  });

  it('checks its arguments with TypeErrors naming them', async () => {
    const { encryption } = await setup();
    await expect(encryption.encrypt(1 as never, users)).rejects.toThrow(
      /plaintext must be a string/,
    );
    await expect(encryption.encrypt('x', { table: '', column: 'c' })).rejects.toThrow(
      /context\.table/,
    );
    await expect(encryption.encrypt('x', { table: 't' } as never)).rejects.toThrow(
      /context\.column/,
    );
    await expect(
      encryption.encrypt('x', { table: 't', column: 'c', row: 1 } as never),
    ).rejects.toThrow(/context\.row/);
    await expect(encryption.decrypt(null as never, users)).rejects.toThrow(TypeError);
    // A misspelled `subject` would encrypt under the shared key, out of reach of shred().
    await expect(
      encryption.encrypt('x', { table: 't', column: 'c', subjet: 'user-1' } as never),
    ).rejects.toThrow(/context\.subjet/);
    await expect(
      encryption.decrypt('x', { table: 't', column: 'c', rows: '1' } as never),
    ).rejects.toThrow(/context\.rows/);
    await expect(
      encryption.blindIndex('x', { table: 't', column: 'c', colum: 'd' } as never),
    ).rejects.toThrow(/context\.colum/);
    await expect(encryption.retire(0)).rejects.toThrow(/keyId/);
    expect(() => createFieldEncryption({} as never)).toThrow(/options\.store/);
    const { store, keyProvider } = await setup();
    expect(() => createFieldEncryption({ store, keyProvider, cacheTtl: 5 } as never)).toThrow(
      /options\.cacheTtl/,
    );
    expect(() => createFieldEncryption({ store, keyProvider, cacheTtlMs: -1 })).toThrow(
      /options\.cacheTtlMs/,
    );
    expect(() => createFieldEncryption({ store, keyProvider: {} as never })).toThrow(
      /options\.keyProvider/,
    );
  });

  it('interoperates with plain AES-256-GCM: the format is what it says', async () => {
    // Encrypt by hand with a key we control, through a provider that hands it out, and decrypt
    // with flowproof: proves the layout and the associated data encoding.
    const dataKey = randomBytes(32);
    const provider: KeyProvider = {
      currentKeyId: () => 'plain',
      wrap: () => Buffer.from('wrapped'),
      unwrap: () => Buffer.from(dataKey),
    };
    const { store } = await setup();
    // No cache: the key created by the first encrypt is read back through the provider.
    const encryption = createFieldEncryption({ store, keyProvider: provider, cacheTtlMs: 0 });
    await encryption.encrypt('warm-up', { table: 't', column: 'c' });
    const header = Buffer.from([1, 0, 0, 0, 1]);
    const iv = randomBytes(12);
    const lp = (text: string) => {
      const bytes = Buffer.from(text);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return Buffer.concat([length, bytes]);
    };
    const aad = Buffer.concat([header, lp('t'), lp('c'), Buffer.from([1]), lp('r')]);
    const cipher = createCipheriv('aes-256-gcm', dataKey, iv).setAAD(aad);
    const body = Buffer.concat([cipher.update('hello'), cipher.final()]);
    const stored = Buffer.concat([header, iv, body, cipher.getAuthTag()]).toString('base64url');
    expect(await encryption.decrypt(stored, { table: 't', column: 'c', row: 'r' })).toBe('hello');
  });
});

describe('createFieldEncryption: keys', () => {
  it('creates field key 1 on first use and names it in every ciphertext', async () => {
    const { encryption, store } = await setup();
    expect(await store.newestFieldKey()).toBeUndefined();
    const stored = await encryption.encrypt('x', users);
    expect(encryption.keyIdOf(stored)).toBe(1);
    expect(encryption.keyIdOf(Buffer.from(stored, 'base64url'))).toBe(1);
    expect((await store.newestFieldKey())?.kekId).toBe('k1');
  });

  it('rotate(): new values use the new key at once, old ones still decrypt', async () => {
    const { encryption } = await setup();
    const before = await encryption.encrypt('old', users);
    const { keyId } = await encryption.rotate();
    expect(keyId).toBe(2);
    const after = await encryption.encrypt('new', users);
    expect(encryption.keyIdOf(after)).toBe(2);
    expect(await encryption.decrypt(before, users)).toBe('old');
  });

  it('another instance picks up a rotation once its cached key expires', async () => {
    const { store, keyProvider, encryption } = await setup();
    const other = createFieldEncryption({ store, keyProvider, cacheTtlMs: 0 });
    const cached = createFieldEncryption({ store, keyProvider, cacheTtlMs: 60_000 });
    await encryption.encrypt('x', users);
    expect(encryption.keyIdOf(await cached.encrypt('x', users))).toBe(1);
    await encryption.rotate();
    expect(encryption.keyIdOf(await other.encrypt('x', users))).toBe(2);
    expect(encryption.keyIdOf(await cached.encrypt('x', users))).toBe(1);
  });

  it('retire(): the key no longer decrypts (KEY_RETIRED) nor encrypts', async () => {
    const { encryption } = await setup();
    const stored = await encryption.encrypt('x', users);
    await encryption.rotate();
    await encryption.retire(1);
    await expect(encryption.decrypt(stored, users)).rejects.toMatchObject({
      code: 'KEY_RETIRED',
      details: { keyId: 1 },
    });
    // Retiring the newest field key: the next encrypt makes a new one.
    await encryption.retire(2);
    expect(encryption.keyIdOf(await encryption.encrypt('y', users))).toBe(3);
    await expect(encryption.retire(99)).rejects.toMatchObject({
      code: 'KEY_UNKNOWN',
      details: { keyId: 99 },
    });
  });

  it('KEY_UNKNOWN for a key another store holds', async () => {
    const { encryption } = await setup();
    const { encryption: other } = await setup();
    await other.encrypt('other store has key 1 only', users);
    await encryption.encrypt('x', users);
    await encryption.rotate();
    const stored = await encryption.encrypt('x', users);
    await expect(other.decrypt(stored, users)).rejects.toMatchObject({
      code: 'KEY_UNKNOWN',
      details: { keyId: 2 },
    });
  });

  it('keeps unwrapped keys for cacheTtlMs: one unwrap for many calls, then again', async () => {
    const { store } = await setup();
    let unwraps = 0;
    const inner = createLocalKeyProvider({ keys: { k1: kek }, current: 'k1' });
    const counting: KeyProvider = {
      currentKeyId: () => 'k1',
      wrap: (id, key) => inner.wrap(id, key),
      unwrap: (id, wrapped) => {
        unwraps++;
        return inner.unwrap(id, wrapped);
      },
    };
    const writer = createFieldEncryption({ store, keyProvider: counting });
    const stored = await writer.encrypt('x', users);
    const reader = createFieldEncryption({ store, keyProvider: counting, cacheTtlMs: 50 });
    await Promise.all(Array.from({ length: 20 }, () => reader.decrypt(stored, users)));
    expect(unwraps).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await reader.decrypt(stored, users);
    expect(unwraps).toBe(2);
  });

  it('a failing key provider gives KEY_PROVIDER_FAILED with its error as cause, and nothing is stored', async () => {
    const { store } = await setup();
    const cause = new Error('KMS unavailable');
    const failing: KeyProvider = {
      currentKeyId: () => 'kms-1',
      wrap: () => Promise.reject(cause),
      unwrap: () => {
        throw cause;
      },
    };
    const encryption = createFieldEncryption({ store, keyProvider: failing });
    await expect(encryption.encrypt('x', users)).rejects.toMatchObject({
      code: 'KEY_PROVIDER_FAILED',
      details: { operation: 'wrap', kekId: 'kms-1' },
      cause,
    });
    expect(await store.newestFieldKey()).toBeUndefined();
    const throwingId: KeyProvider = {
      ...failing,
      currentKeyId: () => {
        throw cause;
      },
    };
    await expect(
      createFieldEncryption({ store, keyProvider: throwingId }).encrypt('x', users),
    ).rejects.toMatchObject({
      code: 'KEY_PROVIDER_FAILED',
    });
  });

  it('a provider that unwraps to the wrong size gives KEY_PROVIDER_FAILED', async () => {
    const { store, encryption } = await setup();
    const stored = await encryption.encrypt('x', users);
    const short: KeyProvider = {
      currentKeyId: () => 'k1',
      wrap: () => new Uint8Array(8),
      unwrap: () => new Uint8Array(16),
    };
    await expect(
      createFieldEncryption({ store, keyProvider: short }).decrypt(stored, users),
    ).rejects.toMatchObject({
      code: 'KEY_PROVIDER_FAILED',
      details: { operation: 'unwrap', kekId: 'k1' },
    });
  });

  it('never shows a data key: inspect and JSON of the instance, errors', async () => {
    const { encryption } = await setup();
    const stored = await encryption.encrypt('x', users);
    const indexKey = Buffer.from(await encryption.indexKey('tokens'));
    const text = inspect(encryption, { depth: 20, showHidden: true }) + JSON.stringify(encryption);
    expect(text).not.toContain(indexKey.toString('base64'));
    expect(text).not.toContain(indexKey.toString('hex'));
    const failure = await encryption
      .decrypt(stored, { ...users, row: '1' })
      .catch((error: unknown) => error);
    expect(inspect(failure, { depth: 20 })).not.toContain(indexKey.toString('hex'));
  });
});

describe('createFieldEncryption: logging', () => {
  it('logs key events with key ids only, never key material or values', async () => {
    const lines: string[] = [];
    const logger = {
      debug: (fields: object, message?: string) => lines.push(JSON.stringify({ fields, message })),
      info: (fields: object, message?: string) => lines.push(JSON.stringify({ fields, message })),
      warn: (fields: object, message?: string) => lines.push(JSON.stringify({ fields, message })),
      error: (fields: object, message?: string) => lines.push(JSON.stringify({ fields, message })),
      child: () => logger,
    };
    const { encryption } = await setup({ logger });
    const secret = await encryption.indexKey('tokens');
    await encryption.encrypt('ana@example.com', { ...users, subject: 'ana' });
    await encryption.rotate();
    await encryption.shred('ana');
    await encryption.retire(2);
    const text = lines.join('\n');
    expect(text).toMatch(/privacy\.field-key\.rotated/);
    expect(text).toMatch(/privacy\.subject-key\.shredded/);
    expect(text).toMatch(/privacy\.data-key\.retired/);
    for (const form of [
      Buffer.from(secret).toString('base64'),
      Buffer.from(secret).toString('hex'),
      kek.toString('base64'),
    ]) {
      expect(text).not.toContain(form);
    }
    expect(text).not.toContain('ana@example.com');
  });
});

describe('createFieldEncryption: subject keys', () => {
  it('encrypts under the subject’s own key, created once even when many calls race', async () => {
    const { encryption, store } = await setup();
    const context = { ...users, subject: 'user-42' };
    const stored = await Promise.all(
      Array.from({ length: 10 }, (_, i) => encryption.encrypt(`v${i}`, context)),
    );
    const ids = new Set(stored.map((text) => encryption.keyIdOf(text)));
    expect(ids.size).toBe(1);
    const row = await store.byName('subject', 'user-42');
    expect(ids.has(row?.id ?? -1)).toBe(true);
    // Decrypting needs no subject.
    expect(await encryption.decrypt(stored[3] as string, users)).toBe('v3');
  });

  it('two instances racing to create a subject key end up with one', async () => {
    const { store, keyProvider } = await setup();
    const a = createFieldEncryption({ store, keyProvider });
    const b = createFieldEncryption({ store, keyProvider });
    const context = { ...users, subject: 's' };
    const [x, y] = await Promise.all([a.encrypt('1', context), b.encrypt('2', context)]);
    expect(a.keyIdOf(x as string)).toBe(b.keyIdOf(y as string));
    expect(await b.decrypt(x as string, users)).toBe('1');
  });

  it('shred(): the subject’s data is KEY_SHREDDED at once here and in another instance', async () => {
    const { encryption, store, keyProvider } = await setup();
    const stored = await encryption.encrypt('ana@example.com', { ...users, subject: 'ana' });
    const fieldValue = await encryption.encrypt('not hers', users);
    const other = createFieldEncryption({ store, keyProvider, cacheTtlMs: 0 });
    expect(await other.decrypt(stored, users)).toBe('ana@example.com');
    const receipt = await encryption.shred('ana', { reason: 'erasure request' });
    expect(receipt).toMatchObject({
      subject: 'ana',
      keyId: encryption.keyIdOf(stored),
      alreadyShredded: false,
    });
    expect(receipt.shreddedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    for (const instance of [encryption, other]) {
      await expect(instance.decrypt(stored, users)).rejects.toMatchObject({
        code: 'KEY_SHREDDED',
        details: { subject: 'ana', keyId: receipt.keyId, shreddedAt: receipt.shreddedAt },
      });
      await expect(instance.encrypt('new', { ...users, subject: 'ana' })).rejects.toMatchObject({
        code: 'KEY_SHREDDED',
      });
      expect(await instance.decrypt(fieldValue, users)).toBe('not hers');
      expect(await instance.isShredded('ana')).toBe(true);
    }
    expect(await encryption.isShredded('bob')).toBe(false);
    const again = await encryption.shred('ana');
    expect(again).toMatchObject({
      keyId: receipt.keyId,
      shreddedAt: receipt.shreddedAt,
      alreadyShredded: true,
    });
  });

  it('shredding a subject that never had a key leaves a tombstone: no key can be made for them', async () => {
    const { encryption } = await setup();
    const receipt = await encryption.shred('never');
    expect(receipt.alreadyShredded).toBe(false);
    await expect(encryption.encrypt('x', { ...users, subject: 'never' })).rejects.toMatchObject({
      code: 'KEY_SHREDDED',
    });
  });

  it('a shred in another process is seen after cacheTtlMs', async () => {
    const { store, keyProvider } = await setup();
    const reader = createFieldEncryption({ store, keyProvider, cacheTtlMs: 40 });
    const eraser = createFieldEncryption({ store, keyProvider });
    const stored = await reader.encrypt('x', { ...users, subject: 's' });
    await reader.decrypt(stored, users);
    await eraser.shred('s');
    // Documented window: still readable from the cache…
    expect(await reader.decrypt(stored, users)).toBe('x');
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(reader.decrypt(stored, users)).rejects.toMatchObject({ code: 'KEY_SHREDDED' });
  });
});

describe('createFieldEncryption: deterministic mode, blind index, index keys', () => {
  it('encryptDeterministic: equal inputs give equal ciphertexts (version 2), decrypt ignores the row', async () => {
    const { encryption } = await setup();
    const context = { table: 'users', column: 'ssn' };
    const a = await encryption.encryptDeterministic('123-45-6789', context);
    expect(await encryption.encryptDeterministic('123-45-6789', context)).toBe(a);
    expect(Buffer.from(a, 'base64url')[0]).toBe(2);
    expect(await encryption.encryptDeterministic('123-45-6780', context)).not.toBe(a);
    expect(
      await encryption.encryptDeterministic('123-45-6789', { ...context, column: 'tin' }),
    ).not.toBe(a);
    expect(await encryption.decrypt(a, { ...context, row: 'any' })).toBe('123-45-6789');
    await expect(encryption.decrypt(a, { ...context, column: 'tin' })).rejects.toMatchObject({
      code: 'DECRYPTION_FAILED',
    });
    // Changing the version byte to 1 must not authenticate (the header is associated data).
    const asRandom = Buffer.from(a, 'base64url');
    asRandom[0] = 1;
    await expect(encryption.decryptBytes(asRandom, context)).rejects.toMatchObject({
      code: 'DECRYPTION_FAILED',
    });
  });

  it('encryptDeterministic round-trips any text (property)', async () => {
    const { encryption } = await setup();
    const context = { table: 't', column: 'c', subject: 'p' };
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 100 }), async (text) => {
        const sealed = await encryption.encryptDeterministic(text, context);
        expect(await encryption.encryptDeterministic(text, context)).toBe(sealed);
        expect(await encryption.decrypt(sealed, context)).toBe(text);
      }),
      { numRuns: 100 },
    );
  });

  it('blindIndex: stable per table and column, different across them, under the blind-index key', async () => {
    const { encryption, store, keyProvider } = await setup();
    const context = { table: 'users', column: 'email' };
    const hash = await encryption.blindIndex('ana@example.com', context);
    expect(hash).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await encryption.blindIndex('ana@example.com', context)).toBe(hash);
    expect(
      await encryption.blindIndex('ana@example.com', { table: 'users', column: 'mail' }),
    ).not.toBe(hash);
    expect(
      await encryption.blindIndex('ana@example.com', { table: 'user', column: 'semail' }),
    ).not.toBe(hash);
    const other = createFieldEncryption({ store, keyProvider, cacheTtlMs: 0 });
    expect(await other.blindIndex('ana@example.com', context)).toBe(hash);
    expect((await store.byName('index', 'blind-index'))?.purpose).toBe('index');
  });

  it('indexKey: a stable 32-byte secret per name', async () => {
    const { encryption, store, keyProvider } = await setup();
    const key = await encryption.indexKey('tokens');
    expect(key.byteLength).toBe(32);
    const other = createFieldEncryption({ store, keyProvider });
    expect(Buffer.from(await other.indexKey('tokens'))).toEqual(Buffer.from(key));
    expect(Buffer.from(await other.indexKey('other'))).not.toEqual(Buffer.from(key));
    key.fill(0);
    expect(Buffer.from(await encryption.indexKey('tokens'))).not.toEqual(Buffer.alloc(32));
    await expect(encryption.indexKey('' as never)).rejects.toThrow(/name/);
  });
});
