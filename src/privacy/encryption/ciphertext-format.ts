/**
 * The stored form of one encrypted field:
 *
 * ```text
 * [version: 1 byte][data key id: uint32 BE][IV: 12 bytes][ciphertext][GCM tag: 16 bytes]
 * ```
 *
 * 33 bytes more than the plaintext; as text, base64url without padding. Version 1 has a random
 * IV; version 2 (deterministic) a synthetic one derived from the key, the context and the
 * plaintext. The associated data GCM authenticates is the 5-byte header followed by the context
 * (table, column, and for version 1 the row), each length-prefixed so that no two contexts encode
 * alike.
 */
import { FlowproofError } from '../../core/errors.js';

/** Format version of a field encrypted with a random IV. */
export const RANDOM_IV_VERSION = 1;
/** Format version of a field encrypted deterministically (synthetic IV). */
export const DETERMINISTIC_VERSION = 2;
/** Bytes before the IV: the version and the data key's id. */
export const HEADER_BYTES = 5;
/** The GCM IV's size. */
export const IV_BYTES = 12;
/** The GCM tag's size. */
export const TAG_BYTES = 16;
/** How many bytes a ciphertext has more than its plaintext: 33. */
export const CIPHERTEXT_OVERHEAD_BYTES = HEADER_BYTES + IV_BYTES + TAG_BYTES;

/**
 * Where a field's value lives. Encrypting binds the ciphertext to it: decrypting with another
 * table, column or row fails (`DECRYPTION_FAILED`), so a value copied to another row or column
 * does not read back.
 */
export interface EncryptionContext {
  /** The table (or collection, or record type). */
  readonly table: string;
  /** The column (or field). */
  readonly column: string;
  /**
   * The row's id: set it to bind the value to its row. Leave it out for values that move
   * between rows, and in deterministic encryption (where it is ignored).
   */
  readonly row?: string;
  /**
   * The data subject (person) the value belongs to: encrypts under that subject's own key, so
   * that `shred(subject)` makes it unreadable. Decrypting does not need it (the ciphertext names
   * its key).
   */
  readonly subject?: string;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** `CIPHERTEXT_INVALID` with `reason`. @internal */
export function ciphertextInvalid(reason: 'encoding' | 'length' | 'version'): FlowproofError {
  const what = {
    encoding: 'it is not base64url text',
    length: `it is shorter than ${CIPHERTEXT_OVERHEAD_BYTES} bytes`,
    version: 'its format version is unknown',
  }[reason];
  return new FlowproofError(
    'CIPHERTEXT_INVALID',
    `The value is not a flowproof ciphertext: ${what}`,
    {
      details: { reason },
    },
  );
}

/**
 * The bytes of ciphertext text. Only canonical base64url is accepted (no padding, no other
 * characters, unused trailing bits zero), so that one ciphertext has exactly one text form.
 *
 * @internal
 */
export function ciphertextBytes(text: string): Buffer {
  const remainder = text.length % 4;
  if (remainder === 1 || !BASE64URL.test(text)) throw ciphertextInvalid('encoding');
  if (remainder !== 0) {
    const last = BASE64URL_ALPHABET.indexOf(text[text.length - 1] as string);
    // 2 characters carry 1 byte (4 bits unused), 3 carry 2 bytes (2 bits unused).
    if ((last & (remainder === 2 ? 0b1111 : 0b11)) !== 0) throw ciphertextInvalid('encoding');
  }
  return Buffer.from(text, 'base64url');
}

/**
 * Checks the header of `bytes` and returns its format version.
 *
 * @throws FlowproofError `CIPHERTEXT_INVALID`.
 * @internal
 */
export function ciphertextVersion(bytes: Uint8Array): number {
  if (bytes.byteLength < CIPHERTEXT_OVERHEAD_BYTES) throw ciphertextInvalid('length');
  const version = bytes[0] as number;
  if (version !== RANDOM_IV_VERSION && version !== DETERMINISTIC_VERSION) {
    throw ciphertextInvalid('version');
  }
  return version;
}

/** The data key id in a checked header. @internal */
export function headerKeyId(bytes: Uint8Array): number {
  return (
    (((bytes[1] as number) << 24) >>> 0) +
    ((bytes[2] as number) << 16) +
    ((bytes[3] as number) << 8) +
    (bytes[4] as number)
  );
}

/**
 * The id of the data key a ciphertext (text or bytes) was encrypted with: which values still
 * need rewrapping before a key is retired.
 *
 * @throws FlowproofError `CIPHERTEXT_INVALID` when it is not a ciphertext.
 */
export function keyIdOf(ciphertext: string | Uint8Array): number {
  const bytes = typeof ciphertext === 'string' ? ciphertextBytes(ciphertext) : ciphertext;
  if (!(bytes instanceof Uint8Array)) throw ciphertextInvalid('encoding');
  ciphertextVersion(bytes);
  return headerKeyId(bytes);
}

/**
 * The associated data of a ciphertext whose header is `bytes[0..5)`: the header, the table, the
 * column and (when `withRow`) the row, each string as a 4-byte length and its UTF-8 bytes; an
 * absent row is one zero byte, a present one a one byte before its length.
 *
 * @internal
 */
export function associatedData(
  header: Uint8Array,
  context: EncryptionContext,
  withRow: boolean,
): Buffer {
  const { table, column } = context;
  const row = withRow ? context.row : undefined;
  const tableBytes = Buffer.byteLength(table);
  const columnBytes = Buffer.byteLength(column);
  const rowBytes = row === undefined ? 0 : Buffer.byteLength(row);
  const aad = Buffer.allocUnsafe(
    HEADER_BYTES + 8 + tableBytes + columnBytes + 1 + (row === undefined ? 0 : 4 + rowBytes),
  );
  aad.set(header.subarray(0, HEADER_BYTES), 0);
  let at = HEADER_BYTES;
  at = aad.writeUInt32BE(tableBytes, at);
  at += aad.write(table, at);
  at = aad.writeUInt32BE(columnBytes, at);
  at += aad.write(column, at);
  if (row === undefined) aad[at] = 0;
  else {
    aad[at] = 1;
    at = aad.writeUInt32BE(rowBytes, at + 1);
    aad.write(row, at);
  }
  return aad;
}
