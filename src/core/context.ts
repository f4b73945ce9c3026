/**
 * The flow context: who is acting, for which tenant, and which correlation id ties the work
 * together. It rides on `AsyncLocalStorage`, so it follows `await`, timers, promise chains and
 * streams without being passed by hand, and crosses process boundaries through
 * {@link serializeContext} / {@link restoreContext}.
 */
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { describeValue, FlowproofError } from './errors.js';
import { createId } from './ids.js';
import { getOpenTelemetry } from './opentelemetry.js';
import { assertFunction, assertKnownKeys, assertOptionsObject } from './options.js';
import { processSingleton } from './process-singleton.js';

/** The principal on whose behalf work runs. */
export interface Actor {
  /** Stable identifier of the user, service or job. */
  readonly id: string;
  /** What kind of principal it is, e.g. `user`, `service`, `system`. */
  readonly type?: string;
}

/** Context carried across async work. */
export interface FlowContext {
  /** Ties together every operation started by one request or message. */
  readonly correlationId: string;
  /** The id of the message or operation that directly caused this one. */
  readonly causationId?: string;
  /** Who is acting. */
  readonly actor?: Actor;
  /** The tenant the work belongs to. */
  readonly tenant?: string;
  /**
   * The W3C `traceparent` of the trace this work continues, kept without OpenTelemetry:
   * {@link serializeContext} writes it on when no OpenTelemetry span is active, so the trace id
   * survives hops that run no tracing SDK. Set from `remoteTrace` by {@link runWithContext}.
   */
  readonly traceparent?: string;
  /** The W3C `tracestate` that came with {@link FlowContext.traceparent}. */
  readonly tracestate?: string;
  /**
   * W3C baggage carried with the flow: only the keys an allow-list let in on the way in
   * ({@link RestoreContextOptions.baggage}), or what the application set.
   */
  readonly baggage?: Readonly<Record<string, string>>;
}

/** What {@link restoreContext} returns: a context plus the remote trace to continue, if any. */
export interface RestoredContext extends FlowContext {
  /** W3C trace-context headers to continue; {@link runWithContext} activates them. */
  readonly remoteTrace?: Readonly<Record<string, string>>;
}

/** Input of {@link runWithContext}: every field is optional and inherited from the outer context. */
export type FlowContextInput = Partial<RestoredContext>;

/** Header names used by {@link serializeContext} and {@link restoreContext}. */
export const CONTEXT_HEADERS: {
  /** Carries {@link FlowContext.correlationId}. */
  readonly correlationId: 'x-correlation-id';
  /** Carries {@link FlowContext.causationId}. */
  readonly causationId: 'x-causation-id';
  /** Carries the actor's id. */
  readonly actorId: 'x-actor-id';
  /** Carries the actor's type. */
  readonly actorType: 'x-actor-type';
  /** Carries {@link FlowContext.tenant}. */
  readonly tenant: 'x-tenant-id';
} = /* @__PURE__ */ Object.freeze({
  correlationId: 'x-correlation-id',
  causationId: 'x-causation-id',
  actorId: 'x-actor-id',
  actorType: 'x-actor-type',
  tenant: 'x-tenant-id',
});

// One per process, shared by the ESM and CommonJS builds: a context set through one is seen by
// code loaded through the other (idempotency scoping by tenant depends on it).
const storage = processSingleton('context.storage', 1, () => new AsyncLocalStorage<FlowContext>());
const TOKEN = /^[\w.:@/+=-]{1,128}$/;
const TOKEN_RULE = 'must be 1 to 128 characters of letters, digits and . _ : @ / + = -';

/**
 * Runs `fn` with a flow context. Fields not given are inherited from the surrounding context; a
 * correlation id is generated (a ULID) when there is none. When `context.remoteTrace` is set (from
 * {@link restoreContext}), its well-formed `traceparent` and `tracestate` become the context's
 * (replacing the outer ones), so the trace survives without OpenTelemetry; and when
 * OpenTelemetry is installed, spans started inside `fn` continue that trace. A `traceparent`
 * given as a field is kept but does not activate anything in OpenTelemetry.
 *
 * @throws TypeError when a field is malformed, or when `remoteTrace` comes with `traceparent` or
 * `tracestate` fields.
 * @example
 * ```ts
 * await runWithContext({ actor: { id: 'user_42', type: 'user' }, tenant: 'acme' }, async () => {
 *   await placeOrder(input); // getContext() inside sees the actor, tenant and a correlation id
 * });
 * ```
 */
export function runWithContext<R>(context: FlowContextInput, fn: () => R): R {
  assertOptionsObject(context, 'context');
  assertKnownKeys(context, CONTEXT_KEYS, 'context');
  assertFunction(fn, 'fn');
  const { remoteTrace, ...fields } = context;
  if (remoteTrace !== undefined) {
    assertOptionsObject(remoteTrace, 'context.remoteTrace');
    for (const [header, value] of Object.entries(remoteTrace)) {
      if (typeof value !== 'string') {
        throw new TypeError(
          `context.remoteTrace.${header} must be a string, got ${describeValue(value)}`,
        );
      }
    }
  }
  const trace = remoteTrace === undefined ? undefined : remoteTraceFields(remoteTrace);
  if (
    trace !== undefined &&
    (fields.traceparent !== undefined || fields.tracestate !== undefined)
  ) {
    throw new TypeError(
      'context.remoteTrace cannot be given with context.traceparent or context.tracestate',
    );
  }
  const outer = storage.getStore();
  // A new trace replaces the outer one whole: a tracestate belongs to its traceparent.
  const { traceparent: _, tracestate: __, ...outerWithoutTrace } = outer ?? {};
  const newTrace = (trace?.traceparent ?? fields.traceparent) !== undefined;
  const merged = checkContext(
    {
      ...(newTrace ? outerWithoutTrace : outer),
      ...withoutUndefined(fields),
      ...trace,
      correlationId: fields.correlationId ?? outer?.correlationId ?? createId(),
    },
    true,
    outer?.baggage,
  );
  const otel = remoteTrace === undefined ? undefined : getOpenTelemetry();
  if (otel && remoteTrace) {
    const parent = otel.propagation.extract(otel.context.active(), { ...remoteTrace });
    return otel.context.with(parent, () => storage.run(merged, fn));
  }
  return storage.run(merged, fn);
}

/** The current flow context, or `undefined` outside {@link runWithContext}. */
export function getContext(): FlowContext | undefined {
  return storage.getStore();
}

/**
 * Binds `fn` to the current context, for callbacks that a library invokes from elsewhere (an
 * EventEmitter fed by a socket, a pool's worker). Listeners added inside a context already see it
 * when the event is emitted inside the same context; `bindContext` covers emitters fired from
 * outside.
 *
 * @typeParam F - the callback's type, returned unchanged.
 */
// biome-ignore lint/suspicious/noExplicitAny: mirrors AsyncResource.bind's own signature.
export function bindContext<F extends (...args: any[]) => unknown>(fn: F): F {
  assertFunction(fn, 'fn');
  return AsyncResource.bind(fn) as unknown as F;
}

/** Options of {@link serializeContext}. */
export interface SerializeContextOptions {
  /**
   * Which of the context's baggage keys to write in the W3C `baggage` header: a list (an
   * allow-list: keys not in the context are skipped), `true` for all, `false` for none.
   * @default true
   */
  readonly baggage?: readonly string[] | boolean;
}

/**
 * Encodes `context` (default: the current one) as string headers for a queue message or an HTTP
 * request: the `x-…` headers of {@link CONTEXT_HEADERS}, W3C `traceparent`/`tracestate` and
 * `baggage`. When OpenTelemetry is installed and a span is active, its injection wins: its
 * `traceparent` (and `tracestate`) replace the context's, and a `baggage` header it writes
 * replaces the context's; otherwise the trace the context was started with is written.
 *
 * @throws TypeError naming the option when an option (or a field of `context`) is invalid.
 * @example
 * ```ts
 * await queue.send({ body, headers: serializeContext() });
 * // Only some baggage keys leave the service:
 * const headers = serializeContext(undefined, { baggage: ['region'] });
 * ```
 */
export function serializeContext(
  context: FlowContext | undefined = getContext(),
  options: SerializeContextOptions = {},
): Record<string, string> {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['baggage'], 'options');
  const baggageWanted = baggageSelection(options.baggage ?? true, 'options.baggage');
  if (context !== undefined) checkContext(context, false);
  const headers: Record<string, string> = {};
  if (context) {
    headers[CONTEXT_HEADERS.correlationId] = context.correlationId;
    if (context.causationId) headers[CONTEXT_HEADERS.causationId] = context.causationId;
    if (context.actor) {
      headers[CONTEXT_HEADERS.actorId] = context.actor.id;
      if (context.actor.type) headers[CONTEXT_HEADERS.actorType] = context.actor.type;
    }
    if (context.tenant) headers[CONTEXT_HEADERS.tenant] = context.tenant;
    if (context.traceparent) {
      headers.traceparent = context.traceparent;
      if (context.tracestate) headers.tracestate = context.tracestate;
    }
    const baggage = Object.entries(context.baggage ?? {}).filter(([key]) => baggageWanted(key));
    if (baggage.length > 0) headers.baggage = encodeBaggage(baggage);
  }
  const otel = getOpenTelemetry();
  if (otel) {
    const injected: Record<string, string> = {};
    otel.propagation.inject(otel.context.active(), injected);
    // OpenTelemetry's span wins, and the context's tracestate must not ride along with it.
    if (injected.traceparent !== undefined) {
      delete headers.traceparent;
      delete headers.tracestate;
    }
    Object.assign(headers, injected);
  }
  return headers;
}

/** Options of {@link restoreContext}. */
export interface RestoreContextOptions {
  /**
   * Take actor and tenant from the carrier. Only do this for carriers from a trusted hop (your own
   * queue, a service behind your gateway): over public HTTP they are whatever the client claims.
   * @default false
   */
  readonly trustIdentity?: boolean;
  /**
   * What to do with a malformed or ambiguous value (see {@link restoreContext}): `replace` drops
   * it (a fresh correlation id is generated), `throw` raises `INVALID_CONTEXT`.
   * @default 'replace'
   */
  readonly onInvalid?: 'replace' | 'throw';
  /**
   * Id of the message being handled; becomes the causation id of the work it starts. Same rules
   * as {@link FlowContext.causationId}: 1 to 128 letters, digits and `. _ : @ / + = -`.
   */
  readonly causationId?: string;
  /**
   * Which keys of an inbound W3C `baggage` header to take into the context: an allow-list of
   * keys, or `true` for every key (only for a trusted hop). Baggage is whatever the sender put
   * there, so take only what you use.
   * @default false (no baggage is read)
   */
  readonly baggage?: readonly string[] | boolean;
}

/**
 * W3C `traceparent`: version, trace id, parent id, flags, in lower-case hex. Version `ff` is
 * forbidden; a later version may append fields after a `-`, version `00` may not.
 * https://www.w3.org/TR/trace-context/#traceparent-header
 */
const TRACEPARENT =
  /^(?!ff)([0-9a-f]{2})-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}(-[\x21-\x7e]*)?$/;
/** W3C `tracestate` list-member key: `simple-key` or `tenant@system`. */
const TRACESTATE_KEY =
  /^(?:[a-z][a-z0-9_*/-]{0,255}|[a-z0-9][a-z0-9_*/-]{0,240}@[a-z][a-z0-9_*/-]{0,13})$/;
/** W3C `tracestate` list-member value: printable ASCII but `,` and `=`, not ending in a space. */
const TRACESTATE_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
/** Limits W3C asks vendors to propagate at least; anything longer is not trace context. */
const MAX_TRACEPARENT_LENGTH = 512;
const MAX_TRACESTATE_LENGTH = 512;
const MAX_TRACESTATE_MEMBERS = 32;

function isTraceparent(value: string): boolean {
  if (value.length > MAX_TRACEPARENT_LENGTH) return false;
  const match = TRACEPARENT.exec(value);
  return match !== null && !(match[1] === '00' && match[2] !== undefined);
}

function isTracestate(value: string): boolean {
  if (value.length > MAX_TRACESTATE_LENGTH) return false;
  // Empty members (`a=1,,b=2`) are allowed; optional whitespace is spaces and tabs only.
  const members = value
    .split(',')
    .map(trimOws)
    .filter((member) => member !== '');
  if (members.length > MAX_TRACESTATE_MEMBERS) return false;
  return members.every((member) => {
    const equals = member.indexOf('=');
    return (
      equals > 0 &&
      TRACESTATE_KEY.test(member.slice(0, equals)) &&
      TRACESTATE_VALUE.test(member.slice(equals + 1))
    );
  });
}

/**
 * Decodes headers written by {@link serializeContext} (or any inbound `x-correlation-id`), and
 * W3C `traceparent`/`tracestate` to continue. Pass the result to {@link runWithContext}.
 *
 * Header names are matched case-insensitively; array values (Node's `IncomingHttpHeaders`) use
 * the first entry. A header present under several spellings (`X-Tenant-Id` and `x-tenant-id`)
 * with different values is ambiguous, and treated as malformed: neither value is used, since
 * which one a proxy meant is unknowable (and picking one lets a client shadow a proxy's header).
 * The same value repeated is fine.
 *
 * Malformed values are dropped (with `onInvalid: 'throw'`, raised): ids that are not 1 to 128
 * letters, digits and `. _ : @ / + = -`; a `traceparent` not in W3C form (lower-case hex,
 * non-zero ids); a `tracestate` over 512 characters, over 32 members or not `key=value` list
 * members. Without a valid `traceparent`, `tracestate` is dropped too, as W3C requires.
 *
 * @throws FlowproofError `INVALID_CONTEXT` when `onInvalid` is `throw` and a value is malformed
 * or ambiguous (`details.header` names it; `details.reason` is `ambiguous` for the latter).
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const context = restoreContext(message.headers, { trustIdentity: true, causationId: message.id });
 * await runWithContext(context, () => handle(message));
 * ```
 */
export function restoreContext(
  carrier: Readonly<Record<string, string | readonly string[] | undefined>>,
  options: RestoreContextOptions = {},
): RestoredContext {
  assertOptionsObject(carrier, 'carrier');
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['trustIdentity', 'onInvalid', 'causationId', 'baggage'], 'options');
  const {
    trustIdentity = false,
    onInvalid = 'replace',
    causationId: givenCausationId,
    baggage: baggageOption = false,
  } = options;
  const baggageWanted = baggageSelection(baggageOption, 'options.baggage');
  if (typeof trustIdentity !== 'boolean') {
    // A truthy string such as 'false' must not switch on trust in client-supplied identity.
    throw new TypeError(
      `options.trustIdentity must be a boolean, got ${describeValue(trustIdentity)}`,
    );
  }
  if (onInvalid !== 'replace' && onInvalid !== 'throw') {
    throw new TypeError(
      `options.onInvalid must be 'replace' or 'throw', got ${typeof onInvalid === 'string' ? JSON.stringify(onInvalid) : describeValue(onInvalid)}`,
    );
  }
  // Checked here, not first in runWithContext, far from the mistake.
  if (
    givenCausationId !== undefined &&
    (typeof givenCausationId !== 'string' || !TOKEN.test(givenCausationId))
  ) {
    throw new TypeError(`options.causationId ${TOKEN_RULE}`);
  }

  const lower = new Map<string, string>();
  const ambiguous = new Set<string>();
  for (const [name, raw] of Object.entries(carrier)) {
    const value = firstHeaderValue(raw);
    if (typeof value !== 'string') continue;
    const header = name.toLowerCase();
    const seen = lower.get(header);
    if (seen !== undefined && seen !== value.trim()) ambiguous.add(header);
    lower.set(header, value.trim());
  }
  const invalid = (header: string, reason?: 'ambiguous'): undefined => {
    if (onInvalid === 'throw') {
      throw new FlowproofError(
        'INVALID_CONTEXT',
        reason === 'ambiguous'
          ? `Header ${header} appears more than once, with different values`
          : `Header ${header} has a malformed value`,
        { details: reason === undefined ? { header } : { header, reason } },
      );
    }
    return undefined;
  };
  const read = (header: string, valid: (value: string) => boolean): string | undefined => {
    if (ambiguous.has(header)) return invalid(header, 'ambiguous');
    const value = lower.get(header);
    if (value === undefined || value === '') return undefined;
    return valid(value) ? value : invalid(header);
  };
  const readToken = (header: string) => read(header, (value) => TOKEN.test(value));

  const actorId = trustIdentity ? readToken(CONTEXT_HEADERS.actorId) : undefined;
  const actorType = trustIdentity ? readToken(CONTEXT_HEADERS.actorType) : undefined;
  const tenant = trustIdentity ? readToken(CONTEXT_HEADERS.tenant) : undefined;
  const causationId = givenCausationId ?? readToken(CONTEXT_HEADERS.causationId);
  const traceparent = read('traceparent', isTraceparent);
  // W3C: a tracestate means nothing without the traceparent it belongs to.
  const tracestate = traceparent === undefined ? undefined : read('tracestate', isTracestate);
  const remoteTrace: Record<string, string> = {};
  if (traceparent !== undefined) remoteTrace.traceparent = traceparent;
  if (tracestate !== undefined) remoteTrace.tracestate = tracestate;
  let baggage: Readonly<Record<string, string>> | undefined;
  if (baggageOption !== false) {
    const header = read('baggage', () => true);
    const parsed = header === undefined ? undefined : parseBaggage(header, baggageWanted);
    if (typeof parsed === 'string') invalid('baggage', parsed === 'ambiguous' ? parsed : undefined);
    else if (parsed !== undefined && Object.keys(parsed).length > 0) baggage = parsed;
  }
  return {
    correlationId: readToken(CONTEXT_HEADERS.correlationId) ?? createId(),
    ...(causationId === undefined ? {} : { causationId }),
    ...(actorId === undefined
      ? {}
      : { actor: actorType === undefined ? { id: actorId } : { id: actorId, type: actorType } }),
    ...(tenant === undefined ? {} : { tenant }),
    ...(Object.keys(remoteTrace).length === 0 ? {} : { remoteTrace }),
    ...(baggage === undefined ? {} : { baggage }),
  };
}

/** The well-formed `traceparent` and `tracestate` of a `remoteTrace` carrier; others are left out. */
function remoteTraceFields(
  remoteTrace: Readonly<Record<string, string>>,
): { traceparent: string; tracestate?: string } | undefined {
  const { traceparent, tracestate } = remoteTrace;
  if (traceparent === undefined || !isTraceparent(traceparent)) return undefined;
  return tracestate !== undefined && isTracestate(tracestate)
    ? { traceparent, tracestate }
    : { traceparent };
}

/**
 * W3C baggage: a key is an RFC 7230 token; a raw value is baggage-octets (printable ASCII but
 * space, `"`, `,`, `;` and backslash), percent-encoded UTF-8. https://www.w3.org/TR/baggage/
 */
const BAGGAGE_KEY = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAGGAGE_VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;
const BAGGAGE_PROPERTY =
  /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*=[ \t]*[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*)?$/;
/** The limits the W3C Baggage spec sets on a `baggage` header. */
const MAX_BAGGAGE_BYTES = 8192;
const MAX_BAGGAGE_MEMBERS = 180;

/** Checks a baggage option (`readonly string[] | boolean`); returns which keys it lets through. */
function baggageSelection(option: unknown, name: string): (key: string) => boolean {
  if (typeof option === 'boolean') return () => option;
  let list: readonly unknown[] | undefined;
  try {
    list = Array.isArray(option) ? [...option] : undefined;
  } catch {
    list = undefined; // a revoked proxy, an element getter that throws
  }
  if (list === undefined) {
    throw new TypeError(
      `${name} must be a list of baggage keys, true or false, got ${describeValue(option)}`,
    );
  }
  for (const key of list) {
    if (typeof key !== 'string' || !BAGGAGE_KEY.test(key)) {
      throw new TypeError(
        `${name} must list W3C baggage keys (RFC 7230 tokens), got ${typeof key === 'string' ? JSON.stringify(key) : describeValue(key)}`,
      );
    }
  }
  const keys = new Set(list as readonly string[]);
  return (key) => keys.has(key);
}

/** Writes baggage entries as a W3C `baggage` header; the values must be well-formed text. */
function encodeBaggage(entries: readonly (readonly [string, string])[]): string {
  return entries.map(([key, value]) => `${key}=${encodeURIComponent(value)}`).join(',');
}

/**
 * The entries of a W3C `baggage` header whose keys `wanted` accepts, percent-decoded, properties
 * (after `;`) ignored; `'malformed'` when the header breaks the grammar or its limits, and
 * `'ambiguous'` when a wanted key appears twice with different values.
 */
function parseBaggage(
  header: string,
  wanted: (key: string) => boolean,
): Record<string, string> | 'malformed' | 'ambiguous' {
  if (header.length > MAX_BAGGAGE_BYTES || Buffer.byteLength(header) > MAX_BAGGAGE_BYTES) {
    return 'malformed';
  }
  const members = header.split(',');
  if (members.length > MAX_BAGGAGE_MEMBERS) return 'malformed';
  const values = new Map<string, string>();
  for (const member of members) {
    const [pair = '', ...properties] = member.split(';').map(trimOws);
    const equals = pair.indexOf('=');
    if (equals < 0) return 'malformed';
    const key = trimOws(pair.slice(0, equals));
    const raw = trimOws(pair.slice(equals + 1));
    if (!BAGGAGE_KEY.test(key) || !BAGGAGE_VALUE.test(raw)) return 'malformed';
    if (!properties.every((property) => BAGGAGE_PROPERTY.test(property))) return 'malformed';
    if (!wanted(key)) continue;
    let value: string;
    try {
      value = decodeURIComponent(raw);
    } catch {
      return 'malformed'; // a bad escape, or bytes that are not UTF-8
    }
    const seen = values.get(key);
    if (seen !== undefined && seen !== value) return 'ambiguous';
    values.set(key, value);
  }
  return Object.fromEntries(values);
}

/** Removes W3C optional whitespace (spaces and tabs) around `text`. */
function trimOws(text: string): string {
  return text.replace(/^[ \t]+|[ \t]+$/g, '');
}

/** A header's value: the string, or an array's first entry; anything else (unreadable too) is absent. */
function firstHeaderValue(raw: unknown): string | undefined {
  if (typeof raw === 'string') return raw;
  try {
    return Array.isArray(raw) && typeof raw[0] === 'string' ? raw[0] : undefined;
  } catch {
    return undefined;
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The fields of a {@link FlowContextInput}. */
const CONTEXT_KEYS = [
  'correlationId',
  'causationId',
  'actor',
  'tenant',
  'remoteTrace',
  'traceparent',
  'tracestate',
  'baggage',
];

/**
 * Checks every field of `context` and returns a frozen copy. `complete` (the default) also
 * requires the correlation id, which {@link runWithContext} always fills in. `checkedBaggage` is
 * baggage already checked (the outer context's): inherited as is, it is not checked again.
 */
function checkContext(
  context: FlowContext,
  complete = true,
  checkedBaggage?: FlowContext['baggage'],
): FlowContext {
  assertOptionsObject(context, 'context');
  if (!complete && typeof context.correlationId !== 'string') {
    throw new TypeError(`context.correlationId ${TOKEN_RULE}`);
  }
  const check = (value: unknown, name: string) => {
    if (value !== undefined && (typeof value !== 'string' || !TOKEN.test(value))) {
      throw new TypeError(`context.${name} ${TOKEN_RULE}`);
    }
  };
  check(context.correlationId, 'correlationId');
  check(context.causationId, 'causationId');
  check(context.tenant, 'tenant');
  if (context.actor !== undefined) {
    assertOptionsObject(context.actor, 'context.actor');
    assertKnownKeys(context.actor, ['id', 'type'], 'context.actor');
    check(context.actor.id, 'actor.id');
    if (context.actor.id === undefined) throw new TypeError('context.actor.id is required');
    check(context.actor.type, 'actor.type');
  }
  const { traceparent, tracestate, baggage } = context;
  if (
    traceparent !== undefined &&
    (typeof traceparent !== 'string' || !isTraceparent(traceparent))
  ) {
    throw new TypeError('context.traceparent must be a W3C traceparent');
  }
  if (tracestate !== undefined) {
    if (typeof tracestate !== 'string' || !isTracestate(tracestate)) {
      throw new TypeError('context.tracestate must be a W3C tracestate');
    }
    if (traceparent === undefined) {
      throw new TypeError('context.tracestate needs the context.traceparent it belongs to');
    }
  }
  if (baggage === undefined || baggage === checkedBaggage) return Object.freeze({ ...context });
  return Object.freeze({ ...context, baggage: checkBaggage(baggage) });
}

/** Checks the context's baggage against the W3C grammar and limits; returns a frozen copy. */
function checkBaggage(baggage: unknown): Readonly<Record<string, string>> {
  assertOptionsObject(baggage, 'context.baggage');
  const entries: [string, string][] = [];
  for (const [key, value] of Object.entries(baggage)) {
    if (!BAGGAGE_KEY.test(key)) {
      throw new TypeError(
        `context.baggage keys must be W3C baggage keys (RFC 7230 tokens), got ${JSON.stringify(key)}`,
      );
    }
    if (typeof value !== 'string') {
      throw new TypeError(`context.baggage.${key} must be a string, got ${describeValue(value)}`);
    }
    try {
      encodeURIComponent(value);
    } catch {
      throw new TypeError(`context.baggage.${key} must be well-formed text (no lone surrogate)`);
    }
    entries.push([key, value]);
  }
  if (entries.length > MAX_BAGGAGE_MEMBERS || encodeBaggage(entries).length > MAX_BAGGAGE_BYTES) {
    throw new TypeError(
      `context.baggage must fit a W3C baggage header: at most ${MAX_BAGGAGE_MEMBERS} entries and ${MAX_BAGGAGE_BYTES} bytes`,
    );
  }
  return Object.freeze(Object.fromEntries(entries));
}
