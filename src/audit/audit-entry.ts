/**
 * What an audit entry says — who, what, when, where, why, with what result and which changes —
 * and how it becomes the canonical JSON a record's hash covers.
 */
import { canonicalJson, MAX_JSON_DEPTH } from '../core/canonical-json.js';
import type { FlowContext } from '../core/context.js';
import { describeValue } from '../core/errors.js';
import { assertKnownKeys, unstorableText } from '../core/options.js';

/** Who acted. */
export interface AuditActor {
  /** The user's, service's or job's id. */
  readonly id: string;
  /** What kind of principal, e.g. `user`, `service`, `system`. */
  readonly type?: string;
  /** The client's IP address. */
  readonly ip?: string;
  /** The session the request belonged to. */
  readonly sessionId?: string;
  /** The client's user agent. */
  readonly userAgent?: string;
}

/** What was acted on. */
export interface AuditResource {
  /** Its type, e.g. `user`, `order`. */
  readonly type: string;
  /** Its id. */
  readonly id: string;
}

/** One field's change: its value before and after (either left out when there was none). */
export interface AuditChange {
  /** The value before the change; absent for a field that was set for the first time. */
  readonly before?: unknown;
  /** The value after it; absent for a field that was removed. */
  readonly after?: unknown;
}

/** Changes by field path (`email`, `address.city`). */
export type AuditChanges = Readonly<Record<string, AuditChange>>;

/** How the action ended. */
export type AuditResult =
  | {
      /** It succeeded. */
      readonly status: 'success';
    }
  | {
      /** It failed. */
      readonly status: 'failure';
      /** A stable code, e.g. a `FlowproofError` code or your own. */
      readonly errorCode: string;
      /** A short human-readable message (no personal data: it is not protected). */
      readonly message?: string;
    };

/** Where the action happened. */
export interface AuditWhere {
  /** The system, e.g. `accounts-api` (defaults to the audit log's `service`). */
  readonly service?: string;
  /** The endpoint, e.g. `PUT /users/:id`. */
  readonly endpoint?: string;
}

/** What the application records (see {@link AuditLog.record}). */
export interface AuditEntry {
  /** What was done, e.g. `user.updated`. */
  readonly action: string;
  /** Who did it; defaults to the flow context's actor. */
  readonly actor?: AuditActor;
  /** What it was done to. */
  readonly resource: AuditResource;
  /**
   * The person the changed values belong to (their user id), so a protector can encrypt them
   * under that person's key; defaults to none.
   */
  readonly subject?: string;
  /** Changed fields with their values before and after; see {@link diffChanges}. */
  readonly changes?: AuditChanges;
  /** Why, in business terms (`customer request #4411`). */
  readonly reason?: string;
  /** How it ended; defaults to success. */
  readonly result?: AuditResult;
  /** Where it happened. */
  readonly where?: AuditWhere;
  /** Anything else worth keeping, as JSON data (not protected: no personal data here). */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** The members of a record's content, as the hash covers them (the protected form). */
export interface AuditContent {
  readonly action: string;
  readonly actor: AuditActor | null;
  readonly causationId: string | null;
  readonly changes: AuditChanges | null;
  readonly correlationId: string | null;
  readonly metadata: Readonly<Record<string, unknown>> | null;
  readonly reason: string | null;
  readonly resource: AuditResource;
  readonly result: AuditResult;
  readonly subject: string | null;
  readonly where: AuditWhere | null;
}

const ENTRY_KEYS = [
  'action',
  'actor',
  'resource',
  'subject',
  'changes',
  'reason',
  'result',
  'where',
  'metadata',
];
const ACTOR_KEYS = ['id', 'type', 'ip', 'sessionId', 'userAgent'] as const;
const WHERE_KEYS = ['service', 'endpoint'] as const;
const SUCCESS: AuditResult = Object.freeze({ status: 'success' });

/**
 * Checks `entry` and fills in what the flow context and the log's defaults give, without the
 * changes (those go through the protector first).
 *
 * @throws TypeError naming the first field that is missing or of the wrong type.
 */
export function checkEntry(
  entry: AuditEntry,
  name: string,
  context: FlowContext | undefined,
  service: string | undefined,
): Omit<AuditContent, 'changes'> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new TypeError(`${name} must be an object, got ${describeValue(entry)}`);
  }
  assertKnownKeys(entry, ENTRY_KEYS, name);
  const resource = entry.resource;
  if (typeof resource !== 'object' || resource === null) {
    throw new TypeError(`${name}.resource must be an object { type, id }`);
  }
  assertKnownKeys(resource, ['type', 'id'], `${name}.resource`);
  const where = checkWhere(entry.where, `${name}.where`, service);
  return {
    action: text(entry.action, `${name}.action`),
    actor: checkActor(entry.actor, `${name}.actor`, context),
    causationId: context?.causationId ?? null,
    correlationId: context?.correlationId ?? null,
    metadata: checkMetadata(entry.metadata, `${name}.metadata`),
    reason: optionalText(entry.reason, `${name}.reason`) ?? null,
    resource: {
      id: text(resource.id, `${name}.resource.id`),
      type: text(resource.type, `${name}.resource.type`),
    },
    result: checkResult(entry.result, `${name}.result`),
    subject: optionalText(entry.subject, `${name}.subject`) ?? null,
    where,
  };
}

/**
 * The record's content as canonical JSON member text (the object's members without its braces):
 * the same text `canonicalJson` gives for the content object, written without sorting at run
 * time because the members' order is fixed.
 */
export function encodeContent(content: AuditContent, name: string): string {
  let text = `"action":${JSON.stringify(content.action)}`;
  if (content.actor !== null) text += `,"actor":${encodeActor(content.actor)}`;
  if (content.causationId !== null) {
    text += `,"causationId":${JSON.stringify(content.causationId)}`;
  }
  if (content.changes !== null) {
    text += `,"changes":${canonicalJson(content.changes, `${name}.changes`)}`;
  }
  if (content.correlationId !== null) {
    text += `,"correlationId":${JSON.stringify(content.correlationId)}`;
  }
  if (content.metadata !== null) {
    text += `,"metadata":${canonicalJson(content.metadata, `${name}.metadata`)}`;
  }
  if (content.reason !== null) text += `,"reason":${JSON.stringify(content.reason)}`;
  text += `,"resource":{"id":${JSON.stringify(content.resource.id)},"type":${JSON.stringify(content.resource.type)}}`;
  text += `,"result":${encodeResult(content.result)}`;
  if (content.subject !== null) text += `,"subject":${JSON.stringify(content.subject)}`;
  if (content.where !== null) text += `,"where":${encodeWhere(content.where)}`;
  return text;
}

function encodeActor(actor: AuditActor): string {
  let text = `{"id":${JSON.stringify(actor.id)}`;
  if (actor.ip !== undefined) text += `,"ip":${JSON.stringify(actor.ip)}`;
  if (actor.sessionId !== undefined) text += `,"sessionId":${JSON.stringify(actor.sessionId)}`;
  if (actor.type !== undefined) text += `,"type":${JSON.stringify(actor.type)}`;
  if (actor.userAgent !== undefined) text += `,"userAgent":${JSON.stringify(actor.userAgent)}`;
  return `${text}}`;
}

function encodeResult(result: AuditResult): string {
  if (result.status === 'success') return '{"status":"success"}';
  let text = `{"errorCode":${JSON.stringify(result.errorCode)}`;
  if (result.message !== undefined) text += `,"message":${JSON.stringify(result.message)}`;
  return `${text},"status":"failure"}`;
}

function encodeWhere(where: AuditWhere): string {
  const members: string[] = [];
  if (where.endpoint !== undefined) members.push(`"endpoint":${JSON.stringify(where.endpoint)}`);
  if (where.service !== undefined) members.push(`"service":${JSON.stringify(where.service)}`);
  return `{${members.join(',')}}`;
}

function checkActor(
  actor: AuditActor | undefined,
  name: string,
  context: FlowContext | undefined,
): AuditActor | null {
  if (actor === undefined) {
    const fromContext = context?.actor;
    if (fromContext === undefined) return null;
    return fromContext.type === undefined
      ? { id: fromContext.id }
      : { id: fromContext.id, type: fromContext.type };
  }
  if (typeof actor !== 'object' || actor === null) {
    throw new TypeError(`${name} must be an object { id, type?, ip?, sessionId?, userAgent? }`);
  }
  assertKnownKeys(actor, ACTOR_KEYS, name);
  const checked: { -readonly [K in keyof AuditActor]: AuditActor[K] } = {
    id: text(actor.id, `${name}.id`),
  };
  for (const key of ACTOR_KEYS) {
    if (key === 'id') continue;
    const value = optionalText(actor[key], `${name}.${key}`);
    if (value !== undefined) checked[key] = value;
  }
  return checked;
}

function checkWhere(
  where: AuditWhere | undefined,
  name: string,
  service: string | undefined,
): AuditWhere | null {
  if (where === undefined) return service === undefined ? null : { service };
  if (typeof where !== 'object' || where === null) {
    throw new TypeError(`${name} must be an object { service?, endpoint? }`);
  }
  assertKnownKeys(where, WHERE_KEYS, name);
  const checked: { -readonly [K in keyof AuditWhere]: AuditWhere[K] } = {};
  const ownService = optionalText(where.service, `${name}.service`) ?? service;
  if (ownService !== undefined) checked.service = ownService;
  const endpoint = optionalText(where.endpoint, `${name}.endpoint`);
  if (endpoint !== undefined) checked.endpoint = endpoint;
  return checked.service === undefined && checked.endpoint === undefined ? null : checked;
}

function checkResult(result: AuditResult | undefined, name: string): AuditResult {
  if (result === undefined) return SUCCESS;
  if (typeof result !== 'object' || result === null) {
    throw new TypeError(
      `${name} must be { status: 'success' } or { status: 'failure', errorCode }`,
    );
  }
  if (result.status === 'success') {
    assertKnownKeys(result, ['status'], name);
    return SUCCESS;
  }
  if (result.status !== 'failure') {
    throw new TypeError(`${name}.status must be 'success' or 'failure'`);
  }
  assertKnownKeys(result, ['status', 'errorCode', 'message'], name);
  const errorCode = text(result.errorCode, `${name}.errorCode`);
  const message = optionalText(result.message, `${name}.message`);
  return message === undefined
    ? { status: 'failure', errorCode }
    : { status: 'failure', errorCode, message };
}

function checkMetadata(
  metadata: Readonly<Record<string, unknown>> | undefined,
  name: string,
): Readonly<Record<string, unknown>> | null {
  if (metadata === undefined) return null;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new TypeError(`${name} must be an object of JSON data`);
  }
  return metadata;
}

/**
 * Checks `changes` (an object of `{ before?, after? }` by field path) and returns its entries.
 *
 * @throws TypeError naming the first bad change.
 */
export function changeEntries(
  changes: AuditChanges | undefined,
  name: string,
): readonly (readonly [string, AuditChange])[] {
  if (changes === undefined) return [];
  if (typeof changes !== 'object' || changes === null || Array.isArray(changes)) {
    throw new TypeError(`${name} must be an object of { before?, after? } by field`);
  }
  const entries = Object.entries(changes);
  for (const [field, change] of entries) {
    const at = `${name}[${JSON.stringify(field)}]`;
    const problem = field === '' ? 'must not be empty' : unstorableText(field);
    if (problem !== undefined)
      throw new TypeError(`${name} key ${JSON.stringify(field)} ${problem}`);
    if (typeof change !== 'object' || change === null || Array.isArray(change)) {
      throw new TypeError(`${at} must be an object { before?, after? }`);
    }
    assertKnownKeys(change, ['before', 'after'], at);
    if (change.before === undefined && change.after === undefined) {
      throw new TypeError(`${at} must have a before or an after value`);
    }
  }
  return entries;
}

function text(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`${name} must be a non-empty string, got ${describeValue(value)}`);
  }
  const problem = unstorableText(value);
  if (problem !== undefined) throw new TypeError(`${name} ${problem}`);
  return value;
}

function optionalText(value: unknown, name: string): string | undefined {
  return value === undefined ? undefined : text(value, name);
}

/** Options of {@link diffChanges}. */
export interface DiffChangesOptions {
  /** Only these field paths (top-level names or dotted paths); all when omitted. */
  readonly fields?: readonly string[];
  /** Leave these field paths out (e.g. `updatedAt`). */
  readonly ignore?: readonly string[];
}

/**
 * The changes between two versions of a record, by field path: nested plain objects are walked
 * (`address.city`), arrays and other values compared whole (by their canonical JSON). A field
 * only in `before` has no `after`, and the reverse.
 *
 * @example
 * ```ts
 * diffChanges({ email: 'a@x.io', name: 'Ada' }, { email: 'b@x.io', name: 'Ada' });
 * // { email: { before: 'a@x.io', after: 'b@x.io' } }
 * ```
 * @throws TypeError when `before` or `after` is not a plain object, holds a value that is not
 * JSON data, or has a key with a dot that names the same path as a nested member (`'a.b'` and
 * `{ a: { b } }`).
 */
export function diffChanges(
  before: Readonly<Record<string, unknown>> | null | undefined,
  after: Readonly<Record<string, unknown>> | null | undefined,
  options: DiffChangesOptions = {},
): Record<string, AuditChange> {
  assertKnownKeys(options, ['fields', 'ignore'], 'options');
  const fields = pathList(options.fields, 'options.fields');
  const ignore = pathList(options.ignore, 'options.ignore') ?? [];
  const changes: Record<string, AuditChange> = {};
  const paths = new Set<string>();
  const walk = (a: unknown, b: unknown, path: string, depth: number) => {
    if (path !== '' && ignore.includes(path)) return;
    // A key holding a dot can name the same path as a nested member: one change would hide the
    // other.
    if (paths.has(path)) {
      throw new TypeError(
        `before/after field path ${JSON.stringify(path)} is both a key and a nested path: rename the key`,
      );
    }
    paths.add(path);
    if (path !== '' && isPlainObject(a) && isPlainObject(b)) {
      if (depth >= MAX_JSON_DEPTH) {
        throw new TypeError(
          `before.${path} must nest at most ${MAX_JSON_DEPTH} levels deep (or it holds a cycle)`,
        );
      }
      walkObjects(a, b, path, depth + 1);
      return;
    }
    if (fields !== undefined && !fields.some((f) => f === path || path.startsWith(`${f}.`))) {
      return;
    }
    const beforeText = a === undefined ? undefined : canonicalJson(a, `before.${path}`);
    const afterText = b === undefined ? undefined : canonicalJson(b, `after.${path}`);
    if (beforeText === afterText) return;
    const change: { before?: unknown; after?: unknown } = {};
    if (a !== undefined) change.before = a;
    if (b !== undefined) change.after = b;
    changes[path] = change;
  };
  const walkObjects = (
    a: Record<string, unknown>,
    b: Record<string, unknown>,
    path: string,
    depth: number,
  ) => {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of [...keys].sort()) {
      walk(a[key], b[key], path === '' ? key : `${path}.${key}`, depth);
    }
  };
  const a = before ?? {};
  const b = after ?? {};
  if (!isPlainObject(a)) throw new TypeError('before must be a plain object, null or undefined');
  if (!isPlainObject(b)) throw new TypeError('after must be a plain object, null or undefined');
  walkObjects(a, b, '', 1);
  return changes;
}

function pathList(
  value: readonly string[] | undefined,
  name: string,
): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
    throw new TypeError(`${name} must be an array of non-empty field paths`);
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
