/**
 * Key rotation's long-running halves: rewrapping stored ciphertexts onto the newest field key
 * (the data changes, a batch at a time, resumable), and rewrapping data keys onto the current
 * key-encryption key (only the key store changes).
 */
import { describeValue, FlowproofError } from '../../core/errors.js';
import { logEvent } from '../../core/logger.js';
import { assertInteger, assertSignal, readable, readObject } from '../../core/options.js';
import {
  ciphertextBytes,
  ciphertextVersion,
  type EncryptionContext,
  headerKeyId,
} from './ciphertext-format.js';
import { callKeyProvider, currentKekId } from './key-provider.js';
import type { Keyring, LoadedKey } from './keyring.js';

/** One stored value a {@link RewrapSource} yields. */
export interface RewrapRow {
  /**
   * Its position: the next page starts after it. Saved after each batch, so it must order the
   * rows (a primary key, as text).
   */
  readonly cursor: string;
  /** The stored ciphertext (base64url text). */
  readonly ciphertext: string;
  /** The context it was encrypted for. */
  readonly context: EncryptionContext;
}

/** A value to write back: {@link RewrapRow} with its new ciphertext. */
export interface RewrapUpdate extends RewrapRow {
  /** The new ciphertext; write it only where the stored value is still `ciphertext`. */
  readonly rewrapped: string;
}

/**
 * Where {@link FieldEncryption.rewrap} reads and writes ciphertexts: one encrypted column, say.
 * `createPostgresRewrapSource` and `createSqliteRewrapSource` read a table's column; write your
 * own for anything else.
 */
export interface RewrapSource {
  /** Up to `limit` rows after `afterCursor` (from the start when `null`), ordered by cursor. */
  page(afterCursor: string | null, limit: number): Promise<readonly RewrapRow[]>;
  /**
   * Writes each row's `rewrapped` value where the stored value is still its `ciphertext`
   * (compare-and-set: a value written meanwhile is left alone); returns how many it changed.
   */
  update(rows: readonly RewrapUpdate[]): Promise<number>;
}

/** Progress of a rewrap, after each batch. */
export interface RewrapReport {
  /** Values read. */
  readonly scanned: number;
  /** Values re-encrypted and written. */
  readonly rewrapped: number;
  /**
   * Values left as they were because their key is not an older field key: already under the
   * newest one, under a subject's key (subject keys do not rotate; a shredded subject's values
   * stay unreadable), or under a key the store does not hold.
   */
  readonly skipped: number;
  /** Values re-encrypted but changed meanwhile by someone else (left alone: the new write wins). */
  readonly conflicts: number;
  /**
   * Values under an older field key that cannot be read, left as they were: under a retired key,
   * tampered, read for another context, or not a ciphertext at all. Rewrapping them is
   * impossible; retiring their key loses nothing more.
   */
  readonly unreadable: number;
  /** The field key values were rewrapped onto. */
  readonly keyId: number;
  /** The cursor of the last row done, or `null` once the whole source is done. */
  readonly cursor: string | null;
}

/** Options of {@link FieldEncryption.rewrap}. */
export interface RewrapOptions {
  /**
   * The job's name (e.g. `users.email`): its position is saved in the key store under it after
   * each batch, and a rewrap under the same name resumes after the last saved batch. Cleared
   * when the source is done.
   */
  readonly job: string;
  /**
   * Rows read, re-encrypted and written per batch.
   * @default 500
   */
  readonly batchSize?: number;
  /** Stops between batches (the position is saved: run again to resume). */
  readonly signal?: AbortSignal;
  /** Called after each batch with the totals so far. */
  readonly onProgress?: (report: RewrapReport) => void;
}

/** Options of {@link FieldEncryption.rotateKeyEncryptionKey}. */
export interface KeyEncryptionKeyRotationOptions {
  /**
   * Keys read from the store per page.
   * @default 500
   */
  readonly batchSize?: number;
  /** Stops between keys. Run again to go on: keys already rewrapped are skipped. */
  readonly signal?: AbortSignal;
  /** Called after each page with the totals so far. */
  readonly onProgress?: (progress: KeyEncryptionKeyRotation) => void;
}

/** What {@link FieldEncryption.rotateKeyEncryptionKey} did. */
export interface KeyEncryptionKeyRotation {
  /** The key-encryption key data keys are now wrapped by. */
  readonly kekId: string;
  /** Data keys read (shredded ones included). */
  readonly scanned: number;
  /** Data keys rewrapped onto it. */
  readonly rewrapped: number;
}

/** How a rewrap re-encrypts one value: supplied by the field encryption. @internal */
export interface Reencryptor {
  reencrypt(bytes: Buffer, context: EncryptionContext, current: LoadedKey): Promise<Buffer>;
}

/** Errors that make one value unreadable, not the whole job impossible. */
const UNREADABLE = new Set([
  'CIPHERTEXT_INVALID',
  'DECRYPTION_FAILED',
  'KEY_SHREDDED',
  'KEY_RETIRED',
  'KEY_UNKNOWN',
]);

/** The rewrap loop. @internal */
export async function rewrapSource(
  keyring: Keyring,
  source: RewrapSource,
  options: RewrapOptions,
  reencryptor: Reencryptor,
): Promise<RewrapReport> {
  if (
    !readable(
      'source',
      () =>
        typeof (source as Partial<RewrapSource> | null)?.page === 'function' &&
        typeof source.update === 'function',
    )
  ) {
    throw new TypeError('source must be a RewrapSource { page(), update() }');
  }
  const {
    job,
    batchSize = 500,
    signal,
    onProgress,
  } = readObject(options, 'options', 'job batchSize signal onProgress') as Partial<RewrapOptions>;
  if (typeof job !== 'string' || job.length === 0) {
    throw new TypeError(`options.job must be a non-empty string, got ${describeValue(job)}`);
  }
  assertInteger(batchSize, 'options.batchSize', 1, 100_000);
  assertSignal(signal);
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new TypeError('options.onProgress must be a function');
  }
  signal?.throwIfAborted();
  const store = keyring.store;
  // Read the newest key from the store, not the cache: the job exists to reach it.
  const current = await keyring.current(true);
  const fieldKeys = await fieldKeyIds(keyring);
  const totals = { scanned: 0, rewrapped: 0, skipped: 0, conflicts: 0, unreadable: 0 };
  let cursor: string | null = (await store.loadCursor(job)) ?? null;
  const report = (): RewrapReport => ({ ...totals, keyId: current.id, cursor });
  for (;;) {
    signal?.throwIfAborted();
    const rows = await source.page(cursor, batchSize);
    if (rows.length === 0) break;
    const updates: RewrapUpdate[] = [];
    for (const row of rows) {
      totals.scanned++;
      let next: Buffer | undefined;
      try {
        const bytes = ciphertextBytes(row.ciphertext);
        ciphertextVersion(bytes);
        const keyId = headerKeyId(bytes);
        // A subject's value stays under the subject's key; a field key newer than the one the
        // job started with (rotated meanwhile) needs nothing either.
        if (keyId === current.id || !fieldKeys.has(keyId)) {
          totals.skipped++;
          continue;
        }
        next = await reencryptor.reencrypt(bytes, row.context, current);
      } catch (error) {
        if (error instanceof FlowproofError && UNREADABLE.has(error.code)) {
          totals.unreadable++;
          continue;
        }
        throw error;
      }
      updates.push({ ...row, rewrapped: next.toString('base64url') });
    }
    const changed = updates.length === 0 ? 0 : await source.update(updates);
    totals.rewrapped += changed;
    totals.conflicts += updates.length - changed;
    cursor = (rows[rows.length - 1] as RewrapRow).cursor;
    await store.saveCursor(job, cursor);
    onProgress?.(report());
  }
  await store.saveCursor(job, null);
  cursor = null;
  logEvent(
    keyring.logger,
    'info',
    { event: 'privacy.rewrap.done', job, ...totals, keyId: current.id },
    `rewrap ${job} done`,
  );
  return report();
}

/**
 * The ids of every field key in the store. Field keys are few (one per rotation), and knowing
 * them up front tells a subject's value from a field value without reading (or unwrapping) its
 * key: a table of a million subjects' values costs no key-store read per row.
 */
async function fieldKeyIds(keyring: Keyring): Promise<Set<number>> {
  const ids = new Set<number>();
  let afterId = 0;
  for (;;) {
    const page = await keyring.store.list({ purpose: 'field', afterId, limit: 1000 });
    for (const row of page) ids.add(row.id);
    if (page.length < 1000) return ids;
    afterId = (page[page.length - 1] as (typeof page)[number]).id;
  }
}

/** Rewraps every data key onto the current key-encryption key. @internal */
export async function rotateKeyEncryptionKey(
  keyring: Keyring,
  options: KeyEncryptionKeyRotationOptions,
): Promise<KeyEncryptionKeyRotation> {
  const {
    batchSize = 500,
    signal,
    onProgress,
  } = readObject(
    options,
    'options',
    'batchSize signal onProgress',
  ) as Partial<KeyEncryptionKeyRotationOptions>;
  assertInteger(batchSize, 'options.batchSize', 1, 100_000);
  assertSignal(signal);
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new TypeError('options.onProgress must be a function');
  }
  const { store, keyProvider } = keyring;
  const kekId = currentKekId(keyProvider);
  let scanned = 0;
  let rewrapped = 0;
  for (const purpose of ['field', 'subject', 'index'] as const) {
    let afterId = 0;
    for (;;) {
      signal?.throwIfAborted();
      const page = await store.list({ purpose, afterId, limit: batchSize });
      if (page.length === 0) break;
      for (const row of page) {
        scanned++;
        if (row.kekId === null || row.wrapped === null || row.kekId === kekId) continue;
        const dataKey = await callKeyProvider(keyProvider, 'unwrap', row.kekId, row.wrapped);
        let wrapped: Uint8Array;
        try {
          wrapped = await callKeyProvider(keyProvider, 'wrap', kekId, dataKey);
        } finally {
          dataKey.fill(0);
        }
        // Compare-and-set: a key shredded or rewrapped meanwhile is left as it is now.
        if (await store.rewrap({ id: row.id, expectKekId: row.kekId, kekId, wrapped })) rewrapped++;
      }
      afterId = (page[page.length - 1] as (typeof page)[number]).id;
      onProgress?.({ kekId, scanned, rewrapped });
    }
  }
  logEvent(
    keyring.logger,
    'info',
    { event: 'privacy.kek.rotated', kekId, scanned, rewrapped },
    `data keys rewrapped onto key-encryption key ${kekId}`,
  );
  return { kekId, scanned, rewrapped };
}
