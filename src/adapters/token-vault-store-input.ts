/**
 * Checks shared by every token-vault store on what it is asked to do, so memory, SQLite and
 * PostgreSQL answer a bad value the same way before anything is written, and the decoding of
 * stored rows they share.
 *
 * @internal
 */
import { assertInteger, assertKnownKeys, assertOptionsObject } from '../core/options.js';
import {
  TOKEN_VAULT_STORE_COMPONENT,
  type TokenPut,
  type TokenRow,
} from '../privacy/token-vault-store.js';
import { storedInteger } from './data-key-store-input.js';
import { assertStorableText } from './storable-text.js';
import { storeDataCorrupt } from './store-data-corrupt.js';

/**
 * Checks a token to store: the token, type and ciphertext non-empty text, the tenant text (`''`
 * for one tenant), the subject `null` or non-empty text; no text holds NUL or a lone surrogate.
 *
 * @throws TypeError naming the first bad field.
 */
export function checkTokenPut(token: TokenPut): void {
  assertOptionsObject(token, 'token');
  assertKnownKeys(token, ['token', 'tenant', 'type', 'subject', 'ciphertext'], 'token');
  assertStorableText(token.token, 'token.token');
  assertStorableText(token.tenant, 'token.tenant', true);
  assertStorableText(token.type, 'token.type');
  if (token.subject !== null) assertStorableText(token.subject, 'token.subject');
  assertStorableText(token.ciphertext, 'token.ciphertext');
}

/** @throws TypeError unless `token` is non-empty storable text. */
export function checkToken(token: unknown): asserts token is string {
  assertStorableText(token, 'token');
}

/** @throws TypeError naming the bad argument of `deleteBySubject`. */
export function checkDeleteBySubject(subject: unknown, limit: unknown): void {
  assertStorableText(subject, 'subject');
  assertInteger(limit, 'limit', 1);
}

/** A stored row as a store reads it back: columns of any type, checked by {@link tokenRow}. */
export interface StoredTokenRow {
  readonly token: unknown;
  readonly tenant: unknown;
  readonly type: unknown;
  readonly subject: unknown;
  readonly ciphertext: unknown;
  readonly created_at: unknown;
}

/**
 * The {@link TokenRow} of a stored row read from backend `backend`.
 *
 * @throws FlowproofError `STORE_DATA_CORRUPT` naming the first column that cannot be decoded.
 */
export function tokenRow(row: StoredTokenRow, backend: string): TokenRow {
  const corrupt = (field: string) =>
    storeDataCorrupt({
      backend,
      component: TOKEN_VAULT_STORE_COMPONENT,
      id: String(row.token),
      field,
    });
  const text = (value: unknown, field: string): string => {
    if (typeof value !== 'string') throw corrupt(field);
    return value;
  };
  const createdAt = storedInteger(row.created_at);
  if (createdAt === undefined) throw corrupt('created_at');
  return {
    token: text(row.token, 'token'),
    tenant: text(row.tenant, 'tenant'),
    type: text(row.type, 'type'),
    subject: row.subject === null ? null : text(row.subject, 'subject'),
    ciphertext: text(row.ciphertext, 'ciphertext'),
    createdAt,
  };
}
