/**
 * Declarative retention policies per data type, from an object, JSON or YAML. Every problem of a
 * document is collected and reported at once as `RETENTION_POLICY_INVALID`.
 */
import { LineCounter, parseDocument } from 'yaml';
import { describeValue, FlowproofError, type FlowproofErrorIssue } from '../core/errors.js';
import {
  addRetentionDuration,
  isRetentionDuration,
  parseRetentionText,
  type RetentionDuration,
  type RetentionPeriod,
  retentionCutoff,
} from './retention-durations.js';

/** One data type's retention policy. */
export interface RetentionPolicy {
  /** The data type the policy covers (its key in the document). */
  readonly dataType: string;
  /** How long records are kept at least (nothing deleted before); 'indefinite' = never deleted by the sweeper. */
  readonly keep?: RetentionPeriod;
  /** Records are deleted this long after their time (default: `keep`, when finite and deletable). */
  readonly deleteAfter?: RetentionDuration;
  /** Personal fields are anonymized this long after their time. */
  readonly anonymizeAfter?: RetentionDuration;
  /** Anonymize personal data (fields come from the table/location registration or the classification). */
  readonly anonymizePii: boolean;
  /** Delete at once when the subject withdraws consent. */
  readonly deleteOnConsentWithdrawal: boolean;
  /** Never deleted by sweeps or erasures (audit logs): erasure must anonymize or retain. */
  readonly cannotDelete: boolean;
  /** The legal basis (GDPR art. 6 / tax law reference, free text). */
  readonly legalBasis?: string;
  /** The anchor event in words when written ("2 years after resolution" -> "resolution"), for docs/plans only. */
  readonly anchor?: string;
  /**
   * How long an erasure of this type may take, when the document sets one; otherwise the
   * retention module's `deadline` (one month by default) applies.
   */
  readonly erasureDeadline?: RetentionDuration;
  /**
   * For accounts: inactivity period, then delete after `deleteAfterInactive`. The table's timestamp
   * column must then hold the last login (activity) time, since due dates count from it.
   */
  readonly inactiveAfter?: RetentionDuration;
  /** With `inactiveAfter`: deleted this long after the inactivity period ends. */
  readonly deleteAfterInactive?: RetentionDuration;
}

/** A validated, immutable set of retention policies. */
export interface RetentionPolicies {
  /** The data types with a policy, in document order. */
  readonly dataTypes: readonly string[];
  /** The policy of `dataType`, or `undefined`. */
  get(dataType: string): RetentionPolicy | undefined;
  /** When a record of `dataType` with time `recordedAt` becomes due for deletion, or undefined (never). */
  deleteDueAt(dataType: string, recordedAt: Date | number): Date | undefined;
  /** When it becomes due for anonymization, or undefined. */
  anonymizeDueAt(dataType: string, recordedAt: Date | number): Date | undefined;
  /** The latest record time due for deletion at `now`, or undefined (nothing of this type is ever due). */
  deleteCutoff(dataType: string, now: Date | number): Date | undefined;
  /** The latest record time due for anonymization at `now`, or undefined. */
  anonymizeCutoff(dataType: string, now: Date | number): Date | undefined;
  /** Data types whose policy says delete on consent withdrawal. */
  readonly consentWithdrawalTypes: readonly string[];
  /** The plain document (camelCase), which {@link definePolicies} accepts back. */
  toJSON(): unknown;
}

type Path = readonly (string | number)[];

const ROOT_KEYS = ['retention_policies', 'retentionPolicies'];
const FIELD_ALIASES: Record<string, string> = {
  keep: 'keep',
  active: 'keep',
  delete_after: 'deleteAfter',
  deleteAfter: 'deleteAfter',
  anonymize_after: 'anonymizeAfter',
  anonymizeAfter: 'anonymizeAfter',
  anonymize_pii: 'anonymizePii',
  anonymizePii: 'anonymizePii',
  delete_on_consent_withdrawal: 'deleteOnConsentWithdrawal',
  deleteOnConsentWithdrawal: 'deleteOnConsentWithdrawal',
  delete_immediately_on_withdrawal: 'deleteOnConsentWithdrawal',
  deleteImmediatelyOnWithdrawal: 'deleteOnConsentWithdrawal',
  cannot_delete: 'cannotDelete',
  cannotDelete: 'cannotDelete',
  legal_basis: 'legalBasis',
  legalBasis: 'legalBasis',
  erasure_deadline: 'erasureDeadline',
  erasureDeadline: 'erasureDeadline',
  inactive_after: 'inactiveAfter',
  inactiveAfter: 'inactiveAfter',
  delete_after_inactive: 'deleteAfterInactive',
  deleteAfterInactive: 'deleteAfterInactive',
  anchor: 'anchor',
  dataType: 'dataType',
};
const ACCEPTED_KEYS = Object.keys(FIELD_ALIASES).filter(
  (key) => !/[A-Z]/.test(key) || key === 'dataType',
);

/** Rough length for comparisons ("delete_after shorter than keep"): months of 30.44 days. */
function approxMs(d: RetentionDuration): number {
  return (
    ((d.years * 12 + d.months) * 30.436875 + d.days) * 86_400_000 +
    ((d.hours * 60 + d.minutes) * 60 + d.seconds) * 1000
  );
}

function sum(a: RetentionDuration, b: RetentionDuration): RetentionDuration {
  return Object.freeze({
    years: a.years + b.years,
    months: a.months + b.months,
    days: a.days + b.days,
    hours: a.hours + b.hours,
    minutes: a.minutes + b.minutes,
    seconds: a.seconds + b.seconds,
    text: `${a.text} + ${b.text}`,
  });
}

function invalid(issues: FlowproofErrorIssue[], cause?: unknown): FlowproofError {
  const first = issues[0];
  const summary = first ? `${first.path.join('.')}: ${first.message}` : 'invalid';
  return new FlowproofError(
    'RETENTION_POLICY_INVALID',
    `retention policies are invalid (${issues.length} issue${issues.length === 1 ? '' : 's'}; first: ${summary})`,
    cause === undefined ? { details: { issues } } : { details: { issues }, cause },
  );
}

/** Reads `read()`, turning a throw (getter, proxy trap) into an issue at `path`. */
function safely<T>(issues: FlowproofErrorIssue[], path: Path, read: () => T): T | undefined {
  try {
    return read();
  } catch {
    issues.push({ path, code: 'invalid', message: 'cannot be read' });
    return undefined;
  }
}

function plainEntries(
  value: unknown,
  issues: FlowproofErrorIssue[],
  path: Path,
): [string, unknown][] | undefined {
  const keys = safely(issues, path, () =>
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? Object.keys(value)
      : null,
  );
  if (keys === undefined) return undefined;
  if (keys === null) {
    issues.push({
      path,
      code: 'invalid',
      message: `must be an object (a map of fields), got ${describeValue(value)}`,
    });
    return undefined;
  }
  const entries: [string, unknown][] = [];
  for (const key of keys) {
    const read = safely(issues, [...path, key], () => ({
      v: (value as Record<string, unknown>)[key],
    }));
    if (read) entries.push([key, read.v]);
  }
  return entries;
}

function readDuration(
  value: unknown,
  issues: FlowproofErrorIssue[],
  path: Path,
  allowIndefinite: boolean,
): { period: RetentionPeriod; anchor?: string } | undefined {
  if (isRetentionDuration(value)) {
    return { period: Object.freeze({ ...value }) };
  }
  if (typeof value !== 'string') {
    issues.push({
      path,
      code: 'invalid',
      message: `must be a duration text ("90 days", "P90D")${allowIndefinite ? ' or "indefinite"' : ''}, got ${describeValue(value)}`,
    });
    return undefined;
  }
  const indefinite = /^\s*(indefinite|forever)\b\s*(.*)$/i.exec(value);
  if (indefinite) {
    if (!allowIndefinite) {
      issues.push({
        path,
        code: 'invalid',
        message: 'must be a finite duration ("90 days", "P90D"), not "indefinite"',
      });
      return undefined;
    }
    const anchor = (indefinite[2] ?? '').trim();
    return anchor ? { period: 'indefinite', anchor } : { period: 'indefinite' };
  }
  try {
    const parsed = parseRetentionText(value, 'duration');
    return parsed.anchor === undefined
      ? { period: parsed.duration }
      : { period: parsed.duration, anchor: parsed.anchor };
  } catch (error) {
    const message = error instanceof Error ? error.message.replace(/^duration /, '') : 'is invalid';
    issues.push({ path, code: 'invalid', message });
    return undefined;
  }
}

function checkPolicy(
  dataType: string,
  value: unknown,
  issues: FlowproofErrorIssue[],
  path: Path,
): RetentionPolicy | undefined {
  const before = issues.length;
  const entries = plainEntries(value, issues, path);
  if (!entries) return undefined;
  const seen = new Map<string, string>();
  const fields: Record<string, unknown> = {};
  for (const [key, raw] of entries) {
    const field = FIELD_ALIASES[key];
    if (field === undefined) {
      issues.push({
        path: [...path, key],
        code: 'invalid',
        message: `is not a known policy field; expected one of: ${ACCEPTED_KEYS.join(', ')} (or their camelCase forms)`,
      });
      continue;
    }
    const other = seen.get(field);
    if (other !== undefined) {
      issues.push({ path: [...path, key], code: 'invalid', message: `repeats "${other}"` });
      continue;
    }
    seen.set(field, key);
    fields[field] = raw;
  }
  const policy: {
    -readonly [K in keyof RetentionPolicy]: RetentionPolicy[K];
  } = {
    dataType,
    anonymizePii: false,
    deleteOnConsentWithdrawal: false,
    cannotDelete: false,
  };
  const at = (field: string): Path => [...path, seen.get(field) ?? field];
  let anchor: string | undefined;
  for (const field of [
    'keep',
    'deleteAfter',
    'anonymizeAfter',
    'erasureDeadline',
    'inactiveAfter',
    'deleteAfterInactive',
  ] as const) {
    if (fields[field] === undefined) continue;
    const read = readDuration(fields[field], issues, at(field), field === 'keep');
    if (!read) continue;
    if (read.anchor !== undefined) anchor ??= read.anchor;
    if (field === 'keep') policy.keep = read.period;
    else policy[field] = read.period as RetentionDuration;
    if (field === 'erasureDeadline' && isZero(read.period as RetentionDuration)) {
      issues.push({
        path: at(field),
        code: 'invalid',
        message: 'must be longer than nothing: an erasure takes some time',
      });
    }
  }
  for (const field of ['anonymizePii', 'deleteOnConsentWithdrawal', 'cannotDelete'] as const) {
    const raw = fields[field];
    if (raw === undefined) continue;
    if (typeof raw !== 'boolean') {
      issues.push({
        path: at(field),
        code: 'invalid',
        message: `must be true or false, got ${describeValue(raw)}`,
      });
    } else policy[field] = raw;
  }
  for (const field of ['legalBasis', 'anchor'] as const) {
    const raw = fields[field];
    if (raw === undefined) continue;
    if (typeof raw !== 'string' || raw.trim().length === 0 || raw.length > 1000) {
      issues.push({
        path: at(field),
        code: 'invalid',
        message: `must be a non-empty text of at most 1000 characters, got ${describeValue(raw)}`,
      });
    } else if (field === 'anchor') anchor = raw;
    else policy.legalBasis = raw;
  }
  if (fields.dataType !== undefined && fields.dataType !== dataType) {
    issues.push({
      path: at('dataType'),
      code: 'invalid',
      message: `must equal its key "${dataType}"`,
    });
  }
  if (anchor !== undefined) policy.anchor = anchor;
  const { keep, deleteAfter, anonymizeAfter, inactiveAfter, deleteAfterInactive } = policy;
  if (policy.cannotDelete && deleteAfter) {
    issues.push({
      path: at('deleteAfter'),
      code: 'invalid',
      message:
        'cannot be set with cannot_delete: true (a type that cannot be deleted has no deletion age)',
    });
  }
  if (policy.cannotDelete && (inactiveAfter || deleteAfterInactive)) {
    issues.push({
      path: at(inactiveAfter ? 'inactiveAfter' : 'deleteAfterInactive'),
      code: 'invalid',
      message: 'cannot be set with cannot_delete: true',
    });
  }
  if (policy.cannotDelete && policy.deleteOnConsentWithdrawal) {
    issues.push({
      path: at('deleteOnConsentWithdrawal'),
      code: 'invalid',
      message: 'cannot be true with cannot_delete: true',
    });
  }
  if (
    (inactiveAfter === undefined) !== (deleteAfterInactive === undefined) &&
    issues.length === before
  ) {
    issues.push({
      path: at(inactiveAfter ? 'deleteAfterInactive' : 'inactiveAfter'),
      code: 'invalid',
      message: 'inactive_after and delete_after_inactive must be given together',
    });
  }
  if (deleteAfter && keep !== undefined) {
    if (keep === 'indefinite') {
      issues.push({
        path: at('deleteAfter'),
        code: 'invalid',
        message: 'cannot be set when keep is "indefinite"',
      });
    } else if (approxMs(deleteAfter) < approxMs(keep)) {
      issues.push({
        path: at('deleteAfter'),
        code: 'invalid',
        message: `must not be shorter than keep (${keep.text}), got "${deleteAfter.text}"`,
      });
    }
  }
  const deletionAge =
    deleteAfter ??
    (inactiveAfter && deleteAfterInactive ? sum(inactiveAfter, deleteAfterInactive) : undefined) ??
    (keep !== 'indefinite' && !policy.cannotDelete ? keep : undefined);
  if (anonymizeAfter && deletionAge && approxMs(anonymizeAfter) > approxMs(deletionAge)) {
    issues.push({
      path: at('anonymizeAfter'),
      code: 'invalid',
      message: `must not be longer than the deletion age (${deletionAge.text}), got "${anonymizeAfter.text}"`,
    });
  }
  if (issues.length !== before) return undefined;
  return Object.freeze(policy);
}

function checkDataType(key: string, issues: FlowproofErrorIssue[], path: Path): boolean {
  if (key.trim().length === 0 || key.length > 200) {
    issues.push({
      path,
      code: 'invalid',
      message: 'a data type name must be a non-empty text of at most 200 characters',
    });
    return false;
  }
  return true;
}

function definePoliciesCollecting(
  document: unknown,
  issues: FlowproofErrorIssue[],
): Map<string, RetentionPolicy> {
  const policies = new Map<string, RetentionPolicy>();
  const entries = plainEntries(document, issues, []);
  if (!entries) return policies;
  let map: unknown = document;
  let root: Path = [];
  const rootEntry = entries.find(([key]) => ROOT_KEYS.includes(key));
  if (rootEntry) {
    if (entries.length > 1) {
      for (const [key] of entries) {
        if (key !== rootEntry[0])
          issues.push({
            path: [key],
            code: 'invalid',
            message: `is not allowed beside ${rootEntry[0]}`,
          });
      }
    }
    map = rootEntry[1];
    root = [rootEntry[0]];
  }
  const types = root.length === 0 ? entries : plainEntries(map, issues, root);
  if (!types) return policies;
  for (const [dataType, value] of types) {
    const path = [...root, dataType];
    if (!checkDataType(dataType, issues, path)) continue;
    const policy = checkPolicy(dataType, value, issues, path);
    if (policy) policies.set(dataType, policy);
  }
  return policies;
}

function toMsArg(value: Date | number, name: string): number {
  let ms: unknown;
  try {
    ms = value instanceof Date ? value.getTime() : value;
  } catch (cause) {
    throw new TypeError(`${name} cannot be read`, { cause });
  }
  // Within the Date range with room for 1000 years either way, so arithmetic never leaves it.
  if (typeof ms !== 'number' || !Number.isFinite(ms) || Math.abs(ms) > 8.6e15) {
    throw new TypeError(
      `${name} must be a valid Date or epoch milliseconds, got ${describeValue(value)}`,
    );
  }
  return ms;
}

function durationJSON(d: RetentionDuration): string {
  return d.text;
}

function policyJSON(policy: RetentionPolicy): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (policy.keep !== undefined)
    out.keep = policy.keep === 'indefinite' ? 'indefinite' : durationJSON(policy.keep);
  for (const field of [
    'deleteAfter',
    'anonymizeAfter',
    'inactiveAfter',
    'deleteAfterInactive',
  ] as const) {
    const d = policy[field];
    if (d) out[field] = durationJSON(d);
  }
  out.anonymizePii = policy.anonymizePii;
  out.deleteOnConsentWithdrawal = policy.deleteOnConsentWithdrawal;
  out.cannotDelete = policy.cannotDelete;
  if (policy.legalBasis !== undefined) out.legalBasis = policy.legalBasis;
  if (policy.anchor !== undefined) out.anchor = policy.anchor;
  if (policy.erasureDeadline !== undefined) {
    out.erasureDeadline = durationJSON(policy.erasureDeadline);
  }
  return out;
}

function build(policies: Map<string, RetentionPolicy>): RetentionPolicies {
  const dataTypes = Object.freeze([...policies.keys()]);
  const consentWithdrawalTypes = Object.freeze(
    dataTypes.filter((type) => policies.get(type)?.deleteOnConsentWithdrawal === true),
  );
  const deletionAge = (policy: RetentionPolicy): RetentionDuration | undefined => {
    if (policy.cannotDelete) return undefined;
    if (policy.deleteAfter) return policy.deleteAfter;
    if (policy.inactiveAfter && policy.deleteAfterInactive)
      return sum(policy.inactiveAfter, policy.deleteAfterInactive);
    return policy.keep === undefined || policy.keep === 'indefinite' ? undefined : policy.keep;
  };
  const lookup = (dataType: string): RetentionPolicy | undefined => {
    if (typeof dataType !== 'string')
      throw new TypeError(`dataType must be a string, got ${describeValue(dataType)}`);
    return policies.get(dataType);
  };
  const keepOf = (policy: RetentionPolicy) =>
    policy.keep === undefined || policy.keep === 'indefinite' ? undefined : policy.keep;
  const result: RetentionPolicies = {
    dataTypes,
    consentWithdrawalTypes,
    get: (dataType) => lookup(dataType),
    deleteDueAt(dataType, recordedAt) {
      const policy = lookup(dataType);
      const ms = toMsArg(recordedAt, 'recordedAt');
      const age = policy && deletionAge(policy);
      if (!policy || !age) return undefined;
      const due = addRetentionDuration(ms, age);
      const keep = keepOf(policy);
      // Never before keep ends, whatever the other fields say.
      if (keep) {
        const kept = addRetentionDuration(ms, keep);
        if (kept > due) return kept;
      }
      return due;
    },
    anonymizeDueAt(dataType, recordedAt) {
      const policy = lookup(dataType);
      const ms = toMsArg(recordedAt, 'recordedAt');
      if (!policy?.anonymizeAfter) return undefined;
      return addRetentionDuration(ms, policy.anonymizeAfter);
    },
    deleteCutoff(dataType, now) {
      const policy = lookup(dataType);
      const ms = toMsArg(now, 'now');
      const age = policy && deletionAge(policy);
      if (!policy || !age) return undefined;
      const cutoff = retentionCutoff(ms, age);
      const keep = keepOf(policy);
      if (keep) {
        const kept = retentionCutoff(ms, keep);
        if (kept < cutoff) return kept;
      }
      return cutoff;
    },
    anonymizeCutoff(dataType, now) {
      const policy = lookup(dataType);
      const ms = toMsArg(now, 'now');
      if (!policy?.anonymizeAfter) return undefined;
      return retentionCutoff(ms, policy.anonymizeAfter);
    },
    toJSON() {
      const out: Record<string, unknown> = {};
      for (const [type, policy] of policies) out[type] = policyJSON(policy);
      return { retentionPolicies: out };
    },
  };
  return Object.freeze(result);
}

/**
 * Validates a policy document (object form) and returns the immutable policies. The root may be
 * `retention_policies`/`retentionPolicies` or the map of data types itself; fields in snake_case or
 * camelCase; durations as text ("90 days", "P90D", "2 years after resolution") or
 * {@link RetentionDuration} objects.
 *
 * For `inactive_after` + `delete_after_inactive`, records are due at their time + both durations:
 * the table's timestamp column must hold the last login (activity) time.
 *
 * @throws TypeError when `document` is not an object.
 * @throws FlowproofError `RETENTION_POLICY_INVALID` listing every problem in `details.issues`.
 * @example
 * ```ts
 * const policies = definePolicies({
 *   session_logs: { keep: '90 days', delete_after: '90 days' },
 *   audit_logs: { keep: '7 years', cannot_delete: true },
 * });
 * policies.deleteDueAt('session_logs', new Date('2026-01-01T00:00:00Z')); // 2026-04-01
 * ```
 */
export function definePolicies(document: unknown): RetentionPolicies {
  const isObject = (() => {
    try {
      return (
        typeof document === 'object' &&
        document !== null &&
        !Array.isArray(document) &&
        Object.keys(document).length >= 0
      );
    } catch (cause) {
      throw new TypeError('document cannot be read', { cause });
    }
  })();
  if (!isObject) throw new TypeError(`document must be an object, got ${describeValue(document)}`);
  const issues: FlowproofErrorIssue[] = [];
  const policies = definePoliciesCollecting(document, issues);
  if (issues.length > 0) throw invalid(issues);
  return build(policies);
}

function yamlToPlain(text: string): {
  value: unknown;
  issues: FlowproofErrorIssue[];
  cause?: unknown;
} {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    uniqueKeys: true,
    prettyErrors: false,
    version: '1.2',
  });
  const issues: FlowproofErrorIssue[] = [];
  for (const error of doc.errors) {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    const duplicate = error.code === 'DUPLICATE_KEY';
    issues.push({
      path: [],
      code: 'invalid',
      message: `${duplicate ? 'duplicate key' : 'YAML syntax error'} at line ${line}, column ${col}: ${error.message.split('\n')[0]}`,
    });
  }
  if (issues.length > 0) return { value: undefined, issues, cause: doc.errors[0] };
  try {
    return { value: doc.toJS({ maxAliasCount: 100 }), issues };
  } catch (cause) {
    return {
      value: undefined,
      issues: [
        { path: [], code: 'invalid', message: `YAML cannot be read: ${(cause as Error).message}` },
      ],
      cause,
    };
  }
}

function jsonToPlain(text: string): {
  value: unknown;
  issues: FlowproofErrorIssue[];
  cause?: unknown;
} {
  // JSON is YAML 1.2 flow style: the YAML parser gives lines and finds duplicate keys, which
  // JSON.parse does not; JSON.parse then keeps the format strict.
  const located = yamlToPlain(text);
  if (located.issues.length > 0) {
    return {
      ...located,
      issues: located.issues.map((issue) => ({
        ...issue,
        message: issue.message.replace('YAML syntax error', 'JSON syntax error'),
      })),
    };
  }
  try {
    const value: unknown = JSON.parse(text);
    return { value, issues: [] };
  } catch (cause) {
    const message = (cause as Error).message;
    const pos = /position (\d+)/.exec(message);
    let where = '';
    if (pos) {
      const before = text.slice(0, Number(pos[1]));
      const line = before.split('\n').length;
      where = ` at line ${line}`;
    }
    return {
      value: undefined,
      issues: [{ path: [], code: 'invalid', message: `JSON syntax error${where}: ${message}` }],
      cause,
    };
  }
}

/**
 * Parses a policy document from YAML (1.2) or JSON text and validates it like
 * {@link definePolicies}.
 *
 * @param options.format - `'yaml'` or `'json'`. @default JSON when the text starts with `{`, else YAML
 * @throws TypeError when `text` is not a string or `options` is malformed.
 * @throws FlowproofError `RETENTION_POLICY_INVALID` on syntax errors (with line; the parser's error
 *   as `cause`), duplicate keys, and every problem {@link definePolicies} reports.
 * @example
 * ```ts
 * const policies = parsePolicies(`
 * retention_policies:
 *   order_history:
 *     keep: "7 years"
 *     anonymize_after: "2 years"
 * `);
 * policies.get('order_history')?.anonymizeAfter?.years; // 2
 * ```
 */
export function parsePolicies(
  text: string,
  options?: { readonly format?: 'yaml' | 'json' },
): RetentionPolicies {
  if (typeof text !== 'string')
    throw new TypeError(`text must be a string, got ${describeValue(text)}`);
  let format: unknown;
  if (options !== undefined) {
    let keys: string[];
    try {
      if (typeof options !== 'object' || options === null || Array.isArray(options)) {
        throw new TypeError(`options must be an object, got ${describeValue(options)}`);
      }
      keys = Object.keys(options);
      format = (options as { format?: unknown }).format;
    } catch (cause) {
      if (cause instanceof TypeError && cause.message.startsWith('options must')) throw cause;
      throw new TypeError('options cannot be read', { cause });
    }
    const unknown = keys.filter((key) => key !== 'format');
    if (unknown.length > 0)
      throw new TypeError(
        `unknown option ${unknown.map((k) => `options.${k}`).join(', ')}; expected one of: format`,
      );
    if (format !== undefined && format !== 'yaml' && format !== 'json') {
      throw new TypeError(`options.format must be 'yaml' or 'json', got ${describeValue(format)}`);
    }
  }
  const json = format === undefined ? text.trimStart().startsWith('{') : format === 'json';
  const parsed = json ? jsonToPlain(text) : yamlToPlain(text);
  if (parsed.issues.length > 0) throw invalid(parsed.issues, parsed.cause);
  const issues: FlowproofErrorIssue[] = [];
  if (typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) {
    throw invalid([
      {
        path: [],
        code: 'invalid',
        message: `the document must be a map of data types (optionally under retention_policies), got ${describeValue(parsed.value)}`,
      },
    ]);
  }
  const policies = definePoliciesCollecting(parsed.value, issues);
  if (issues.length > 0) throw invalid(issues);
  return build(policies);
}

function isZero(d: RetentionDuration): boolean {
  return d.years + d.months + d.days + d.hours + d.minutes + d.seconds === 0;
}
