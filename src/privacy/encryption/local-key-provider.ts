/**
 * A key provider holding its key-encryption keys in process: given directly, read from
 * environment variables, or read from secret files (Docker and Kubernetes secrets).
 */
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeValue } from '../../core/errors.js';
import { assertOptionsObject, readObject } from '../../core/options.js';
import { type KeyProvider, keyProviderFailed } from './key-provider.js';

/** The size of a key-encryption key, in bytes (AES-256). */
export const KEY_ENCRYPTION_KEY_BYTES = 32;

const IV_BYTES = 12;
const TAG_BYTES = 16;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$|^[A-Za-z0-9_-]+$/;

/** Options of {@link createLocalKeyProvider}. */
export interface LocalKeyProviderOptions {
  /**
   * The key-encryption keys by id: 32 bytes each, as a `Uint8Array` or base64 (or base64url)
   * text. Keep every key that still wraps a data key until `rotateKeyEncryptionKey()` has
   * rewrapped them onto the current one.
   */
  readonly keys: Readonly<Record<string, Uint8Array | string>>;
  /** The id of the key that wraps new data keys; one of `keys`. */
  readonly current: string;
}

/** Options of {@link localKeyProviderFromEnv} and {@link localKeyProviderFromFiles}. */
export interface LocalKeySourceOptions {
  /**
   * The id of the key that wraps new data keys.
   * @default the only key, when exactly one is found
   */
  readonly current?: string;
}

/** Options of {@link localKeyProviderFromEnv}. */
export interface LocalKeyEnvOptions extends LocalKeySourceOptions {
  /**
   * Variables whose names start with this hold a key each; the rest of the name is the key's id.
   * @default 'FLOWPROOF_KEK_'
   */
  readonly prefix?: string;
}

/**
 * A key provider holding its key-encryption keys in this process. A data key is wrapped with
 * AES-256-GCM under the key-encryption key, with the key's id as associated data (a wrapped key
 * only unwraps under the id it was wrapped for).
 *
 * The keys are kept as `KeyObject`s inside the provider: they are in no property, so neither
 * `util.inspect`, `JSON.stringify` nor an error message shows them.
 *
 * @example
 * ```ts
 * const keyProvider = createLocalKeyProvider({
 *   keys: { '2026-12': process.env.KEK_2026_12!, '2026-06': process.env.KEK_2026_06! },
 *   current: '2026-12',
 * });
 * ```
 * @throws TypeError naming the option: a key that is not 32 bytes (the message never shows the
 * key), no keys, or `current` not among them.
 */
export function createLocalKeyProvider(options: LocalKeyProviderOptions): KeyProvider {
  options = readObject(options, 'options', 'keys current') as unknown as typeof options;
  const { keys, current } = options;
  assertOptionsObject(keys, 'options.keys');
  const kekById = new Map<string, KeyObject>();
  for (const [id, key] of Object.entries(keys)) {
    kekById.set(id, keyEncryptionKey(key, `options.keys["${id}"]`));
  }
  if (kekById.size === 0) throw new TypeError('options.keys must hold at least one key');
  if (typeof current !== 'string' || !kekById.has(current)) {
    throw new TypeError(
      `options.current must be the id of one of options.keys (${[...kekById.keys()].join(', ')}), got ${describeValue(current)}`,
    );
  }
  const kekOf = (operation: 'wrap' | 'unwrap', kekId: unknown): KeyObject => {
    // Never String(kekId): with the arguments swapped, that would print the key's bytes.
    if (typeof kekId !== 'string') {
      throw new TypeError(`kekId must be a string, got ${describeValue(kekId)}`);
    }
    const kek = kekById.get(kekId);
    if (kek === undefined) {
      throw keyProviderFailed(
        operation,
        kekId,
        new Error(`no key-encryption key with id "${kekId}"`),
      );
    }
    return kek;
  };
  const provider: KeyProvider = {
    currentKeyId: () => current,
    wrap(kekId, dataKey) {
      const kek = kekOf('wrap', kekId);
      if (!(dataKey instanceof Uint8Array)) {
        throw keyProviderFailed('wrap', kekId, new TypeError('the data key must be a Uint8Array'));
      }
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', kek, iv);
      cipher.setAAD(Buffer.from(kekId, 'utf8'));
      const body = cipher.update(dataKey);
      cipher.final();
      return Buffer.concat([iv, body, cipher.getAuthTag()]);
    },
    unwrap(kekId, wrapped) {
      const kek = kekOf('unwrap', kekId);
      if (!(wrapped instanceof Uint8Array) || wrapped.byteLength < IV_BYTES + TAG_BYTES) {
        throw keyProviderFailed('unwrap', kekId, new Error('the wrapped key is too short'));
      }
      try {
        const bytes = Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength);
        const decipher = createDecipheriv('aes-256-gcm', kek, bytes.subarray(0, IV_BYTES));
        decipher.setAAD(Buffer.from(kekId, 'utf8'));
        decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
        const key = decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES));
        decipher.final();
        return key;
      } catch {
        // node:crypto's message says nothing useful; no key material is involved either way.
        throw keyProviderFailed(
          'unwrap',
          kekId,
          new Error('the wrapped key did not authenticate under this key-encryption key'),
        );
      }
    },
  };
  return Object.freeze(provider);
}

/**
 * A local key provider whose keys are environment variables: `FLOWPROOF_KEK_<id>=<base64 key>`.
 *
 * @param env - where to look.
 * @default env process.env
 * @example
 * ```ts
 * // FLOWPROOF_KEK_2026_12=… FLOWPROOF_KEK_2026_06=…
 * const keyProvider = localKeyProviderFromEnv(process.env, { current: '2026_12' });
 * ```
 * @throws TypeError when no variable has the prefix, a value is not a 32-byte key (the variable
 * is named, never its value), or `current` is missing with several keys or not among them.
 */
export function localKeyProviderFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
  options: LocalKeyEnvOptions = {},
): KeyProvider {
  assertOptionsObject(env, 'env');
  options = readObject(options, 'options', 'prefix current') as unknown as typeof options;
  const prefix = options.prefix ?? 'FLOWPROOF_KEK_';
  if (typeof prefix !== 'string' || prefix.length === 0) {
    throw new TypeError(`options.prefix must be a non-empty string, got ${describeValue(prefix)}`);
  }
  const keys: Record<string, Uint8Array> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(prefix) || name.length === prefix.length || value === undefined) continue;
    keys[name.slice(prefix.length)] = keyEncryptionKeyBytes(
      value.trim(),
      `environment variable ${name}`,
    );
  }
  return fromFound(keys, options.current, `no environment variable starts with ${prefix}`);
}

/**
 * A local key provider whose keys are files in `dir`, one per key: the file's name is the key's
 * id, its content the key in base64 — the layout of Docker secrets and of a Kubernetes secret
 * mounted as a volume (hidden entries such as Kubernetes' `..data` are skipped).
 *
 * @example
 * ```ts
 * const keyProvider = localKeyProviderFromFiles('/run/secrets/flowproof-keks', { current: '2026-12' });
 * ```
 * @throws TypeError when `dir` cannot be read or holds no key, a file is not a 32-byte key (the
 * file is named, never its content), or `current` is missing with several keys or not among them.
 */
export function localKeyProviderFromFiles(
  dir: string,
  options: LocalKeySourceOptions = {},
): KeyProvider {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new TypeError(`dir must be a directory path, got ${describeValue(dir)}`);
  }
  options = readObject(options, 'options', 'current') as unknown as typeof options;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (cause) {
    throw new TypeError(`dir ${dir} cannot be read`, { cause });
  }
  const keys: Record<string, Uint8Array> = {};
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    try {
      // Follows symbolic links: a Kubernetes secret's files link into a hidden directory.
      if (!statSync(path).isFile()) continue;
    } catch {
      continue;
    }
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      throw new TypeError(`key file ${path} cannot be read`, { cause });
    }
    keys[name] = keyEncryptionKeyBytes(text.trim(), `key file ${path}`);
  }
  return fromFound(keys, options.current, `no key file in ${dir}`);
}

function fromFound(
  keys: Record<string, Uint8Array>,
  current: string | undefined,
  noneMessage: string,
): KeyProvider {
  const ids = Object.keys(keys);
  if (ids.length === 0) throw new TypeError(noneMessage);
  if (current === undefined) {
    if (ids.length > 1) {
      throw new TypeError(
        `options.current must name the key that wraps new data keys (found ${ids.join(', ')})`,
      );
    }
    current = ids[0] as string;
  }
  const provider = createLocalKeyProvider({ keys, current });
  // The provider keeps its own copies; these were read from the environment or files.
  for (const key of Object.values(keys)) key.fill(0);
  return provider;
}

function keyEncryptionKey(key: unknown, name: string): KeyObject {
  const bytes = keyEncryptionKeyBytes(key, name);
  const kek = createSecretKey(bytes);
  bytes.fill(0);
  return kek;
}

/** A 32-byte copy of `key`; the message of the TypeError never includes the key. */
function keyEncryptionKeyBytes(key: unknown, name: string): Uint8Array {
  let bytes: Uint8Array | undefined;
  if (key instanceof Uint8Array) bytes = Uint8Array.from(key);
  else if (typeof key === 'string' && BASE64.test(key)) {
    bytes = Buffer.from(key, /[-_]/.test(key) ? 'base64url' : 'base64');
  }
  if (bytes === undefined || bytes.byteLength !== KEY_ENCRYPTION_KEY_BYTES) {
    throw new TypeError(
      `${name} must be a ${KEY_ENCRYPTION_KEY_BYTES}-byte key (a Uint8Array or base64 text; e.g. \`openssl rand -base64 32\`)`,
    );
  }
  return bytes;
}
