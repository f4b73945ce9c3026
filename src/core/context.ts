/**
 * The flow context: who is acting, for which tenant, and which correlation id ties the work
 * together. It rides on `AsyncLocalStorage`, so it follows `await`, timers, promise chains and
 * streams without being passed by hand, and crosses process boundaries through
 * {@link serializeContext} / {@link restoreContext}.
 */
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { FlowproofError } from './errors.js';
import { createId } from './ids.js';
import { getOpenTelemetry } from './opentelemetry.js';
import { assertOptionsObject } from './options.js';

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

const storage = new AsyncLocalStorage<FlowContext>();
const TOKEN = /^[\w.:@/+=-]{1,128}$/;

/**
 * Runs `fn` with a flow context. Fields not given are inherited from the surrounding context; a
 * correlation id is generated (a ULID) when there is none. When `context.remoteTrace` is set (from
 * {@link restoreContext}) and OpenTelemetry is installed, spans started inside `fn` continue that
 * trace.
 *
 * @throws TypeError when a field is malformed.
 * @example
 * ```ts
 * await runWithContext({ actor: { id: 'user_42', type: 'user' }, tenant: 'acme' }, async () => {
 *   await placeOrder(input); // getContext() inside sees the actor, tenant and a correlation id
 * });
 * ```
 */
export function runWithContext<R>(context: FlowContextInput, fn: () => R): R {
  assertOptionsObject(context, 'context');
  const { remoteTrace, ...fields } = context;
  const merged = checkContext({
    ...storage.getStore(),
    ...withoutUndefined(fields),
    correlationId: fields.correlationId ?? storage.getStore()?.correlationId ?? createId(),
  });
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
  return AsyncResource.bind(fn) as unknown as F;
}

/**
 * Encodes `context` (default: the current one) as string headers for a queue message or an HTTP
 * request. Includes W3C `traceparent`/`tracestate` when OpenTelemetry is installed and a span is
 * active.
 *
 * @example
 * ```ts
 * await queue.send({ body, headers: serializeContext() });
 * ```
 */
export function serializeContext(
  context: FlowContext | undefined = getContext(),
): Record<string, string> {
  const headers: Record<string, string> = {};
  if (context) {
    headers[CONTEXT_HEADERS.correlationId] = context.correlationId;
    if (context.causationId) headers[CONTEXT_HEADERS.causationId] = context.causationId;
    if (context.actor) {
      headers[CONTEXT_HEADERS.actorId] = context.actor.id;
      if (context.actor.type) headers[CONTEXT_HEADERS.actorType] = context.actor.type;
    }
    if (context.tenant) headers[CONTEXT_HEADERS.tenant] = context.tenant;
  }
  const otel = getOpenTelemetry();
  if (otel) otel.propagation.inject(otel.context.active(), headers);
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
   * What to do with a malformed value: `replace` drops it (a fresh correlation id is generated),
   * `throw` raises `INVALID_CONTEXT`.
   * @default 'replace'
   */
  readonly onInvalid?: 'replace' | 'throw';
  /** Id of the message being handled; becomes the causation id of the work it starts. */
  readonly causationId?: string;
}

/**
 * Decodes headers written by {@link serializeContext} (or any inbound `x-correlation-id`). Header
 * names are matched case-insensitively; array values (Node's `IncomingHttpHeaders`) use the first
 * entry. Pass the result to {@link runWithContext}.
 *
 * @throws FlowproofError `INVALID_CONTEXT` when `onInvalid` is `throw` and a value is malformed.
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
  const lower = new Map<string, string>();
  for (const [name, raw] of Object.entries(carrier)) {
    const value = typeof raw === 'string' ? raw : raw?.[0];
    if (typeof value === 'string') lower.set(name.toLowerCase(), value.trim());
  }
  const read = (header: string): string | undefined => {
    const value = lower.get(header);
    if (value === undefined || value === '') return undefined;
    if (TOKEN.test(value)) return value;
    if (options.onInvalid === 'throw') {
      throw new FlowproofError('INVALID_CONTEXT', `Header ${header} has a malformed value`, {
        details: { header },
      });
    }
    return undefined;
  };
  const actorId = options.trustIdentity ? read(CONTEXT_HEADERS.actorId) : undefined;
  const actorType = options.trustIdentity ? read(CONTEXT_HEADERS.actorType) : undefined;
  const tenant = options.trustIdentity ? read(CONTEXT_HEADERS.tenant) : undefined;
  const causationId: string | undefined = options.causationId ?? read(CONTEXT_HEADERS.causationId);
  const remoteTrace: Record<string, string> = {};
  for (const header of ['traceparent', 'tracestate']) {
    const value = lower.get(header);
    if (value) remoteTrace[header] = value;
  }
  return {
    correlationId: read(CONTEXT_HEADERS.correlationId) ?? createId(),
    ...(causationId === undefined ? {} : { causationId }),
    ...(actorId === undefined
      ? {}
      : { actor: actorType === undefined ? { id: actorId } : { id: actorId, type: actorType } }),
    ...(tenant === undefined ? {} : { tenant }),
    ...(Object.keys(remoteTrace).length === 0 ? {} : { remoteTrace }),
  };
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkContext(context: FlowContext): FlowContext {
  const check = (value: unknown, name: string) => {
    if (value !== undefined && (typeof value !== 'string' || !TOKEN.test(value))) {
      throw new TypeError(
        `context.${name} must be 1 to 128 characters of letters, digits and . _ : @ / + = -`,
      );
    }
  };
  check(context.correlationId, 'correlationId');
  check(context.causationId, 'causationId');
  check(context.tenant, 'tenant');
  if (context.actor !== undefined) {
    assertOptionsObject(context.actor, 'context.actor');
    check(context.actor.id, 'actor.id');
    if (context.actor.id === undefined) throw new TypeError('context.actor.id is required');
    check(context.actor.type, 'actor.type');
  }
  return Object.freeze({ ...context });
}
