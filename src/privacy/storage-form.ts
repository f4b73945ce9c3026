/**
 * The storage form of a classified record: encrypted fields become ciphertexts (under the data
 * subject's key when the field names one), tokenized fields vault tokens, hashed fields keyed or
 * password hashes, dropped fields nothing. Reading back decrypts; tokens and hashes stay as they
 * are (a token is detokenized on purpose, with authorization; a hash never comes back).
 */
import { FlowproofError, isFlowproofError } from '../core/errors.js';
import { assertNonEmptyString, readObject } from '../core/options.js';
import type { CompiledField } from './classification.js';
import type { FieldEncryption } from './encryption/field-encryption.js';
import { fieldText, findAt, REMOVE, replaceAt } from './field-paths.js';
import type { KeyedHasher } from './keyed-hash.js';
import { hashPassword } from './passwords.js';
import type { TokenVault } from './token-vault.js';

/** Where a record is stored, and what protects its fields there. */
export interface StorageFormOptions {
  /** The table (or collection) the record is stored in: bound into each ciphertext. */
  readonly table: string;
  /** The record's id: bound into each ciphertext, so a value copied to another row fails. */
  readonly row?: string;
  /** Encrypts `encrypt` fields; also makes keyed hashes when no `hasher` is given. */
  readonly encryption?: FieldEncryption;
  /** Tokenizes `tokenize` fields. */
  readonly vault?: TokenVault;
  /** Makes keyed hashes of `hash` fields (instead of `encryption.blindIndex`). */
  readonly hasher?: KeyedHasher;
}

/** Options of reading a record back from its storage form. */
export interface ReadStorageFormOptions extends StorageFormOptions {
  /**
   * What to do with a field whose data subject was erased (`KEY_SHREDDED`): `throw` it, or
   * `omit` the field and go on. @default 'throw'
   */
  readonly shredded?: 'throw' | 'omit';
}

const WRITE_KEYS = ['table', 'row', 'encryption', 'vault', 'hasher'];
const READ_KEYS = [...WRITE_KEYS, 'shredded'];

/** @internal */
export async function toStorageForm(
  fields: readonly CompiledField[],
  record: unknown,
  options: StorageFormOptions,
): Promise<unknown> {
  checkOptions(options, WRITE_KEYS, 'options');
  const pending: Promise<{ path: readonly (string | number)[]; value: unknown }>[] = [];
  for (const compiled of fields) {
    const { handling } = compiled.field;
    if (handling === 'redact' || handling === 'mask') continue;
    const subject = subjectFor(record, compiled);
    for (const found of findAt(record, compiled.segments)) {
      if (found.value === undefined) continue;
      if (handling === 'drop') {
        pending.push(Promise.resolve({ path: found.path, value: REMOVE }));
        continue;
      }
      if (found.value === null) continue;
      pending.push(
        protect(compiled, found.value, subject, options).then((value) => ({
          path: found.path,
          value,
        })),
      );
    }
  }
  return replaceAt(record, await Promise.all(pending));
}

/** @internal */
export async function fromStorageForm(
  fields: readonly CompiledField[],
  stored: unknown,
  options: ReadStorageFormOptions,
): Promise<unknown> {
  checkOptions(options, READ_KEYS, 'options');
  const { shredded = 'throw' } = options;
  if (shredded !== 'throw' && shredded !== 'omit') {
    throw new TypeError("options.shredded must be 'throw' or 'omit'");
  }
  const pending: Promise<{ path: readonly (string | number)[]; value: unknown }>[] = [];
  for (const compiled of fields) {
    if (compiled.field.handling !== 'encrypt') continue;
    const encryption = required(options.encryption, 'encryption', compiled);
    for (const found of findAt(stored, compiled.segments)) {
      if (found.value === undefined || found.value === null) continue;
      if (typeof found.value !== 'string') {
        throw new FlowproofError(
          'CIPHERTEXT_INVALID',
          `The stored value of ${compiled.field.path} is not a ciphertext`,
          { details: { reason: 'encoding' } },
        );
      }
      const context = { table: options.table, column: compiled.field.path, ...rowOf(options) };
      pending.push(
        encryption.decrypt(found.value, context).then(
          (text) => ({ path: found.path, value: JSON.parse(text) as unknown }),
          (error: unknown) => {
            if (shredded === 'omit' && isFlowproofError(error, 'KEY_SHREDDED')) {
              return { path: found.path, value: REMOVE };
            }
            throw error;
          },
        ),
      );
    }
  }
  return replaceAt(stored, await Promise.all(pending));
}

async function protect(
  compiled: CompiledField,
  value: unknown,
  subject: string | undefined,
  options: StorageFormOptions,
): Promise<unknown> {
  const { field } = compiled;
  const column = field.path;
  switch (field.handling) {
    case 'encrypt': {
      const encryption = required(options.encryption, 'encryption', compiled);
      // JSON, so numbers, booleans and objects come back as what they were.
      return encryption.encrypt(JSON.stringify(value), {
        table: options.table,
        column,
        ...rowOf(options),
        ...(subject === undefined ? {} : { subject }),
      });
    }
    case 'tokenize': {
      const vault = required(options.vault, 'vault', compiled);
      return vault.tokenize(textOf(value, compiled), {
        type: field.tokenType as string,
        ...(subject === undefined ? {} : { subject }),
      });
    }
    default: {
      const text = textOf(value, compiled);
      if (field.hash === 'password') return hashPassword(text);
      if (options.hasher !== undefined)
        return options.hasher.hash(text, `${options.table}.${column}`);
      const encryption = required(options.encryption, 'encryption or hasher', compiled);
      return encryption.blindIndex(text, { table: options.table, column });
    }
  }
}

function subjectFor(record: unknown, compiled: CompiledField): string | undefined {
  if (compiled.subjectSegments === undefined) return undefined;
  const [found] = findAt(record, compiled.subjectSegments);
  const id = found?.value;
  if (typeof id === 'string' && id !== '') return id;
  if (typeof id === 'number' && Number.isSafeInteger(id)) return String(id);
  // Encrypting without the subject's key would quietly escape erasure: refuse instead.
  throw new FlowproofError(
    'VALIDATION_FAILED',
    `${compiled.field.path} belongs to the data subject at ${compiled.field.subject}, which the record does not have`,
    {
      details: {
        issues: [
          {
            path: [compiled.field.subject as string],
            code: 'missing_subject',
            message: 'the data subject id is required to protect personal fields',
          },
        ],
      },
    },
  );
}

function textOf(value: unknown, compiled: CompiledField): string {
  const text = fieldText(value);
  if (text !== undefined) return text;
  throw new FlowproofError(
    'VALIDATION_FAILED',
    `${compiled.field.path} must be text (or a number) to be ${compiled.field.handling === 'hash' ? 'hashed' : 'tokenized'}`,
    {
      details: {
        issues: [{ path: [compiled.field.path], code: 'invalid_type', message: 'expected text' }],
      },
    },
  );
}

function required<T>(value: T | undefined, name: string, compiled: CompiledField): T {
  if (value === undefined) {
    throw new TypeError(
      `options.${name} is required: ${compiled.field.path} is classified with handling '${compiled.field.handling}'`,
    );
  }
  return value;
}

function rowOf(options: StorageFormOptions): { row?: string } {
  return options.row === undefined ? {} : { row: options.row };
}

function checkOptions(options: StorageFormOptions, keys: readonly string[], name: string): void {
  options = readObject(options, name, keys.join(' ')) as unknown as typeof options;
  assertNonEmptyString(options.table, `${name}.table`);
  if (options.row !== undefined) assertNonEmptyString(options.row, `${name}.row`);
}
