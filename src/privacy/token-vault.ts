/**
 * The tokenization vault: a sensitive value (a card number, an SSN) is swapped for a token that
 * means nothing outside the vault, so the rest of the system stores and passes the token. The
 * value is kept once, encrypted, beside its token; getting it back (`detokenize`) is authorized
 * and audited every time.
 */
import type { AuditActor } from '../audit/audit-entry.js';
import type { AuditLog } from '../audit/audit-log.js';
import { FlowproofError, isFlowproofError } from '../core/errors.js';
import {
  assertFunction,
  assertNonEmptyString,
  readObject,
  unstorableText,
} from '../core/options.js';
import type { FieldEncryption } from './encryption/field-encryption.js';
import { keyedHash } from './keyed-hash.js';
import type { TokenVaultStore } from './token-vault-store.js';

/** What the `authorize` hook of a vault is asked. */
export interface DetokenizeRequest {
  /** The token. */
  readonly token: string;
  /** The value's type, e.g. `card`. */
  readonly type: string;
  /** The tenant the token belongs to. */
  readonly tenant: string;
  /** The data subject the value belongs to, or `null`. */
  readonly subject: string | null;
  /** Who asks, as given to `detokenize`. */
  readonly actor: AuditActor | undefined;
  /** Why, as given to `detokenize`. */
  readonly purpose: string | undefined;
}

/** Options of {@link createTokenVault}. */
export interface TokenVaultOptions {
  /** Where tokens and their encrypted values are kept. */
  readonly store: TokenVaultStore<unknown>;
  /** Encrypts the values (under the subject's key when a subject is given, so erasure covers them). */
  readonly encryption: FieldEncryption;
  /**
   * Decides whether a `detokenize` may proceed; a refusal is `DETOKENIZE_DENIED` (and audited).
   * A hook that throws refuses too, with its error as the `cause`. Default: every request is allowed — give one in production.
   */
  readonly authorize?: (request: DetokenizeRequest) => boolean | Promise<boolean>;
  /** Records one entry per `detokenize`, allowed or not. Default: none. */
  readonly audit?: AuditLog<unknown>;
  /** Text every token starts with. @default 'tok_' */
  readonly prefix?: string;
}

/** Options of {@link TokenVault.tokenize}. */
export interface TokenizeOptions {
  /** What the value is, e.g. `card` or `ssn`: the same value of two types gets two tokens. */
  readonly type: string;
  /** The tenant (each tenant's tokens differ). @default '' */
  readonly tenant?: string;
  /** The data subject the value belongs to: its value is encrypted under their key. */
  readonly subject?: string;
}

/** Options of {@link TokenVault.detokenize}. */
export interface DetokenizeOptions {
  /** Who asks: passed to `authorize` and recorded in the audit entry. */
  readonly actor?: AuditActor;
  /** Why (e.g. `charge order ORD-1`): passed to `authorize` and recorded as the entry's reason. */
  readonly purpose?: string;
}

/** What {@link createTokenVault} returns. */
export interface TokenVault {
  /**
   * The token for `value`: the same value, type, tenant and subject always give the same token,
   * so tokenizing again is idempotent and stores nothing new. One round trip to the store.
   */
  tokenize(value: string, options: TokenizeOptions): Promise<string>;
  /**
   * The value behind `token`, after `authorize` allowed it; audited.
   *
   * @throws FlowproofError `TOKEN_UNKNOWN`, `DETOKENIZE_DENIED`, `KEY_SHREDDED` (the subject was
   * erased).
   */
  detokenize(token: string, options?: DetokenizeOptions): Promise<string>;
  /** Deletes every token of a data subject, in batches; returns how many. */
  deleteSubject(subject: string): Promise<number>;
}

const OPTION_KEYS = ['store', 'encryption', 'authorize', 'audit', 'prefix'];
const TOKENIZE_KEYS = ['type', 'tenant', 'subject'];
const DETOKENIZE_KEYS = ['actor', 'purpose'];
/** The table and key name the vault's values and tokens are bound to. */
const VAULT_TABLE = 'privacy_tokens';
const TOKEN_KEY = 'tokens';
/** 32 base64url characters: 192 bits of the keyed hash. */
const TOKEN_HASH_LENGTH = 32;
const DELETE_BATCH = 1000;

/**
 * A tokenization vault.
 *
 * @example
 * ```ts
 * const vault = createTokenVault({ store: tokens, encryption, audit, authorize: ({ actor }) => actor?.type === 'payments' });
 * const token = await vault.tokenize('4532015112830366', { type: 'card', subject: 'user-42' });
 * const card = await vault.detokenize(token, { actor: { id: 'charger', type: 'payments' }, purpose: 'charge ORD-1' });
 * ```
 * @throws TypeError naming the option when an option is missing or malformed.
 */
export function createTokenVault(options: TokenVaultOptions): TokenVault {
  options = readObject(options, 'options', OPTION_KEYS.join(' ')) as unknown as typeof options;
  const { store, encryption, authorize, audit, prefix = 'tok_' } = options;
  if (typeof store !== 'object' || store === null || typeof store.put !== 'function') {
    throw new TypeError(
      'options.store must be a token-vault store (e.g. createPostgresTokenVaultStore)',
    );
  }
  if (
    typeof encryption !== 'object' ||
    encryption === null ||
    typeof encryption.encrypt !== 'function'
  ) {
    throw new TypeError('options.encryption must be a field encryption (createFieldEncryption)');
  }
  if (authorize !== undefined) assertFunction(authorize, 'options.authorize');
  if (audit !== undefined && (typeof audit !== 'object' || typeof audit?.record !== 'function')) {
    throw new TypeError('options.audit must be an audit log (createAuditLog)');
  }
  if (typeof prefix !== 'string' || unstorableText(prefix) !== undefined || prefix.length > 32) {
    throw new TypeError('options.prefix must be text of at most 32 characters');
  }
  let tokenKey: Promise<Uint8Array> | undefined;
  // The subject is part of the token: two people with the same card number hold two tokens, so
  // erasing one of them never takes the other's value with it.
  const tokenOf = async (value: string, type: string, tenant: string, subject: string) => {
    tokenKey ??= encryption.indexKey(TOKEN_KEY).catch((error: unknown) => {
      tokenKey = undefined;
      throw error;
    });
    const hash = keyedHash(await tokenKey, value, `${tenant}\u0000${type}\u0000${subject}`);
    return `${prefix}${hash.slice(0, TOKEN_HASH_LENGTH)}`;
  };

  const record = async (
    row: { token: string; type: string; tenant: string; subject: string | null },
    detokenize: DetokenizeOptions,
    failure: string | undefined,
  ) => {
    if (audit === undefined) return;
    await audit.record({
      action: 'privacy.token.detokenized',
      ...(detokenize.actor === undefined ? {} : { actor: detokenize.actor }),
      resource: { type: 'token', id: row.token },
      ...(row.subject === null ? {} : { subject: row.subject }),
      ...(detokenize.purpose === undefined ? {} : { reason: detokenize.purpose }),
      metadata: { type: row.type, tenant: row.tenant },
      result:
        failure === undefined ? { status: 'success' } : { status: 'failure', errorCode: failure },
    });
  };

  return {
    async tokenize(value, tokenize) {
      if (typeof value !== 'string' || value === '') {
        throw new TypeError('value must be a non-empty string');
      }
      tokenize = readObject(
        tokenize,
        'options',
        TOKENIZE_KEYS.join(' '),
      ) as unknown as typeof tokenize;
      const { type, tenant = '', subject } = tokenize;
      assertNonEmptyString(type, 'options.type');
      if (typeof tenant !== 'string') throw new TypeError('options.tenant must be a string');
      if (subject !== undefined) assertNonEmptyString(subject, 'options.subject');
      const token = await tokenOf(value, type, tenant, subject ?? '');
      const ciphertext = await encryption.encrypt(value, {
        table: VAULT_TABLE,
        column: type,
        row: token,
        ...(subject === undefined ? {} : { subject }),
      });
      await store.put({ token, tenant, type, subject: subject ?? null, ciphertext });
      return token;
    },

    async detokenize(token, detokenize = {}) {
      assertNonEmptyString(token, 'token');
      detokenize = readObject(
        detokenize,
        'options',
        DETOKENIZE_KEYS.join(' '),
      ) as unknown as typeof detokenize;
      const row = await store.get(token);
      if (row === undefined) {
        throw new FlowproofError('TOKEN_UNKNOWN', 'No value is stored under this token', {
          details: { token },
        });
      }
      const request: DetokenizeRequest = {
        token,
        type: row.type,
        tenant: row.tenant,
        subject: row.subject,
        actor: detokenize.actor,
        purpose: detokenize.purpose,
      };
      if (authorize !== undefined) {
        // A hook that throws refuses (fail closed), and the attempt is on the record all the same.
        let allowed = false;
        let failure: unknown;
        try {
          allowed = (await authorize(request)) === true;
        } catch (error) {
          failure = error;
        }
        if (!allowed) {
          await record(row, detokenize, 'DETOKENIZE_DENIED');
          throw new FlowproofError('DETOKENIZE_DENIED', `Detokenizing a ${row.type} was refused`, {
            details: { token, type: row.type },
            ...(failure === undefined ? {} : { cause: failure }),
          });
        }
      }
      let value: string;
      try {
        value = await encryption.decrypt(row.ciphertext, {
          table: VAULT_TABLE,
          column: row.type,
          row: token,
        });
      } catch (error) {
        if (isFlowproofError(error)) await record(row, detokenize, error.code);
        throw error;
      }
      // The value leaves the vault only once the access is on the record.
      await record(row, detokenize, undefined);
      return value;
    },

    async deleteSubject(subject) {
      assertNonEmptyString(subject, 'subject');
      let deleted = 0;
      for (;;) {
        const batch = await store.deleteBySubject(subject, DELETE_BATCH);
        deleted += batch;
        if (batch < DELETE_BATCH) return deleted;
      }
    },
  };
}
