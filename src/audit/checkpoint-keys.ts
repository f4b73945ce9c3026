/**
 * Signing and checking checkpoints: Ed25519 (public-key; auditors need only the public key) or
 * HMAC-SHA-256 (one shared secret), both from `node:crypto`.
 */
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import { assertKnownKeys, assertNonEmptyString, assertOptionsObject } from '../core/options.js';
import type { AuditSignatureAlgorithm } from './audit-store.js';

/** Checks checkpoint signatures of one key. */
export interface CheckpointVerifier {
  /** The key's id, as checkpoints name it. */
  readonly keyId: string;
  /** The algorithm. */
  readonly algorithm: AuditSignatureAlgorithm;
  /** Whether `signature` is this key's signature over `message`. */
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

/** Signs checkpoints; also checks its own signatures. */
export interface CheckpointSigner extends CheckpointVerifier {
  /** The signature over `message`, synchronously; `verify` must accept it. */
  sign(message: Uint8Array): Uint8Array;
}

/**
 * An Ed25519 signer over `privateKey` (a `KeyObject`, or PEM text of a PKCS#8 key), e.g. from
 * `generateKeyPairSync('ed25519')`. Give auditors {@link createEd25519Verifier} with the public
 * key.
 *
 * @throws TypeError when `keyId` is empty, `privateKey` is not an Ed25519 private key, or an
 * option is unknown.
 */
export function createEd25519Signer(options: {
  /** The key's id, stored in each checkpoint (rotate by adding a new id). */
  readonly keyId: string;
  /** The private key. */
  readonly privateKey: KeyObject | string;
}): CheckpointSigner {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['keyId', 'privateKey'], 'options');
  assertNonEmptyString(options.keyId, 'options.keyId');
  const privateKey = asKey(options.privateKey, 'private', 'options.privateKey');
  const verifier = createEd25519Verifier({
    keyId: options.keyId,
    publicKey: createPublicKey(privateKey),
  });
  return {
    ...verifier,
    verify: verifier.verify,
    sign: (message) => sign(null, message, privateKey),
  };
}

/**
 * An Ed25519 verifier over `publicKey` (a `KeyObject`, or PEM text of an SPKI key).
 *
 * @throws TypeError when `keyId` is empty, `publicKey` is not an Ed25519 public key, or an option
 * is unknown.
 */
export function createEd25519Verifier(options: {
  /** The key's id, as checkpoints name it. */
  readonly keyId: string;
  /** The public key. */
  readonly publicKey: KeyObject | string;
}): CheckpointVerifier {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['keyId', 'publicKey'], 'options');
  assertNonEmptyString(options.keyId, 'options.keyId');
  const publicKey = asKey(options.publicKey, 'public', 'options.publicKey');
  return {
    keyId: options.keyId,
    algorithm: 'ed25519',
    verify: (message, signature) => {
      try {
        return verify(null, message, publicKey, signature);
      } catch {
        return false;
      }
    },
  };
}

/**
 * An HMAC-SHA-256 signer (and verifier) over a shared secret of at least 32 bytes. Whoever can
 * verify can also sign: prefer Ed25519 when checkpoints go to outside witnesses.
 *
 * @throws TypeError when `keyId` is empty, `secret` is shorter than 32 bytes, or an option is
 * unknown.
 */
export function createHmacSigner(options: {
  /** The key's id, stored in each checkpoint. */
  readonly keyId: string;
  /** The secret. */
  readonly secret: Uint8Array | string;
}): CheckpointSigner {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['keyId', 'secret'], 'options');
  assertNonEmptyString(options.keyId, 'options.keyId');
  const given = options.secret;
  if (!(typeof given === 'string' || given instanceof Uint8Array)) {
    throw new TypeError('options.secret must be at least 32 bytes (a string or a Uint8Array)');
  }
  // A copy: the caller changing its buffer later must not change the key.
  const secret = typeof given === 'string' ? Buffer.from(given, 'utf8') : Buffer.from(given);
  if (secret.length < 32) throw new TypeError('options.secret must be at least 32 bytes');
  const mac = (message: Uint8Array) => createHmac('sha256', secret).update(message).digest();
  return {
    keyId: options.keyId,
    algorithm: 'hmac-sha256',
    sign: mac,
    verify: (message, signature) => {
      const expected = mac(message);
      return signature.length === expected.length && timingSafeEqual(signature, expected);
    },
  };
}

function asKey(key: KeyObject | string, type: 'private' | 'public', name: string): KeyObject {
  let object: KeyObject;
  try {
    object =
      typeof key === 'string'
        ? type === 'private'
          ? createPrivateKey(key)
          : createPublicKey(key)
        : key;
  } catch {
    throw new TypeError(`${name} must be an Ed25519 ${type} key (a KeyObject or PEM text)`);
  }
  if (
    typeof object !== 'object' ||
    object === null ||
    (object as KeyObject).type !== type ||
    (object as KeyObject).asymmetricKeyType !== 'ed25519'
  ) {
    throw new TypeError(`${name} must be an Ed25519 ${type} key (a KeyObject or PEM text)`);
  }
  return object;
}
