/**
 * Key scoping: a client's key only means something within one operation, for one tenant and
 * principal. Two operations or two tenants sending the same key never share a record.
 */
import { getContext } from '../core/context.js';
import { describeValue, FlowproofError } from '../core/errors.js';
import { processSingleton } from '../core/process-singleton.js';

/** Who a key belongs to. Both parts are optional; give what identifies the caller. */
export interface IdempotencyScope {
  /** The tenant; default: the flow context's tenant. */
  readonly tenant?: string | undefined;
  /** The principal (user, API client…); default: the flow context's actor id. */
  readonly principal?: string | undefined;
}

/** Longest client key accepted, in characters. */
export const MAX_KEY_LENGTH = 255;

const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/**
 * Checks a client-supplied key: 1 to 255 printable ASCII characters (space to `~`).
 *
 * @throws FlowproofError `IDEMPOTENCY_KEY_INVALID` otherwise; the key itself is not echoed.
 */
export function assertClientKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new FlowproofError(
      'IDEMPOTENCY_KEY_INVALID',
      `An idempotency key must be a string of 1 to ${MAX_KEY_LENGTH} characters`,
      { details: { length: typeof key === 'string' ? key.length : null } },
    );
  }
  if (!PRINTABLE_ASCII.test(key)) {
    throw new FlowproofError(
      'IDEMPOTENCY_KEY_INVALID',
      'An idempotency key may only hold printable ASCII characters',
      { details: { length: key.length } },
    );
  }
}

/**
 * Checks a scope supplied by the application (a per-call `scope` option, or what a `scope` function
 * returned): an object whose `tenant` and `principal` are strings or absent. Numbers are refused,
 * not converted: `42` and `"42"` would silently share records.
 *
 * @param name how the value is named in the message, e.g. `options.scope` or `options.scope()`.
 * @throws TypeError naming `name` (and the part at fault).
 * @internal
 */
export function assertScope(value: unknown, name: string): asserts value is IdempotencyScope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(
      `${name} must be an object ({ tenant?, principal? }), got ${describeValue(value)}`,
    );
  }
  const { tenant, principal } = value as Record<string, unknown>;
  if (tenant !== undefined && typeof tenant !== 'string') {
    throw new TypeError(`${name}.tenant must be a string, got ${describeValue(tenant)}`);
  }
  if (principal !== undefined && typeof principal !== 'string') {
    throw new TypeError(`${name}.principal must be a string, got ${describeValue(principal)}`);
  }
}

// Without a scope, two tenants or users sending the same key (and request) share one record: the
// second gets the first one's result. Said once per process (by run() or the HTTP layer,
// whichever meets it first), loudly, since the default logger is silent. Once per process, not
// per copy of flowproof: the ESM and CommonJS builds share the flag.
const unscopedWarning = processSingleton('idempotency.unscoped-warning', 1, () => ({
  said: false,
}));

/**
 * True once the unscoped-keys warning was emitted in this process.
 *
 * @internal
 */
export function unscopedWarned(): boolean {
  return unscopedWarning.said;
}

/**
 * Emits the `FLOWPROOF_UNSCOPED_IDEMPOTENCY` process warning, once per process.
 *
 * @internal
 */
export function warnUnscoped(message: string): void {
  if (unscopedWarning.said) return;
  unscopedWarning.said = true;
  process.emitWarning(message, { code: 'FLOWPROOF_UNSCOPED_IDEMPOTENCY' });
}

/**
 * The scope of the current flow context: its tenant and its actor's id.
 *
 * @internal
 */
export function contextScope(): IdempotencyScope {
  const context = getContext();
  if (!context) return {};
  return { tenant: context.tenant, principal: context.actor?.id };
}

/**
 * Builds the stored key from its parts. Unambiguous: parts are separated by `|`, and `|` and `%`
 * inside a part are percent-encoded, so no two different scopes give the same key.
 *
 * @throws TypeError naming `operation`, `key` or `scope` (and its part at fault) when one is not
 * a string (a scope: an object whose `tenant` and `principal` are strings or absent).
 * @example
 * ```ts
 * scopedKey('orders.create', 'key-1', { tenant: 'acme', principal: 'user_42' });
 * // 'v1|orders.create|acme|user_42|key-1'
 * ```
 */
export function scopedKey(operation: string, key: string, scope: IdempotencyScope = {}): string {
  if (typeof operation !== 'string') {
    throw new TypeError(`operation must be a string, got ${describeValue(operation)}`);
  }
  if (typeof key !== 'string') {
    throw new TypeError(`key must be a string, got ${describeValue(key)}`);
  }
  assertScope(scope, 'scope');
  return joinKey(operation, key, scope);
}

/**
 * {@link scopedKey} for parts already checked (the runner's hot path).
 *
 * @internal
 */
export function joinKey(operation: string, key: string, scope: IdempotencyScope): string {
  return `v1|${escapePart(operation)}|${escapePart(scope.tenant ?? '')}|${escapePart(scope.principal ?? '')}|${escapePart(key)}`;
}

function escapePart(part: string): string {
  return part.includes('|') || part.includes('%')
    ? part.replace(/[%|]/g, (c) => (c === '%' ? '%25' : '%7C'))
    : part;
}
