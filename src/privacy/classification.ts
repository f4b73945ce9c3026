/**
 * Classification: which fields of a record are personal or secret, and how each is handled. One
 * classification drives log redaction, masked API views, the encrypted storage form, what may be
 * sent to a third party, the audit protector and the data map retention needs.
 */
import { assertKnownKeys, readable, readObject } from '../core/options.js';
import {
  type AllowList,
  compileAllowList,
  maskedView,
  projectForRecipient,
} from './classified-views.js';
import { ANY, type FieldPathSegment, parseFieldPath, pathMatches } from './field-paths.js';
import { type MaskerName, maskers } from './masking.js';
import { createRedactor, type RedactionRule, type Redactor } from './redaction/redactor.js';
import {
  fromStorageForm,
  type ReadStorageFormOptions,
  type StorageFormOptions,
  toStorageForm,
} from './storage-form.js';
import type { TextDetector } from './text-detector.js';

/** What kind of sensitive data a field holds. */
export type DataCategory =
  /** Personally identifiable information (GDPR, CCPA): name, email, phone, address, IP, device ids. */
  | 'pii'
  /** Payment card data (PCI DSS): card number, CVV, expiry. */
  | 'pci'
  /** Protected health information (HIPAA): medical records, treatment, insurance. */
  | 'phi'
  /** Authentication secrets: passwords, API keys, tokens, security answers. */
  | 'secret';

/**
 * How a field is handled. Logs never show a classified value as it is; what else happens:
 *
 * | handling | stored as | logs | API view (`view`) |
 * | --- | --- | --- | --- |
 * | `redact` | the value | `[REDACTED]` | removed |
 * | `mask` | the value | masked | masked |
 * | `hash` | a keyed hash (or a password hash) | `[REDACTED]` | removed |
 * | `tokenize` | a vault token | `[REDACTED]` | removed (masked with `mask`) |
 * | `encrypt` | a ciphertext | `[REDACTED]` | removed (masked with `mask`) |
 * | `drop` | nothing | removed | removed |
 */
export type Handling = 'redact' | 'mask' | 'hash' | 'tokenize' | 'encrypt' | 'drop';

/** How one field is classified. */
export interface FieldClassificationSpec {
  /** What kind of data it is. */
  readonly category: DataCategory;
  /** How it is handled (see {@link Handling}). */
  readonly handling: Handling;
  /**
   * How it is masked where it is shown: a masker's name (`card`, `ssn`, `email`, `phone`,
   * `iban`) or a function. Required for `mask`; optional for `tokenize` and `encrypt` (the API
   * view then shows the masked value instead of removing the field).
   */
  readonly mask?: MaskerName | ((value: string) => string);
  /**
   * The path of the data subject's id in the same record (e.g. `id` or `customer.id`), when the
   * field belongs to a person: encryption then uses that person's key (so erasing the person
   * destroys it), tokens are filed under them, and the data map lists the field.
   */
  readonly subject?: string;
  /** For `hash`: `keyed` (HMAC, for lookups; the default) or `password` (scrypt, to verify). */
  readonly hash?: 'keyed' | 'password';
  /** For `tokenize`: the vault's type for the value. Default: the field's last key. */
  readonly tokenType?: string;
}

/** A classified field, as the classification lists it. */
export interface ClassifiedField {
  /** The field's path, e.g. `email` or `orders[*].card`. */
  readonly path: string;
  /** What kind of data it is. */
  readonly category: DataCategory;
  /** How it is handled. */
  readonly handling: Handling;
  /** The masker's name, `custom` for a function, or `undefined`. */
  readonly mask: MaskerName | 'custom' | undefined;
  /** The path of the data subject's id, or `undefined`. */
  readonly subject: string | undefined;
  /** For `hash`: which kind. */
  readonly hash: 'keyed' | 'password' | undefined;
  /** For `tokenize`: the vault's type. */
  readonly tokenType: string | undefined;
}

/** What a classification keeps of each field, to act on it. @internal */
export interface CompiledField {
  readonly field: ClassifiedField;
  readonly segments: readonly FieldPathSegment[];
  readonly subjectSegments: readonly FieldPathSegment[] | undefined;
  readonly masker: ((value: string) => string) | undefined;
}

const CATEGORIES: readonly DataCategory[] = ['pii', 'pci', 'phi', 'secret'];
const HANDLINGS: readonly Handling[] = ['redact', 'mask', 'hash', 'tokenize', 'encrypt', 'drop'];
const SPEC_KEYS = ['category', 'handling', 'mask', 'subject', 'hash', 'tokenType'];

/**
 * Marks a zod schema as holding sensitive data (through zod's own `.meta()`, under the key
 * `privacy`), so {@link createClassification} finds it. Mark the schema as it appears in the
 * object: a schema made from the marked one afterwards (`.min(3)`, `.transform(…)`) is a new
 * schema without the mark; `.optional()` and `.nullable()` keep it. A recursive schema (a
 * `z.lazy()` that refers to itself) is classified down to its first repetition: classify deeper
 * levels by path, or redact logs with a `**` path.
 *
 * @example
 * ```ts
 * const User = z.object({
 *   id: z.string(),
 *   email: personal(z.email(), { category: 'pii', handling: 'mask', mask: 'email', subject: 'id' }),
 * });
 * ```
 * @throws TypeError when `schema` is not a zod 4 schema or `spec` is not a valid classification.
 */
export function personal<S>(schema: S, spec: FieldClassificationSpec): S {
  const meta = readable('schema', () => (schema as { meta?: unknown } | null)?.meta);
  if (typeof meta !== 'function') {
    throw new TypeError(
      'schema must be a zod 4 schema (with .meta()); for other validators classify fields by path with createClassification({ fields })',
    );
  }
  checkSpec(spec, 'spec');
  const existing = (meta as () => Record<string, unknown> | undefined).call(schema);
  return (meta as (value: object) => S).call(schema, { ...existing, privacy: { ...spec } });
}

/** Turns a spec into the field the classification lists. @internal */
export function compileField(path: string, spec: unknown, name: string): CompiledField {
  const checked = checkSpec(spec, name);
  const segments = parseFieldPath(path, `${name} path`);
  const subjectSegments =
    checked.subject === undefined ? undefined : parseFieldPath(checked.subject, `${name}.subject`);
  if (subjectSegments?.includes(ANY)) {
    throw new TypeError(`${name}.subject must name one field (no '*'): '${checked.subject}'`);
  }
  const masker =
    typeof checked.mask === 'function'
      ? checked.mask
      : checked.mask === undefined
        ? undefined
        : maskers[checked.mask];
  const last = [...segments].reverse().find((segment) => typeof segment === 'string');
  return {
    segments,
    subjectSegments,
    masker,
    field: Object.freeze({
      path,
      category: checked.category,
      handling: checked.handling,
      mask: typeof checked.mask === 'function' ? 'custom' : checked.mask,
      subject: checked.subject,
      hash: checked.handling === 'hash' ? (checked.hash ?? 'keyed') : undefined,
      tokenType:
        checked.handling === 'tokenize'
          ? (checked.tokenType ?? (typeof last === 'string' ? last : 'value'))
          : undefined,
    }),
  };
}

function checkSpec(spec: unknown, name: string): FieldClassificationSpec {
  const value = readObject(spec, name);
  assertKnownKeys(value, SPEC_KEYS, name);
  const { category, handling, mask, subject, hash, tokenType } = value;
  if (!CATEGORIES.includes(category as DataCategory)) {
    throw new TypeError(`${name}.category must be one of ${CATEGORIES.join(', ')}`);
  }
  if (!HANDLINGS.includes(handling as Handling)) {
    throw new TypeError(`${name}.handling must be one of ${HANDLINGS.join(', ')}`);
  }
  if (mask !== undefined && typeof mask !== 'function' && !Object.hasOwn(maskers, String(mask))) {
    throw new TypeError(
      `${name}.mask must be a function or one of ${Object.keys(maskers).join(', ')}`,
    );
  }
  if (handling === 'mask' && mask === undefined) {
    throw new TypeError(`${name}.mask is required when handling is 'mask'`);
  }
  if (subject !== undefined && (typeof subject !== 'string' || subject === '')) {
    throw new TypeError(`${name}.subject must be the path of the data subject's id`);
  }
  if (hash !== undefined && (handling !== 'hash' || (hash !== 'keyed' && hash !== 'password'))) {
    throw new TypeError(`${name}.hash must be 'keyed' or 'password', with handling 'hash'`);
  }
  if (
    tokenType !== undefined &&
    (handling !== 'tokenize' || typeof tokenType !== 'string' || tokenType === '')
  ) {
    throw new TypeError(`${name}.tokenType must be a non-empty string, with handling 'tokenize'`);
  }
  return value as unknown as FieldClassificationSpec;
}

/** The classified fields found in a zod schema, by path. @internal */
export function fieldsOfSchema(schema: unknown): Map<string, unknown> {
  const found = new Map<string, unknown>();
  const seen = new Set<unknown>();
  const walk = (node: unknown, path: string): void => {
    if (typeof node !== 'object' || node === null || seen.has(node)) return;
    const spec = privacyMeta(node);
    if (spec !== undefined && path !== '') {
      found.set(path, spec);
      return;
    }
    // `seen` holds the schemas on the current path only (it stops recursion): a schema used in
    // several fields is walked for each.
    seen.add(node);
    const def = (node as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (def === undefined) return;
    const child = (segment: string) =>
      path === '' ? segment.replace(/^\./, '') : `${path}${segment}`;
    switch (def.type) {
      case 'object':
        for (const [key, value] of Object.entries(def.shape as Record<string, unknown>)) {
          walk(value, child(IDENTIFIER_KEY.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`));
        }
        break;
      case 'array':
        walk(def.element, child('[*]'));
        break;
      case 'record':
        walk(def.valueType, child('.*'));
        break;
      case 'tuple':
        for (const [i, item] of (def.items as unknown[]).entries()) walk(item, child(`[${i}]`));
        break;
      case 'union':
        for (const option of def.options as unknown[]) walk(option, path);
        break;
      case 'intersection':
        walk(def.left, path);
        walk(def.right, path);
        break;
      case 'pipe':
        walk(def.in, path);
        walk(def.out, path);
        break;
      case 'lazy': {
        // The schema behind the getter. A recursive one is already in `seen`; a getter that
        // builds a new schema on each call is, so it is followed once per path.
        const getter = def.getter;
        if (seen.has(getter)) break;
        seen.add(getter);
        walk((node as { _zod: { innerType?: unknown } })._zod.innerType, path);
        seen.delete(getter);
        break;
      }
      default:
        if ('innerType' in def) walk(def.innerType, path);
    }
    seen.delete(node);
  };
  walk(schema, '');
  return found;
}

const IDENTIFIER_KEY = /^[A-Za-z_$][\w$-]*$/;

function privacyMeta(node: object): unknown {
  const meta = (node as { meta?: unknown }).meta;
  if (typeof meta !== 'function') return undefined;
  try {
    return (meta.call(node) as { privacy?: unknown } | undefined)?.privacy;
  } catch {
    return undefined;
  }
}

/** Options of {@link createClassification}. */
export interface ClassificationOptions {
  /**
   * Classified fields by path (`email`, `address.street`, `orders[*].card`, `meta.*`): for
   * validators other than zod, or to add to what a schema marks. A path given here wins over the
   * schema's mark of the same path.
   */
  readonly fields?: Readonly<Record<string, FieldClassificationSpec>>;
  /**
   * What each third party (a CRM, an analytics tool) may receive, as an allow-list of paths:
   * everything else is dropped by {@link Classification.forThirdParty}. A secret can never be
   * listed.
   */
  readonly recipients?: Readonly<Record<string, readonly string[]>>;
}

/** Options of {@link Classification.redactor}. */
export interface ClassificationRedactorOptions {
  /** Free-text detectors run on every string (log messages, notes). Default: none. */
  readonly detectors?: readonly TextDetector[];
  /** More keys to redact wherever they appear (`'*secret*'`, `/token/i`). */
  readonly keys?: readonly (string | RegExp)[];
  /**
   * Match the classified paths at any depth (a logged `{ user }` has `user.email`), not only from
   * the root. @default true
   */
  readonly anywhere?: boolean;
}

/** One classification of a record's fields, and everything derived from it. */
export interface Classification {
  /** Every classified field. */
  readonly fields: readonly ClassifiedField[];
  /** The classified field at a concrete path (`['orders', 0, 'card']`), or `undefined`. */
  fieldAt(path: readonly (string | number)[]): ClassifiedField | undefined;
  /**
   * A redactor for logs: classified values become `[REDACTED]` (masked for `mask` fields,
   * removed for `drop` fields). Give it to {@link pinoRedaction} for pino.
   */
  redactor(options?: ClassificationRedactorOptions): Redactor;
  /**
   * The record as an API response may show it (see {@link Handling}): masked where a masker is
   * set, every other classified field removed, unclassified fields kept. Never mutates `record`.
   */
  view(record: unknown): unknown;
  /**
   * Only what `recipient` may receive: the paths its allow-list names, less any classified field
   * inside a listed object that the list does not name itself. Never mutates `record`.
   *
   * @throws TypeError when `recipient` is not one of the classification's recipients.
   */
  forThirdParty(recipient: string, record: unknown): unknown;
  /**
   * The record as it is stored: `encrypt` fields encrypted (bound to table, field and row; under
   * the data subject's key when the field names one), `tokenize` fields as vault tokens, `hash`
   * fields as keyed (or password) hashes, `drop` fields removed. Never mutates `record`.
   *
   * @throws FlowproofError `VALIDATION_FAILED` when a field's data subject id is missing from
   * the record (encrypting it under no one's key would escape erasure); `KEY_SHREDDED` for a
   * subject already erased.
   */
  toStorage(record: unknown, options: StorageFormOptions): Promise<unknown>;
  /**
   * The record read back from its storage form: encrypted fields decrypted; tokens and hashes
   * stay as stored.
   *
   * @throws FlowproofError `KEY_SHREDDED` (unless `shredded: 'omit'`), `DECRYPTION_FAILED`,
   * `CIPHERTEXT_INVALID`, `KEY_UNKNOWN`, `KEY_RETIRED`.
   */
  fromStorage(stored: unknown, options: ReadStorageFormOptions): Promise<unknown>;
  /** The fields that belong to a data subject: what a retention data map lists for erasure. */
  personalFields(): readonly ClassifiedField[];
}

const OPTION_KEYS = ['fields', 'recipients'];

/**
 * One classification from a zod schema marked with {@link personal}, from a map of fields by
 * path, or both.
 *
 * @example
 * ```ts
 * const users = createClassification(User, { recipients: { crm: ['email', 'name'], analytics: ['id', 'plan'] } });
 * logger.info({ user: users.redactor().redact(user) });
 * res.json(users.view(user));
 * crm.send(users.forThirdParty('crm', user));
 * ```
 * @throws TypeError naming the field or option that is not a valid classification.
 */
export function createClassification(
  schemaOrOptions: unknown,
  maybeOptions?: ClassificationOptions,
): Classification {
  const schemaGiven = readable(
    'options',
    () =>
      typeof schemaOrOptions === 'object' &&
      schemaOrOptions !== null &&
      ('_zod' in schemaOrOptions || '~standard' in schemaOrOptions),
  );
  let options = (schemaGiven ? (maybeOptions ?? {}) : schemaOrOptions) as ClassificationOptions;
  if (!schemaGiven && maybeOptions !== undefined) {
    throw new TypeError('schema must be a zod schema when options are given second');
  }
  options = readObject(options, 'options', OPTION_KEYS.join(' ')) as unknown as typeof options;
  const specs = schemaGiven ? fieldsOfSchema(schemaOrOptions) : new Map<string, unknown>();
  if (options.fields !== undefined) {
    for (const [path, spec] of Object.entries(readObject(options.fields, 'options.fields'))) {
      specs.set(path, spec);
    }
  }
  const compiled = [...specs].map(([path, spec]) =>
    compileField(path, spec, `fields[${JSON.stringify(path)}]`),
  );
  if (compiled.length === 0) {
    throw new TypeError(
      'the classification has no fields: mark schema fields with personal() or give options.fields',
    );
  }
  const recipients = new Map<string, AllowList>();
  for (const [name, paths] of Object.entries(
    readObject(options.recipients ?? {}, 'options.recipients'),
  )) {
    if (!Array.isArray(paths)) {
      throw new TypeError(`options.recipients.${name} must be an array of field paths`);
    }
    const parsed = paths.map((path, i) =>
      parseFieldPath(path as string, `options.recipients.${name}[${i}]`),
    );
    for (const [i, segments] of parsed.entries()) {
      const secret = compiled.find(
        (field) => field.field.category === 'secret' && coversOrEquals(segments, field.segments),
      );
      if (secret !== undefined) {
        throw new TypeError(
          `options.recipients.${name}[${i}] would send ${secret.field.path}, a secret, to a third party`,
        );
      }
    }
    recipients.set(name, compileAllowList(parsed));
  }
  const fields = Object.freeze(compiled.map((field) => field.field));
  return Object.freeze({
    fields,
    fieldAt(path: readonly (string | number)[]) {
      return compiled.find((field) => pathMatches(field.segments, path))?.field;
    },
    redactor(redactorOptions: ClassificationRedactorOptions = {}) {
      return classificationRedactor(compiled, redactorOptions);
    },
    view(record: unknown) {
      return maskedView(compiled, record);
    },
    forThirdParty(recipient: string, record: unknown) {
      const allow = recipients.get(recipient);
      if (allow === undefined) {
        throw new TypeError(
          `recipient must be one of the classification's recipients (${[...recipients.keys()].join(', ') || 'none'})`,
        );
      }
      return projectForRecipient(compiled, allow, record);
    },
    toStorage(record: unknown, storage: StorageFormOptions) {
      return toStorageForm(compiled, record, storage);
    },
    fromStorage(stored: unknown, storage: ReadStorageFormOptions) {
      return fromStorageForm(compiled, stored, storage);
    },
    personalFields() {
      return fields.filter((field) => field.subject !== undefined);
    },
  });
}

/** Whether the allowed path `allowed` names `field` or an object containing it. */
function coversOrEquals(
  allowed: readonly FieldPathSegment[],
  field: readonly FieldPathSegment[],
): boolean {
  return (
    allowed.length <= field.length &&
    allowed.every(
      (segment, i) => segment === ANY || field[i] === ANY || String(segment) === String(field[i]),
    )
  );
}

const REDACTED = '[REDACTED]';

function classificationRedactor(
  fields: readonly CompiledField[],
  options: ClassificationRedactorOptions,
): Redactor {
  options = readObject(options, 'options', 'detectors keys anywhere') as unknown as typeof options;
  const { anywhere = true } = options;
  // `**` matches zero or more levels, so `**.email` also covers a root `email`.
  const pathsOf = (field: CompiledField) =>
    anywhere ? [`**.${field.field.path}`] : [field.field.path];
  const rules: RedactionRule[] = fields.map((field) => {
    const paths = pathsOf(field);
    if (field.field.handling === 'drop') return { paths, remove: true };
    const masker = field.masker;
    if (field.field.handling === 'mask' && masker !== undefined) {
      return {
        paths,
        censor: (value: unknown) => (typeof value === 'string' ? masker(value) : REDACTED),
      };
    }
    return { paths, censor: REDACTED };
  });
  if (options.keys !== undefined) rules.push({ keys: options.keys, censor: REDACTED });
  return createRedactor({
    rules,
    ...(options.detectors === undefined ? {} : { detectors: options.detectors }),
  });
}
