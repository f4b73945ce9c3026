import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { FlowproofError } from '../../core/errors.js';
import { callKeyProvider } from './key-provider.js';
import {
  createLocalKeyProvider,
  localKeyProviderFromEnv,
  localKeyProviderFromFiles,
} from './local-key-provider.js';

const kekA = randomBytes(32);
const kekB = randomBytes(32);
const dataKey = randomBytes(32);

/** Every text form a key could leak in. */
function leakForms(key: Buffer): string[] {
  return [key.toString('base64'), key.toString('base64url'), key.toString('hex')];
}

function expectNoLeak(text: string, ...keys: Buffer[]): void {
  for (const key of keys) for (const form of leakForms(key)) expect(text).not.toContain(form);
}

describe('createLocalKeyProvider', () => {
  it('wraps and unwraps a data key under the key-encryption key it names', async () => {
    const provider = createLocalKeyProvider({
      keys: { a: kekA, b: kekB.toString('base64') },
      current: 'b',
    });
    expect(provider.currentKeyId()).toBe('b');
    for (const id of ['a', 'b']) {
      const wrapped = await provider.wrap(id, dataKey);
      expect(Buffer.from(wrapped).includes(dataKey)).toBe(false);
      expect(Buffer.from(await provider.unwrap(id, wrapped))).toEqual(dataKey);
    }
  });

  it('binds a wrapped key to its key id: unwrapping under another id fails (KEY_PROVIDER_FAILED)', async () => {
    // Both ids hold the same key: only the associated data (the id) tells them apart.
    const provider = createLocalKeyProvider({ keys: { a: kekA, b: kekA }, current: 'a' });
    const wrapped = await provider.wrap('a', dataKey);
    expect(() => provider.unwrap('b', wrapped)).toThrow(
      expect.objectContaining({
        code: 'KEY_PROVIDER_FAILED',
        details: { operation: 'unwrap', kekId: 'b' },
      }),
    );
  });

  it('refuses a tampered wrapped key, an unknown id and a short input as KEY_PROVIDER_FAILED', async () => {
    const provider = createLocalKeyProvider({ keys: { a: kekA }, current: 'a' });
    const wrapped = Buffer.from(await provider.wrap('a', dataKey));
    for (let i = 0; i < wrapped.length; i++) {
      const tampered = Buffer.from(wrapped);
      tampered[i] = (tampered[i] as number) ^ 1;
      expect(() => provider.unwrap('a', tampered)).toThrow(FlowproofError);
    }
    expect(() => provider.unwrap('a', wrapped.subarray(0, 20))).toThrow(
      expect.objectContaining({ code: 'KEY_PROVIDER_FAILED' }),
    );
    expect(() => provider.wrap('zz', dataKey)).toThrow(
      expect.objectContaining({
        code: 'KEY_PROVIDER_FAILED',
        details: { operation: 'wrap', kekId: 'zz' },
      }),
    );
  });

  it('arguments swapped: a TypeError naming kekId, which never shows the key bytes', async () => {
    const provider = createLocalKeyProvider({ keys: { a: kekA }, current: 'a' });
    const wrapped = Buffer.from(await provider.wrap('a', dataKey));
    const calls = [
      () => provider.wrap(dataKey as never, 'a' as never),
      () => provider.unwrap(wrapped as never, 'a' as never),
    ];
    for (const call of calls) {
      let thrown: unknown;
      try {
        call();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(TypeError);
      expect((thrown as Error).message).toMatch(/^kekId must be a string/);
      expectNoLeak(inspect(thrown, { depth: 5 }), dataKey, wrapped);
      expect(inspect(thrown, { depth: 5 })).not.toMatch(/\d+,\d+,\d+,\d+/);
    }
  });

  it('never shows its keys: util.inspect, JSON.stringify, errors', async () => {
    const provider = createLocalKeyProvider({ keys: { a: kekA, b: kekB }, current: 'a' });
    expectNoLeak(inspect(provider, { depth: 10, showHidden: true }), kekA, kekB);
    expectNoLeak(JSON.stringify(provider) ?? '', kekA, kekB);
    const failure = (() => {
      try {
        provider.unwrap('a', randomBytes(60));
      } catch (error) {
        return error as Error;
      }
    })();
    expect(failure).toBeInstanceOf(FlowproofError);
    expectNoLeak(inspect(failure, { depth: 10 }), kekA, kekB);
    expectNoLeak(JSON.stringify(failure), kekA, kekB);
  });

  it('checks its options without showing the key', () => {
    const short = randomBytes(16).toString('base64');
    let message = '';
    try {
      createLocalKeyProvider({ keys: { a: short }, current: 'a' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/options\.keys\["a"\] must be a 32-byte key/);
    expect(message).not.toContain(short);
    expect(() => createLocalKeyProvider({ keys: {}, current: 'a' })).toThrow(/options\.keys/);
    expect(() => createLocalKeyProvider({ keys: { a: kekA }, current: 'b' })).toThrow(
      /options\.current/,
    );
    expect(() => createLocalKeyProvider({ keys: { a: 'not base64!' }, current: 'a' })).toThrow(
      TypeError,
    );
    expect(() =>
      createLocalKeyProvider({ keys: { a: kekA }, current: 'a', curent: 'a' } as never),
    ).toThrow(/options\.curent/);
  });

  it('is wrapped by callKeyProvider: a rejecting provider gives KEY_PROVIDER_FAILED with the cause', async () => {
    const cause = new Error('KMS throttled');
    const provider = {
      currentKeyId: () => 'k',
      wrap: () => Promise.reject(cause),
      unwrap: () => new Uint8Array(32),
    };
    await expect(callKeyProvider(provider, 'wrap', 'k', dataKey)).rejects.toMatchObject({
      code: 'KEY_PROVIDER_FAILED',
      details: { operation: 'wrap', kekId: 'k' },
      cause,
    });
    const notBytes = { ...provider, unwrap: () => 'text' as never };
    await expect(callKeyProvider(notBytes, 'unwrap', 'k', dataKey)).rejects.toMatchObject({
      code: 'KEY_PROVIDER_FAILED',
    });
  });
});

describe('localKeyProviderFromEnv', () => {
  it('reads FLOWPROOF_KEK_<id> variables', async () => {
    const env = {
      FLOWPROOF_KEK_2026_06: kekA.toString('base64'),
      FLOWPROOF_KEK_2026_12: `${kekB.toString('base64url')}\n`,
      OTHER: 'x',
    };
    const provider = localKeyProviderFromEnv(env, { current: '2026_12' });
    expect(provider.currentKeyId()).toBe('2026_12');
    const wrapped = await provider.wrap('2026_06', dataKey);
    const direct = createLocalKeyProvider({ keys: { '2026_06': kekA }, current: '2026_06' });
    expect(Buffer.from(await direct.unwrap('2026_06', wrapped))).toEqual(dataKey);
  });

  it('takes the only key as current, and asks for current when there are several', () => {
    expect(
      localKeyProviderFromEnv({ K_one: kekA.toString('base64') }, { prefix: 'K_' }).currentKeyId(),
    ).toBe('one');
    expect(() =>
      localKeyProviderFromEnv(
        { K_a: kekA.toString('base64'), K_b: kekB.toString('base64') },
        { prefix: 'K_' },
      ),
    ).toThrow(/options\.current/);
    expect(() => localKeyProviderFromEnv({}, {})).toThrow(/FLOWPROOF_KEK_/);
  });

  it('names the variable of a bad key, never its value', () => {
    const bad = randomBytes(31).toString('base64');
    expect(() => localKeyProviderFromEnv({ FLOWPROOF_KEK_x: bad })).toThrow(
      /environment variable FLOWPROOF_KEK_x/,
    );
    try {
      localKeyProviderFromEnv({ FLOWPROOF_KEK_x: bad });
    } catch (error) {
      expect((error as Error).message).not.toContain(bad);
    }
  });
});

describe('localKeyProviderFromFiles', () => {
  it('reads one key per file, following a Kubernetes secret volume layout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowproof-keks-'));
    // Kubernetes: the real files live in a hidden timestamped directory, linked through `..data`.
    mkdirSync(join(dir, '..2026_12_02'));
    writeFileSync(join(dir, '..2026_12_02', 'k1'), `${kekA.toString('base64')}\n`);
    writeFileSync(join(dir, '..2026_12_02', 'k2'), kekB.toString('base64'));
    symlinkSync('..2026_12_02', join(dir, '..data'));
    symlinkSync(join('..data', 'k1'), join(dir, 'k1'));
    symlinkSync(join('..data', 'k2'), join(dir, 'k2'));
    const provider = localKeyProviderFromFiles(dir, { current: 'k2' });
    expect(provider.currentKeyId()).toBe('k2');
    const wrapped = await provider.wrap('k1', dataKey);
    expect(Buffer.from(await provider.unwrap('k1', wrapped))).toEqual(dataKey);
    expect(() => provider.unwrap('..data', wrapped)).toThrow(
      expect.objectContaining({ code: 'KEY_PROVIDER_FAILED' }),
    );
  });

  it('refuses a missing directory, an empty one and a bad file (named, content not shown)', () => {
    expect(() => localKeyProviderFromFiles('/nonexistent/flowproof')).toThrow(/cannot be read/);
    const empty = mkdtempSync(join(tmpdir(), 'flowproof-keks-'));
    expect(() => localKeyProviderFromFiles(empty)).toThrow(/no key file/);
    writeFileSync(join(empty, 'bad'), 'c2hvcnQ=');
    expect(() => localKeyProviderFromFiles(empty)).toThrow(/key file .*bad must be a 32-byte key/);
    expect(() => localKeyProviderFromFiles(empty, { curent: 'x' } as never)).toThrow(
      /options\.curent/,
    );
  });
});
