/**
 * Field encryption: envelope AES-256-GCM over the data-key store. Each field is encrypted under a
 * data key (a field key, or its data subject's own key); data keys are stored wrapped by a
 * key-encryption key that stays with the key provider.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  type KeyObject,
  randomFillSync,
} from 'node:crypto';
import { describeValue, FlowproofError } from '../../core/errors.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../../core/logger.js';
import { assertInteger, assertKnownKeys, readObject, unreadable } from '../../core/options.js';
import type { DataKeyStore } from '../data-key-store.js';
import { keyedHash } from '../keyed-hash.js';
import {
  associatedData,
  CIPHERTEXT_OVERHEAD_BYTES,
  ciphertextBytes,
  ciphertextVersion,
  DETERMINISTIC_VERSION,
  type EncryptionContext,
  HEADER_BYTES,
  headerKeyId,
  IV_BYTES,
  keyIdOf,
  RANDOM_IV_VERSION,
  TAG_BYTES,
} from './ciphertext-format.js';
import { assertKeyProvider, type KeyProvider } from './key-provider.js';
import { Keyring, type LoadedKey } from './keyring.js';
import {
  type KeyEncryptionKeyRotation,
  type KeyEncryptionKeyRotationOptions,
  type RewrapOptions,
  type RewrapReport,
  type RewrapSource,
  rewrapSource,
  rotateKeyEncryptionKey,
} from './rewrap.js';
import { type ShredOptions, type ShredReceipt, shredSubject } from './shredding.js';

/** Options of {@link createFieldEncryption}. */
export interface FieldEncryptionOptions {
  /** Where data keys are kept (`createPostgresDataKeyStore`…), migrated. */
  readonly store: DataKeyStore;
  /** Holds the key-encryption keys that wrap the data keys ({@link createLocalKeyProvider}, a KMS). */
  readonly keyProvider: KeyProvider;
  /**
   * How long (milliseconds) an unwrapped data key stays in this process before the store is read
   * again. It bounds three things: how long **another** process may still decrypt with a subject
   * key shredded elsewhere (this process forgets it at once), how long another process keeps
   * using a retired key or an older field key after `rotate()` elsewhere, and how often the
   * store and the key provider are asked (a KMS call per key per period). `0` reads the store on
   * every call.
   * @default 60_000
   */
  readonly cacheTtlMs?: number;
  /**
   * At most this many data keys are kept in process (one per active data subject); past it, the
   * key cached longest ago is dropped and read again when needed.
   * @default 10_000
   */
  readonly maxCachedKeys?: number;
  /** Where key creation, rotation, retirement and shredding are logged (key ids only). */
  readonly logger?: Logger;
}

/**
 * Encrypts and decrypts fields, and manages their keys. See {@link createFieldEncryption}.
 */
export interface FieldEncryption {
  /**
   * Encrypts `plaintext` for `context` with a random IV, as base64url text 33 bytes (before
   * encoding) longer than its UTF-8 form. With `context.subject`, under that subject's own key
   * (created on first use); otherwise under the newest field key (created on first use).
   *
   * @throws TypeError for a bad argument; FlowproofError `KEY_SHREDDED` for a shredded subject,
   * `KEY_PROVIDER_FAILED`, or the store's backend errors.
   */
  encrypt(plaintext: string, context: EncryptionContext): Promise<string>;
  /**
   * Decrypts what {@link encrypt} or {@link encryptDeterministic} returned, given the same
   * table, column and row (the subject is not needed).
   *
   * @throws FlowproofError `CIPHERTEXT_INVALID` (not a ciphertext), `DECRYPTION_FAILED` (changed,
   * or another table, column or row), `KEY_UNKNOWN`, `KEY_RETIRED`, `KEY_SHREDDED`,
   * `KEY_PROVIDER_FAILED`.
   */
  decrypt(ciphertext: string, context: EncryptionContext): Promise<string>;
  /** {@link encrypt} for bytes, returning bytes. */
  encryptBytes(plaintext: Uint8Array, context: EncryptionContext): Promise<Uint8Array>;
  /** {@link decrypt} for bytes, returning bytes. */
  decryptBytes(ciphertext: Uint8Array, context: EncryptionContext): Promise<Uint8Array>;
  /**
   * Encrypts so that equal plaintexts in the same table and column (and the same key) give equal
   * ciphertexts, for equality lookups on the encrypted column. The IV is derived from the key,
   * the context and the plaintext (format version 2); the row is not part of it. It reveals which
   * rows hold equal values; prefer {@link blindIndex} beside a randomly encrypted column. After
   * `rotate()` new values use the new key, so look up with both until the column is rewrapped.
   *
   * @throws like {@link encrypt}.
   */
  encryptDeterministic(plaintext: string, context: Omit<EncryptionContext, 'row'>): Promise<string>;
  /**
   * A keyed hash (HMAC-SHA-256, base64url) of `value` for an indexed lookup column beside an
   * encrypted one: equal values in the same table and column hash alike. Normalize the value
   * first (`email.trim().toLowerCase()`). Its key is the index key `blind-index`.
   */
  blindIndex(
    value: string,
    context: { readonly table: string; readonly column: string },
  ): Promise<string>;
  /**
   * The id of the data key a ciphertext was encrypted with.
   *
   * @throws FlowproofError `CIPHERTEXT_INVALID`.
   */
  keyIdOf(ciphertext: string | Uint8Array): number;
  /**
   * Creates a new field key; this instance encrypts with it at once, other instances once their
   * cached newest key expires (`cacheTtlMs`). Older keys keep decrypting until retired.
   */
  rotate(): Promise<{
    /** The new field key's id. */
    readonly keyId: number;
  }>;
  /**
   * Rewraps every data key not wrapped by the key provider's current key-encryption key onto it
   * (the data keys and the data do not change). Run it after adding a new key-encryption key and
   * making it current; the old one can go once it reports nothing left.
   */
  rotateKeyEncryptionKey(
    options?: KeyEncryptionKeyRotationOptions,
  ): Promise<KeyEncryptionKeyRotation>;
  /**
   * Re-encrypts the values `source` yields onto the newest field key, a batch at a time,
   * resumable under `options.job`. See {@link RewrapSource}.
   */
  rewrap(source: RewrapSource, options: RewrapOptions): Promise<RewrapReport>;
  /**
   * Retires a data key: it no longer decrypts (`KEY_RETIRED`) nor, for a field key, encrypts.
   * Rewrap everything it encrypted first: other instances go on encrypting with the previous
   * field key for up to `cacheTtlMs` after `rotate()`, so run a last rewrap after that and retire
   * only when it reports `rewrapped: 0` and `unreadable: 0`. This instance stops at once, others
   * within `cacheTtlMs`.
   *
   * @throws FlowproofError `KEY_UNKNOWN` when there is no such key.
   */
  retire(keyId: number): Promise<void>;
  /**
   * Destroys `subject`'s key: everything encrypted for them becomes unreadable for good
   * (`KEY_SHREDDED`), in the database, in its backups and wherever the ciphertexts were copied.
   * See {@link ShredOptions} for recording it in the audit log in the same transaction.
   */
  shred(subject: string, options?: ShredOptions): Promise<ShredReceipt>;
  /** Whether `subject`'s key was shredded. */
  isShredded(subject: string): Promise<boolean>;
  /**
   * A stable 32-byte secret named `name` (created on first use, stored wrapped like every data
   * key): a key for tokens, keyed hashes or blind indexes.
   */
  indexKey(name: string): Promise<Uint8Array>;
}

/** Largest key id (4 bytes in the header). */
const MAX_KEY_ID = 2 ** 32 - 1;
const MAX_TIMEOUT = 2 ** 31 - 1;

/**
 * Random IVs drawn in blocks: one `randomFillSync` per 256 IVs instead of one `randomBytes`
 * allocation per call. Each IV is copied out before the block is refilled, so none repeats.
 */
const ivBlock = Buffer.alloc(IV_BYTES * 256);
let ivAt = ivBlock.length;

function writeRandomIv(target: Buffer, at: number): void {
  if (ivAt === ivBlock.length) {
    randomFillSync(ivBlock);
    ivAt = 0;
  }
  ivBlock.copy(target, at, ivAt, ivAt + IV_BYTES);
  ivAt += IV_BYTES;
}

/**
 * Field encryption over a data-key store and a key provider: AES-256-GCM under data keys that
 * are stored wrapped by key-encryption keys (envelope encryption). Values are bound to their
 * table, column and row; a data subject's values can be encrypted under their own key and made
 * unreadable for good with `shred(subject)`.
 *
 * Unwrapped data keys stay in process as non-extractable `KeyObject`s for `cacheTtlMs`. Another
 * process therefore keeps decrypting a subject's values for up to `cacheTtlMs` after a shred
 * elsewhere, and keeps encrypting with the previous field key for up to `cacheTtlMs` after a
 * `rotate()` elsewhere (the newest key id is read again each time the cached one expires).
 *
 * A random 12-byte IV is safe for about 2³² encryptions under one key: `rotate()` well before
 * that.
 *
 * @example
 * ```ts
 * const encryption = createFieldEncryption({
 *   store: createPostgresDataKeyStore({ backend }),
 *   keyProvider: localKeyProviderFromEnv(),
 * });
 * const stored = await encryption.encrypt(user.email, { table: 'users', column: 'email', row: user.id, subject: user.id });
 * const email = await encryption.decrypt(stored, { table: 'users', column: 'email', row: user.id });
 * ```
 * @throws TypeError naming the option: a store or provider without the port's methods, a bad
 * `cacheTtlMs`, `maxCachedKeys` or `logger`, an unknown option.
 */
export function createFieldEncryption(options: FieldEncryptionOptions): FieldEncryption {
  options = readObject(
    options,
    'options',
    'store keyProvider cacheTtlMs maxCachedKeys logger',
  ) as unknown as typeof options;
  const {
    store,
    keyProvider,
    cacheTtlMs = 60_000,
    maxCachedKeys = 10_000,
    logger = silentLogger,
  } = options;
  for (const method of [
    'get',
    'byName',
    'newestFieldKey',
    'create',
    'list',
    'rewrap',
    'retire',
    'shred',
  ]) {
    if (typeof (store as unknown as Record<string, unknown> | undefined)?.[method] !== 'function') {
      throw new TypeError(`options.store must be a DataKeyStore (missing ${method}())`);
    }
  }
  assertKeyProvider(keyProvider, 'options.keyProvider');
  assertInteger(cacheTtlMs, 'options.cacheTtlMs', 0, MAX_TIMEOUT);
  assertInteger(maxCachedKeys, 'options.maxCachedKeys', 1, 2 ** 30);
  assertLogger(logger, 'options.logger');
  const keyring = new Keyring({ store, keyProvider, cacheTtlMs, maxCachedKeys, logger });

  const keyFor = (context: EncryptionContext): LoadedKey | Promise<LoadedKey> => {
    const subject = context.subject;
    if (subject === undefined) return keyring.cachedCurrent() ?? keyring.current();
    return keyring.cachedNamed('subject', subject) ?? keyring.named('subject', subject);
  };

  /** Decrypts checked-shape `bytes`; without a promise of its own when the key is cached. */
  const open = (bytes: Uint8Array, context: EncryptionContext): Buffer | Promise<Buffer> => {
    const withRow = ciphertextVersion(bytes) === RANDOM_IV_VERSION;
    const keyId = headerKeyId(bytes);
    const loaded = keyring.cachedById(keyId);
    if (loaded !== undefined) return decryptWith(loaded.key, bytes, context, withRow);
    return keyring.byId(keyId).then((key) => decryptWith(key.key, bytes, context, withRow));
  };

  const encryption: FieldEncryption = {
    async encrypt(plaintext, context) {
      checkText(plaintext, 'plaintext');
      checkContext(context);
      const key = keyFor(context);
      const loaded = key instanceof Promise ? await key : key;
      return seal(loaded, RANDOM_IV_VERSION, plaintext, context).toString('base64url');
    },

    async decrypt(ciphertext, context) {
      if (typeof ciphertext !== 'string') {
        throw new TypeError(`ciphertext must be a string, got ${describeValue(ciphertext)}`);
      }
      checkContext(context);
      const plaintext = open(ciphertextBytes(ciphertext), context);
      return (plaintext instanceof Promise ? await plaintext : plaintext).toString('utf8');
    },

    async encryptBytes(plaintext, context) {
      if (!(plaintext instanceof Uint8Array)) {
        throw new TypeError(`plaintext must be a Uint8Array, got ${describeValue(plaintext)}`);
      }
      checkContext(context);
      return seal(await keyFor(context), RANDOM_IV_VERSION, plaintext, context);
    },

    async decryptBytes(ciphertext, context) {
      if (!(ciphertext instanceof Uint8Array)) {
        throw new TypeError(`ciphertext must be a Uint8Array, got ${describeValue(ciphertext)}`);
      }
      checkContext(context);
      return open(ciphertext, context);
    },

    async encryptDeterministic(plaintext, context) {
      checkText(plaintext, 'plaintext');
      checkContext(context);
      const loaded = await keyFor(context);
      return seal(
        loaded,
        DETERMINISTIC_VERSION,
        plaintext,
        context,
        keyring.sivKey(loaded),
      ).toString('base64url');
    },

    async blindIndex(value, context) {
      checkText(value, 'value');
      checkContext(context);
      const loaded = await keyring.named('index', 'blind-index');
      // Length-prefixed, so that no table/column pair reads as another.
      return keyedHash(
        loaded.key,
        value,
        `${context.table.length}:${context.table}.${context.column}`,
      );
    },

    keyIdOf(ciphertext) {
      if (typeof ciphertext !== 'string' && !(ciphertext instanceof Uint8Array)) {
        throw new TypeError(
          `ciphertext must be a string or a Uint8Array, got ${describeValue(ciphertext)}`,
        );
      }
      return keyIdOf(ciphertext);
    },

    async rotate() {
      const loaded = await keyring.create('field', null);
      keyring.setCurrent(loaded);
      logEvent(
        logger,
        'info',
        { event: 'privacy.field-key.rotated', keyId: loaded.id },
        `field key ${loaded.id} is now current`,
      );
      return { keyId: loaded.id };
    },

    rotateKeyEncryptionKey(rotation = {}) {
      return rotateKeyEncryptionKey(keyring, rotation);
    },

    rewrap(source, rewrap) {
      return rewrapSource(keyring, source, rewrap, {
        reencrypt: async (bytes, context, current) => {
          // A malformed context from the source would make every value look unreadable.
          checkContext(context);
          const version = ciphertextVersion(bytes);
          const plaintext = await open(bytes, context);
          try {
            return seal(
              current,
              version,
              plaintext,
              context,
              version === DETERMINISTIC_VERSION ? keyring.sivKey(current) : undefined,
            );
          } finally {
            plaintext.fill(0);
          }
        },
      });
    },

    async retire(keyId) {
      assertInteger(keyId, 'keyId', 1, MAX_KEY_ID);
      const row = await store.retire(keyId);
      if (row === undefined) {
        throw new FlowproofError(
          'KEY_UNKNOWN',
          `No data key with id ${keyId} is in the key store`,
          {
            details: { keyId },
          },
        );
      }
      keyring.forget(keyId, row);
      logEvent(
        logger,
        'info',
        { event: 'privacy.data-key.retired', keyId },
        `data key ${keyId} retired`,
      );
    },

    shred(subject, shred = {}) {
      return shredSubject(keyring, subject, shred);
    },

    async isShredded(subject) {
      checkText(subject, 'subject');
      const row = await store.byName('subject', subject);
      return row !== undefined && row.shreddedAt !== null;
    },

    async indexKey(name) {
      if (typeof name !== 'string' || name.length === 0) {
        throw new TypeError(`name must be a non-empty string, got ${describeValue(name)}`);
      }
      return Keyring.exportKey(await keyring.named('index', name));
    },
  };
  return Object.freeze(encryption);
}

/**
 * Encrypts `plaintext` under `loaded` into the compact format. Version 1 draws a random IV;
 * version 2 derives it from the associated data and the plaintext with `sivKey`.
 */
function seal(
  loaded: LoadedKey,
  version: number,
  plaintext: string | Uint8Array,
  context: EncryptionContext,
  sivKey?: KeyObject,
): Buffer {
  const length =
    typeof plaintext === 'string' ? Buffer.byteLength(plaintext) : plaintext.byteLength;
  const out = Buffer.allocUnsafe(CIPHERTEXT_OVERHEAD_BYTES + length);
  out[0] = version;
  out.writeUInt32BE(loaded.id, 1);
  const aad = associatedData(out, context, version === RANDOM_IV_VERSION);
  if (sivKey === undefined) writeRandomIv(out, HEADER_BYTES);
  else {
    const hmac = createHmac('sha256', sivKey).update(aad);
    (typeof plaintext === 'string' ? hmac.update(plaintext, 'utf8') : hmac.update(plaintext))
      .digest()
      .copy(out, HEADER_BYTES, 0, IV_BYTES);
  }
  const cipher = createCipheriv(
    'aes-256-gcm',
    loaded.key,
    out.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES),
  );
  cipher.setAAD(aad);
  const body =
    typeof plaintext === 'string' ? cipher.update(plaintext, 'utf8') : cipher.update(plaintext);
  body.copy(out, HEADER_BYTES + IV_BYTES);
  cipher.final();
  cipher.getAuthTag().copy(out, HEADER_BYTES + IV_BYTES + length);
  return out;
}

/** Authenticates and decrypts checked ciphertext `bytes`; `DECRYPTION_FAILED` when it does not authenticate. */
function decryptWith(
  key: KeyObject,
  bytes: Uint8Array,
  context: EncryptionContext,
  withRow: boolean,
): Buffer {
  const end = bytes.byteLength - TAG_BYTES;
  try {
    // The tag given is always the last 16 bytes: no shorter tag can be passed off.
    const decipher = createDecipheriv(
      'aes-256-gcm',
      key,
      bytes.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES),
    );
    decipher.setAAD(associatedData(bytes, context, withRow));
    decipher.setAuthTag(bytes.subarray(end));
    const plaintext = decipher.update(bytes.subarray(HEADER_BYTES + IV_BYTES, end));
    decipher.final();
    return plaintext;
  } catch (cause) {
    throw new FlowproofError(
      'DECRYPTION_FAILED',
      'The ciphertext did not authenticate: it was changed, or is read for another table, column or row than it was written for',
      { cause, details: { keyId: headerKeyId(bytes) } },
    );
  }
}

function checkText(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string')
    throw new TypeError(`${name} must be a string, got ${describeValue(value)}`);
}

/**
 * Checks a context: table and column non-empty strings, row and subject strings when given, no
 * other key (a misspelled `subject` would encrypt out of reach of `shred`).
 */
function checkContext(context: unknown): asserts context is EncryptionContext {
  if (typeof context !== 'object' || context === null) {
    throw new TypeError(
      `context must be an object { table, column, row?, subject? }, got ${describeValue(context)}`,
    );
  }
  // One plain copy, read once: a proxy or getter that throws is named, never passed through.
  let fields: Record<string, unknown>;
  try {
    fields = { ...context };
  } catch (cause) {
    throw unreadable('context', cause);
  }
  assertKnownKeys(fields, ['table', 'column', 'row', 'subject'], 'context');
  const { table, column, row, subject } = fields;
  if (typeof table !== 'string' || table.length === 0) {
    throw new TypeError(`context.table must be a non-empty string, got ${describeValue(table)}`);
  }
  if (typeof column !== 'string' || column.length === 0) {
    throw new TypeError(`context.column must be a non-empty string, got ${describeValue(column)}`);
  }
  if (row !== undefined && typeof row !== 'string') {
    throw new TypeError(`context.row must be a string, got ${describeValue(row)}`);
  }
  if (subject !== undefined && (typeof subject !== 'string' || subject.length === 0)) {
    throw new TypeError(
      `context.subject must be a non-empty string, got ${describeValue(subject)}`,
    );
  }
}
