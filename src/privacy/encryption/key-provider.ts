/**
 * The key-provider port: where the key-encryption keys (KEKs) live. Data keys are stored wrapped
 * (encrypted) by a KEK; only the provider can unwrap them. A KMS or Vault plugs in here.
 */
import { FlowproofError } from '../../core/errors.js';

/**
 * Holds the key-encryption keys and wraps and unwraps data keys with them. A KMS, an HSM or
 * Vault's transit engine implement it in a few lines; {@link createLocalKeyProvider} keeps the
 * keys in process.
 *
 * A provider must never put key material in what it throws: field encryption passes its errors on
 * as the `cause` of `KEY_PROVIDER_FAILED`.
 */
export interface KeyProvider {
  /** The id of the key-encryption key that wraps new data keys. */
  currentKeyId(): string;
  /** `dataKey` encrypted by the key-encryption key `kekId`. */
  wrap(kekId: string, dataKey: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /**
   * The data key that `wrapped` holds, decrypted by the key-encryption key `kekId`. Throws when
   * it does not authenticate or the provider has no such key.
   */
  unwrap(kekId: string, wrapped: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/**
 * Calls the provider's `wrap` or `unwrap` and turns whatever it throws or rejects with, or a
 * result that is not bytes, into `KEY_PROVIDER_FAILED` (its error as `cause`).
 *
 * @internal
 */
export async function callKeyProvider(
  provider: KeyProvider,
  operation: 'wrap' | 'unwrap',
  kekId: string,
  input: Uint8Array,
): Promise<Uint8Array> {
  let result: unknown;
  try {
    result = await provider[operation](kekId, input);
  } catch (cause) {
    throw keyProviderFailed(operation, kekId, cause);
  }
  if (!(result instanceof Uint8Array)) {
    throw keyProviderFailed(
      operation,
      kekId,
      new TypeError(`${operation}() must return a Uint8Array`),
    );
  }
  return result;
}

/** The provider's `currentKeyId()`, checked; `KEY_PROVIDER_FAILED` when it throws. @internal */
export function currentKekId(provider: KeyProvider): string {
  let id: unknown;
  try {
    id = provider.currentKeyId();
  } catch (cause) {
    throw keyProviderFailed('wrap', '', cause);
  }
  if (typeof id !== 'string' || id.length === 0) {
    throw keyProviderFailed(
      'wrap',
      '',
      new TypeError('currentKeyId() must return a non-empty string'),
    );
  }
  return id;
}

/** `KEY_PROVIDER_FAILED` for `operation` on `kekId`. @internal */
export function keyProviderFailed(
  operation: 'wrap' | 'unwrap',
  kekId: string,
  cause: unknown,
): FlowproofError {
  if (cause instanceof FlowproofError && cause.code === 'KEY_PROVIDER_FAILED') return cause;
  return new FlowproofError(
    'KEY_PROVIDER_FAILED',
    `The key provider failed to ${operation} a data key with key-encryption key "${kekId}"`,
    { cause, details: { operation, kekId } },
  );
}

/** Checks that `value` has the three methods of a {@link KeyProvider}. @internal */
export function assertKeyProvider(value: unknown, name: string): asserts value is KeyProvider {
  for (const method of ['currentKeyId', 'wrap', 'unwrap'] as const) {
    if (typeof (value as Record<string, unknown> | null | undefined)?.[method] !== 'function') {
      throw new TypeError(`${name} must be a KeyProvider (missing ${method}())`);
    }
  }
}
