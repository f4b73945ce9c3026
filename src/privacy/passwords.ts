/**
 * Password hashing with scrypt, stored as PHC text (`$scrypt$ln=17,r=8,p=1$<salt>$<hash>`) so
 * the parameters and the salt travel with the hash and can be raised later without a migration:
 * {@link passwordNeedsRehash} says when a stored hash is weaker than the current parameters.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { describeValue, FlowproofError } from '../core/errors.js';
import { assertInteger, readObject } from '../core/options.js';

/** scrypt's cost parameters. */
export interface PasswordHashParams {
  /**
   * log2 of the CPU/memory cost N (PHC `ln`), from 10 to 20. Memory is 128 × 2^logN × blockSize
   * bytes: 128 MiB with the defaults.
   * @default 17 (N = 131072, the OWASP recommendation for scrypt)
   */
  readonly logN?: number;
  /**
   * The block size r (PHC `r`), from 1 to 32.
   * @default 8
   */
  readonly blockSize?: number;
  /**
   * The parallelization p (PHC `p`), from 1 to 16. Node computes the p lanes one after another,
   * so time grows with p.
   * @default 1
   */
  readonly parallelization?: number;
}

/** The parameters {@link hashPassword} uses unless told otherwise (OWASP, 2026). */
export const DEFAULT_PASSWORD_HASH_PARAMS: Readonly<Required<PasswordHashParams>> = Object.freeze({
  logN: 17,
  blockSize: 8,
  parallelization: 1,
});

const PARAM_KEYS = ['logN', 'blockSize', 'parallelization'];
const LOG_N_RANGE = [10, 20] as const;
const BLOCK_SIZE_RANGE = [1, 32] as const;
const PARALLELIZATION_RANGE = [1, 16] as const;

/**
 * The most memory one hash may take (128 × N × r bytes): 256 MiB, twice the default. A stored
 * hash asking for more is refused before anything is allocated, so a planted hash cannot make
 * `verifyPassword` exhaust the server's memory.
 */
const MAX_MEMORY_BYTES = 256 * 1024 * 1024;

/** The most work one hash may take (128 × N × r × p): eight times the default. */
const MAX_WORK = 8 * 128 * 2 ** 17 * 8;

const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Salt and hash lengths accepted in stored text, in bytes. */
const STORED_SALT_RANGE = [8, 64] as const;
const STORED_HASH_RANGE = [16, 64] as const;

/** The stored form, parsed. */
interface ParsedHash {
  readonly params: Required<PasswordHashParams>;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/**
 * Hashes `password` with scrypt under a fresh 16-byte random salt, into PHC text:
 * `$scrypt$ln=17,r=8,p=1$<salt>$<hash>` (salt and 32-byte hash in unpadded base64). The
 * password is normalized to Unicode NFC first, so the same password typed on different systems
 * verifies.
 *
 * @param password - the password; it must be well-formed Unicode (no lone surrogate, which
 * UTF-8 cannot encode and would make different passwords hash alike).
 * @param params - scrypt's costs; see {@link PasswordHashParams} for the defaults.
 * @throws TypeError when `password` is not a well-formed string, or a parameter is out of range
 * or would take more than 256 MiB (the message names it).
 * @throws FlowproofError `PASSWORD_HASH_FAILED` when scrypt itself fails (out of memory).
 *
 * @example
 * ```ts
 * const stored = await hashPassword(form.password);
 * await db.users.update(id, { passwordHash: stored });
 * ```
 */
export async function hashPassword(password: string, params?: PasswordHashParams): Promise<string> {
  const passwordBytes = encodePassword(password);
  if (passwordBytes === undefined) {
    throw new TypeError('password must be well-formed Unicode (it holds a lone surrogate)');
  }
  const chosen = checkParams(params);
  const salt = randomBytes(SALT_BYTES);
  const hash = await deriveKey(passwordBytes, salt, HASH_BYTES, chosen, 'hash');
  return (
    `$scrypt$ln=${chosen.logN},r=${chosen.blockSize},p=${chosen.parallelization}` +
    `$${unpaddedBase64(salt)}$${unpaddedBase64(hash)}`
  );
}

/**
 * Whether `password` matches `stored` (text {@link hashPassword} wrote), compared in constant
 * time. A password that is not well-formed Unicode never matches.
 *
 * @throws TypeError when `password` or `stored` is not a string.
 * @throws FlowproofError `PASSWORD_HASH_INVALID` when `stored` is not in the format
 * `hashPassword` writes, or its parameters are out of range (before any work is done), with
 * `details.reason`: `format`, `parameters`, `salt` or `hash`.
 * @throws FlowproofError `PASSWORD_HASH_FAILED` when scrypt itself fails (out of memory).
 *
 * @example
 * ```ts
 * if (!(await verifyPassword(form.password, user.passwordHash))) throw unauthorized();
 * if (passwordNeedsRehash(user.passwordHash)) await saveHash(await hashPassword(form.password));
 * ```
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (typeof password !== 'string') {
    throw new TypeError(`password must be a string, got ${describeValue(password)}`);
  }
  const parsed = parseStoredHash(stored);
  const passwordBytes = encodePassword(password);
  if (passwordBytes === undefined) return false;
  const derived = await deriveKey(
    passwordBytes,
    parsed.salt,
    parsed.hash.length,
    parsed.params,
    'verify',
  );
  return timingSafeEqual(derived, parsed.hash);
}

/**
 * Whether `stored` was hashed with other parameters than `params` (or the defaults), or another
 * salt or hash length: re-hash the password at the user's next login, when it is at hand.
 *
 * @param params - the parameters hashes should have now; defaults as in {@link hashPassword}.
 * @throws TypeError when `stored` is not a string or a parameter is out of range.
 * @throws FlowproofError `PASSWORD_HASH_INVALID` when `stored` is malformed (see
 * {@link verifyPassword}).
 *
 * @example
 * ```ts
 * passwordNeedsRehash(user.passwordHash, { logN: 18 }); // true for a hash made with logN 17
 * ```
 */
export function passwordNeedsRehash(stored: string, params?: PasswordHashParams): boolean {
  const wanted = checkParams(params);
  const parsed = parseStoredHash(stored);
  return (
    parsed.params.logN !== wanted.logN ||
    parsed.params.blockSize !== wanted.blockSize ||
    parsed.params.parallelization !== wanted.parallelization ||
    parsed.salt.length !== SALT_BYTES ||
    parsed.hash.length !== HASH_BYTES
  );
}

/** The checked parameters, defaults filled in. */
function checkParams(params: PasswordHashParams | undefined): Required<PasswordHashParams> {
  if (params === undefined) return DEFAULT_PASSWORD_HASH_PARAMS;
  params = readObject(params, 'params', PARAM_KEYS.join(' ')) as unknown as typeof params;
  const {
    logN = DEFAULT_PASSWORD_HASH_PARAMS.logN,
    blockSize = DEFAULT_PASSWORD_HASH_PARAMS.blockSize,
    parallelization = DEFAULT_PASSWORD_HASH_PARAMS.parallelization,
  } = params;
  assertInteger(logN, 'params.logN', ...LOG_N_RANGE);
  assertInteger(blockSize, 'params.blockSize', ...BLOCK_SIZE_RANGE);
  assertInteger(parallelization, 'params.parallelization', ...PARALLELIZATION_RANGE);
  const chosen = { logN, blockSize, parallelization };
  const excess = costExcess(chosen);
  if (excess !== undefined) throw new TypeError(`params ${excess}`);
  return chosen;
}

/** Why `params` cost too much, or `undefined` when they do not. */
function costExcess(params: Required<PasswordHashParams>): string | undefined {
  const memory = 128 * 2 ** params.logN * params.blockSize;
  if (memory > MAX_MEMORY_BYTES) {
    return `need ${memory / 2 ** 20} MiB (128 × 2^logN × blockSize bytes), more than the ${MAX_MEMORY_BYTES / 2 ** 20} MiB limit`;
  }
  if (memory * params.parallelization > MAX_WORK) {
    return 'cost more than eight times the default (2^logN × blockSize × parallelization)';
  }
  return undefined;
}

/** The PHC text {@link hashPassword} writes; base64 without padding, as PHC specifies. */
const STORED_FORMAT =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{1,100})\$([A-Za-z0-9+/]{1,100})$/;

/** Parses stored text, refusing anything `hashPassword` would not write. */
function parseStoredHash(stored: string): ParsedHash {
  if (typeof stored !== 'string') {
    throw new TypeError(`stored must be a string, got ${describeValue(stored)}`);
  }
  const parts = STORED_FORMAT.exec(stored);
  if (parts === null) throw invalidHash('format');
  const params = {
    logN: Number(parts[1]),
    blockSize: Number(parts[2]),
    parallelization: Number(parts[3]),
  };
  if (
    !inRange(params.logN, LOG_N_RANGE) ||
    !inRange(params.blockSize, BLOCK_SIZE_RANGE) ||
    !inRange(params.parallelization, PARALLELIZATION_RANGE) ||
    costExcess(params) !== undefined
  ) {
    throw invalidHash('parameters');
  }
  const salt = decodeUnpaddedBase64(parts[4] ?? '');
  if (salt === undefined || !inRange(salt.length, STORED_SALT_RANGE)) throw invalidHash('salt');
  const hash = decodeUnpaddedBase64(parts[5] ?? '');
  if (hash === undefined || !inRange(hash.length, STORED_HASH_RANGE)) throw invalidHash('hash');
  return { params, salt, hash };
}

function inRange(value: number, [min, max]: readonly [number, number]): boolean {
  return value >= min && value <= max;
}

function invalidHash(reason: 'format' | 'parameters' | 'salt' | 'hash'): FlowproofError {
  const what = {
    format: 'is not scrypt PHC text ($scrypt$ln=…,r=…,p=…$salt$hash)',
    parameters: 'has scrypt parameters out of range',
    salt: 'has a salt of the wrong length or encoding',
    hash: 'has a hash of the wrong length or encoding',
  }[reason];
  return new FlowproofError('PASSWORD_HASH_INVALID', `The stored password hash ${what}`, {
    details: { reason },
  });
}

/** `password` as UTF-8 after NFC normalization, or `undefined` when it holds a lone surrogate. */
function encodePassword(password: unknown): Buffer | undefined {
  if (typeof password !== 'string') {
    throw new TypeError(`password must be a string, got ${describeValue(password)}`);
  }
  const normalized = password.normalize('NFC');
  const bytes = Buffer.from(normalized, 'utf8');
  // UTF-8 cannot hold a lone surrogate: the encoder writes U+FFFD, and decoding shows it.
  return bytes.toString('utf8') === normalized ? bytes : undefined;
}

/** scrypt, with its failures (out of memory) as FlowproofErrors. */
function deriveKey(
  password: Buffer,
  salt: Buffer,
  length: number,
  params: Required<PasswordHashParams>,
  operation: 'hash' | 'verify',
): Promise<Buffer> {
  const N = 2 ** params.logN;
  const r = params.blockSize;
  const p = params.parallelization;
  // Node refuses more than 32 MiB unless told; the parameters are capped above, so this is too.
  const maxmem = 2 * 128 * N * r + 128 * r * p;
  return new Promise((resolve, reject) => {
    const failed = (cause: unknown) =>
      reject(
        new FlowproofError('PASSWORD_HASH_FAILED', `scrypt failed to ${operation} a password`, {
          cause,
          details: { operation },
        }),
      );
    try {
      scrypt(password, salt, length, { N, r, p, maxmem }, (error, key) => {
        if (error === null) resolve(key);
        else failed(error);
      });
    } catch (cause) {
      failed(cause);
    }
  });
}

function unpaddedBase64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}

/** Decodes unpadded base64, or `undefined` when it is not canonical (stray bits, bad length). */
function decodeUnpaddedBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64');
  return unpaddedBase64(bytes) === text ? bytes : undefined;
}
