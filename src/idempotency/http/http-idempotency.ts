/**
 * The framework-agnostic core of HTTP idempotency, after the IETF draft "The Idempotency-Key HTTP
 * Header Field": the key comes from the `Idempotency-Key` header (a structured-field string),
 * responses are stored and replayed with `Idempotent-Replayed: true`, and the failure cases are
 * `application/problem+json` responses (400, 409 + `Retry-After`, 422, 503).
 */
import { describeValue, FlowproofError, isFlowproofError } from '../../core/errors.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../../core/logger.js';
import { assertFunction, assertKnownKeys, assertOptionsObject } from '../../core/options.js';
import { IdempotencyInProgressError } from '../errors.js';
import { sha256Hex } from '../fingerprint.js';
import type { Idempotency } from '../idempotency.js';
import {
  assertScope,
  contextScope,
  type IdempotencyScope,
  unscopedWarned,
  warnUnscoped,
} from '../scope.js';

/**
 * The request facts the HTTP layer needs; the framework handlers fill them in.
 *
 * @typeParam Raw - the framework's own request, as `raw`.
 */
export interface HttpRequestData<Raw = unknown> {
  /** Request method, e.g. `POST`. */
  readonly method: string;
  /** Path and query, e.g. `/orders?draft=1`. */
  readonly url: string;
  /** Request headers; names in any case; Node's repeated headers as arrays. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The parsed body (an object for JSON), raw text or bytes; `undefined` when there is none. */
  readonly body: unknown;
  /**
   * The framework's own request, as the adapter received it: Express/node:http `req` (with what
   * earlier middleware set, such as `req.user`), Fastify `request`, fetch `Request`. Declare its
   * type with `createHttpIdempotency<YourRequest>(…)` to read it in `scope`, `operation` and
   * `fingerprint`. `undefined` when `handle`/`begin` are called without one.
   */
  readonly raw: Raw;
}

/**
 * What {@link HttpIdempotency.begin} and {@link HttpIdempotency.handle} take: an
 * {@link HttpRequestData} whose `raw` may be left out (the adapters always pass it; leave it out
 * only when no callback reads it).
 */
export interface HttpRequestInput<Raw = unknown> extends Omit<HttpRequestData<Raw>, 'raw'> {
  /** The framework's own request; see {@link HttpRequestData.raw}. */
  readonly raw?: Raw;
}

/** A response as the HTTP layer stores and replays it. */
export interface HttpResponseData {
  /** Status code. */
  readonly status: number;
  /** Response headers, lowercase names. */
  readonly headers: Readonly<Record<string, string>>;
  /** Response body. */
  readonly body: string | Uint8Array;
}

/**
 * Options of {@link createHttpIdempotency}.
 *
 * @typeParam Raw - the framework's request type, seen as `request.raw` by the callbacks.
 */
export interface HttpIdempotencyOptions<Raw = unknown> {
  /** The runner (its store, lease, retention, cache, `onUnavailable`… apply). */
  readonly idempotency: Idempotency<unknown, boolean>;
  /**
   * Methods the layer applies to; others pass through untouched.
   * @default ['POST', 'PATCH']
   */
  readonly methods?: readonly string[];
  /**
   * Answer 400 when a covered request has no `Idempotency-Key`; when false such requests pass
   * through unprotected. With the default, mount the layer only on the routes that take a key
   * (not app-wide, or `POST /login` without one is answered 400), or set `false` and let the
   * client decide.
   * @default true
   */
  readonly required?: boolean;
  /**
   * Operation name of a request: keys are scoped by it.
   * @default method and path without the query, e.g. `POST /orders`
   */
  readonly operation?: (request: HttpRequestData<Raw>) => string;
  /**
   * Who the key belongs to (e.g. the authenticated account, `request.raw.user` with Express).
   * Keys are never shared across scopes. Return `undefined` for the default, or an object whose `tenant` and `principal` are strings
   * (or `undefined`): convert numeric ids with `String(id)`. Anything else is a `TypeError`
   * naming `options.scope`, thrown by `handle`/`begin`. When neither this option nor the flow
   * context scopes a request, the first such request of the process emits a warning
   * (`FLOWPROOF_UNSCOPED_IDEMPOTENCY`); `scope: () => ({})` says every caller is one client.
   * @default the flow context's tenant and actor id
   */
  readonly scope?: (request: HttpRequestData<Raw>) => IdempotencyScope | undefined;
  /**
   * The request parts fingerprinted: a reused key with a different fingerprint is answered 422.
   * @default method, path with query, and body
   */
  readonly fingerprint?: (request: HttpRequestData<Raw>) => unknown;
  /**
   * Response headers stored and replayed, lowercase. `authorization`, `cookie` and `set-cookie`
   * are never stored, even when listed.
   * @default ['content-type', 'content-encoding', 'content-language', 'content-disposition',
   * 'content-location', 'location', 'retry-after', 'link', 'vary', 'etag', 'last-modified',
   * 'cache-control', 'expires']
   */
  readonly replayHeaders?: readonly string[];
  /**
   * Which responses are stored and replayed; the others release the key, so a retry runs again.
   * Compose with the default: `(status) => defaultStoreResponse(status) && status !== 404`.
   * @default {@link defaultStoreResponse}: 2xx, 3xx and 4xx, except the transient 401, 403, 408,
   * 409, 423, 425 and 429
   */
  readonly storeResponse?: (status: number) => boolean;
  /**
   * Only accept keys in structured-field string form (`"abc"`). When false, a bare value of
   * printable ASCII characters is accepted too.
   * @default false
   */
  readonly strictKeyFormat?: boolean;
  /**
   * A pino-compatible logger. The layer logs, at error level, a response it could not store
   * (`idempotency.http.complete_failed`): the response is still sent, and the key stays in
   * progress until its lease ends.
   * @default a silent logger
   */
  readonly logger?: Logger;
}

/** What {@link HttpIdempotency.begin} decided. */
export type HttpBeginResult =
  | {
      /** Answer with `response` (a replay or a problem) and do not run the handler. */
      readonly type: 'respond';
      /** The response to send. */
      readonly response: HttpResponseData;
    }
  | {
      /** Not covered (method, no key and not required, or store unreachable and fail-open). */
      readonly type: 'pass';
    }
  | {
      /** Run the handler, then pass its response to `finish`. */
      readonly type: 'proceed';
      /** Stores (or releases) and returns the response to send. */
      finish(response: HttpResponseData): Promise<HttpResponseData>;
      /** The handler failed without a response: releases the key. */
      abort(): Promise<void>;
    };

/**
 * The HTTP idempotency layer made by {@link createHttpIdempotency}.
 *
 * @typeParam Raw - the framework's request type, passed as `raw`.
 */
export interface HttpIdempotency<Raw = unknown> {
  /**
   * Whether `begin` would claim a key for a request with this method and these headers: the method
   * is covered and an `Idempotency-Key` header is present. Only then is the body fingerprinted,
   * so adapters read (and buffer) a body only when this is true; `begin` answers every other
   * request (pass, or 400 for a missing key) without looking at the body.
   *
   * @throws TypeError when `request` is not an object with a string `method` and `headers`.
   */
  covers(request: Pick<HttpRequestData, 'method' | 'headers'>): boolean;
  /**
   * The two-phase form, for frameworks whose hooks split request and response.
   *
   * @throws TypeError naming `request` or the option at fault (e.g. `options.scope` returned a
   * malformed scope).
   */
  begin(request: HttpRequestInput<Raw>): Promise<HttpBeginResult>;
  /**
   * Runs `handler` under idempotency and returns the response to send (fresh or replayed). A
   * response that could not be stored is still returned (and logged).
   *
   * @throws FlowproofError `IDEMPOTENCY_RESPONSE_INVALID` when `handler` resolves to something
   * other than a response with an integer status from 100 to 599, string headers and a string or
   * byte body (nothing is stored, the key is released).
   * @throws TypeError like `begin`, or when `handler` is not a function; whatever `handler` throws.
   */
  handle(
    request: HttpRequestInput<Raw>,
    handler: () => Promise<HttpResponseData>,
  ): Promise<HttpResponseData>;
}

const HTTP_OPTION_KEYS: readonly string[] = [
  'idempotency',
  'methods',
  'required',
  'operation',
  'scope',
  'fingerprint',
  'replayHeaders',
  'storeResponse',
  'strictKeyFormat',
  'logger',
];

/** Header names, lowercase. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
const REPLAYED_HEADER = 'idempotent-replayed';
const NEVER_STORED = new Set(['authorization', 'cookie', 'set-cookie', 'proxy-authorization']);
const DEFAULT_REPLAY_HEADERS = [
  'content-type',
  'content-encoding',
  'content-language',
  'content-disposition',
  'content-location',
  'location',
  'retry-after',
  'link',
  'vary',
  'etag',
  'last-modified',
  'cache-control',
  'expires',
];
/**
 * Refusals that say "not now" rather than "done": the operation did not run, and the same request
 * may succeed later (credentials fixed, a lock or rate limit lifted).
 */
const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([401, 403, 408, 409, 423, 425, 429]);

/**
 * The default of `storeResponse`: a response is stored once the operation really ran, so 2xx,
 * 3xx and 4xx are, except the transient refusals 401, 403, 408, 409, 423, 425 and 429; 1xx and 5xx
 * never are (the key is released and a retry runs the handler again).
 *
 * @example
 * ```ts
 * createHttpIdempotency({ idempotency, storeResponse: (s) => defaultStoreResponse(s) && s !== 404 });
 * ```
 */
export function defaultStoreResponse(status: number): boolean {
  return status >= 200 && status < 500 && !TRANSIENT_STATUSES.has(status);
}
const PROBLEM_TYPE = 'urn:flowproof:problem:';

/**
 * Creates the framework-agnostic HTTP idempotency layer. Use it through a handler for your
 * framework ({@link createNodeIdempotencyMiddleware}, {@link fastifyIdempotency},
 * {@link withFetchIdempotency}) or call `handle` yourself.
 *
 * @throws TypeError naming the option when an option is invalid (including a replayed header that
 * may carry credentials).
 * @example
 * ```ts
 * const http = createHttpIdempotency({
 *   idempotency: createIdempotency({ store }),
 *   scope: (request) => ({ principal: accountOf(request) }),
 * });
 * const response = await http.handle(request, () => createOrder(request));
 * ```
 */
export function createHttpIdempotency<Raw = unknown>(
  options: HttpIdempotencyOptions<Raw>,
): HttpIdempotency<Raw> {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, HTTP_OPTION_KEYS, 'options');
  const { idempotency } = options;
  if (typeof idempotency?.begin !== 'function') {
    throw new TypeError('options.idempotency must be made by createIdempotency()');
  }
  const methods = new Set(
    stringList(options.methods ?? ['POST', 'PATCH'], 'options.methods', 'HTTP method names').map(
      (m) => m.toUpperCase(),
    ),
  );
  const replayHeaders = stringList(
    options.replayHeaders ?? DEFAULT_REPLAY_HEADERS,
    'options.replayHeaders',
    'header names',
  ).map((h) => h.toLowerCase());
  for (const header of replayHeaders) {
    if (NEVER_STORED.has(header)) {
      throw new TypeError(
        `options.replayHeaders must not include ${header}: it carries credentials`,
      );
    }
  }
  for (const name of ['operation', 'scope', 'fingerprint', 'storeResponse'] as const) {
    if (options[name] !== undefined) assertFunction(options[name], `options.${name}`);
  }
  for (const name of ['required', 'strictKeyFormat'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'boolean') {
      throw new TypeError(`options.${name} must be a boolean, got ${describeValue(options[name])}`);
    }
  }
  const logger = options.logger ?? silentLogger;
  assertLogger(logger, 'options.logger');
  const required = options.required ?? true;
  const strict = options.strictKeyFormat ?? false;
  const operationOf = options.operation ?? defaultOperation;
  const fingerprintOf = options.fingerprint ?? defaultFingerprint;
  const storeResponse = options.storeResponse ?? defaultStoreResponse;
  const scopeOf = options.scope;

  const covers = (request: Pick<HttpRequestData, 'method' | 'headers'>): boolean => {
    assertRequest(request, false);
    return (
      methods.has(request.method.toUpperCase()) &&
      headerValue(request.headers, IDEMPOTENCY_KEY_HEADER) !== undefined
    );
  };

  const begin = async (input: HttpRequestInput<Raw>): Promise<HttpBeginResult> => {
    assertRequest(input, true);
    // `raw` is left out when the caller has no framework request (then Raw is unknown).
    const request = input as HttpRequestData<Raw>;
    if (!methods.has(request.method.toUpperCase())) return { type: 'pass' };
    const raw = headerValue(request.headers, IDEMPOTENCY_KEY_HEADER);
    if (raw === undefined) {
      if (!required) return { type: 'pass' };
      return respond(
        problem(
          400,
          'idempotency-key-missing',
          'Idempotency-Key is missing',
          'This request needs an Idempotency-Key header.',
        ),
      );
    }
    const key = parseKey(raw, strict);
    if (key === undefined) {
      return respond(
        problem(
          400,
          'idempotency-key-invalid',
          'Idempotency-Key is invalid',
          'The Idempotency-Key header must be a structured-field string of 1 to 255 printable ASCII characters, e.g. "8e03978e-40d5".',
        ),
      );
    }
    const scope = scopeOf?.(request);
    // Checked here, not left to the core: its message would name run()'s option, not this one.
    if (scope !== undefined) assertScope(scope, 'options.scope()');
    else if (!unscopedWarned()) warnIfUnscoped();
    let begun: Awaited<ReturnType<Idempotency['begin']>>;
    try {
      begun = await idempotency.begin(key, fingerprintOf(request), {
        operation: operationOf(request),
        ...(scope === undefined ? {} : { scope }),
      });
    } catch (error) {
      const mapped = problemFor(error);
      if (mapped) return respond(mapped);
      throw error;
    }
    if (begun.type === 'unprotected') return { type: 'pass' };
    if (begun.type === 'replay') {
      const stored = decodeResponse(begun.value);
      return respond({ ...stored, headers: { ...stored.headers, [REPLAYED_HEADER]: 'true' } });
    }
    const { claim } = begun;
    // A stale owner has nothing left to release (the key is whoever re-claimed it), and the
    // response in hand is still the one to send.
    const release = () =>
      claim.release().catch((error: unknown) => {
        if (!isFlowproofError(error, 'IDEMPOTENCY_STALE_OWNER')) throw error;
      });
    return {
      type: 'proceed',
      async finish(response) {
        const problem = invalidResponse(response);
        if (problem !== undefined) {
          await release();
          throw new FlowproofError(
            'IDEMPOTENCY_RESPONSE_INVALID',
            `The handler's response cannot be sent or stored: ${problem}; nothing was stored and the key was released`,
            { details: { problem } },
          );
        }
        let store: boolean;
        try {
          store = storeResponse(response.status);
        } catch (error) {
          await release();
          throw error;
        }
        if (!store) {
          await release();
          return response;
        }
        try {
          await claim.complete(encodeResponse(response, replayHeaders));
        } catch (error) {
          // Another request took the key over: its response is the one retries will get.
          if (isFlowproofError(error, 'IDEMPOTENCY_STALE_OWNER')) {
            return problemFor(error) as HttpResponseData;
          }
          // The handler's side effect happened, so its response is sent whatever the store did
          // (as `run()` returns its result); the key stays in progress until its lease ends, so a
          // retry meanwhile gets 409 rather than running the handler again.
          logEvent(
            logger,
            'error',
            {
              event: 'idempotency.http.complete_failed',
              status: response.status,
              err: error,
            },
            'Could not store an idempotent HTTP response; it was sent anyway',
          );
        }
        return response;
      },
      abort: release,
    };
  };

  return {
    covers,
    begin,
    async handle(request, handler) {
      assertFunction(handler, 'handler');
      const begun = await begin(request);
      if (begun.type === 'respond') return begun.response;
      if (begun.type === 'pass') return handler();
      let response: HttpResponseData;
      try {
        response = await handler();
      } catch (error) {
        await begun.abort();
        throw error;
      }
      return begun.finish(response);
    },
  };
}

// Without a scope, two accounts sending the same key and body share one record: the second gets
// the first one's response.
function warnIfUnscoped(): void {
  const { tenant, principal } = contextScope();
  if (tenant !== undefined || principal !== undefined) return;
  warnUnscoped(
    'flowproof: Idempotency-Key records are not scoped by account (no options.scope, and no tenant or actor in the flow context), so callers sending the same key and body share one record. Pass scope: (request) => ({ principal: accountId }), or scope: () => ({}) if every caller is the same client.',
  );
}

function respond(response: HttpResponseData): HttpBeginResult {
  return { type: 'respond', response };
}

// An HTTP token (RFC 9110 §5.6.2), which method names are.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function stringList(value: unknown, name: string, what: string): string[] {
  if (
    !Array.isArray(value) ||
    !value.every((item) => typeof item === 'string' && TOKEN.test(item))
  ) {
    throw new TypeError(`${name} must be an array of ${what}, got ${describeValue(value)}`);
  }
  return [...value];
}

/** What is wrong with a handler's response, or `undefined` when it is one. */
function invalidResponse(response: unknown): string | undefined {
  if (typeof response !== 'object' || response === null) {
    return `expected { status, headers, body }, got ${describeValue(response)}`;
  }
  const { status, headers, body } = response as Partial<HttpResponseData>;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    return `status must be an integer from 100 to 599, got ${typeof status === 'number' ? status : describeValue(status)}`;
  }
  if (typeof headers !== 'object' || headers === null) {
    return `headers must be an object, got ${describeValue(headers)}`;
  }
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') {
      return `header ${name} must be a string, got ${describeValue(value)}`;
    }
  }
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) {
    return `body must be a string or bytes, got ${describeValue(body)}`;
  }
  return undefined;
}

function assertRequest(request: unknown, full: boolean): asserts request is HttpRequestData {
  if (typeof request !== 'object' || request === null) {
    throw new TypeError(`request must be an object, got ${describeValue(request)}`);
  }
  const { method, url, headers } = request as Partial<HttpRequestData>;
  if (typeof method !== 'string' || method.length === 0) {
    throw new TypeError(`request.method must be a non-empty string, got ${describeValue(method)}`);
  }
  if (full && typeof url !== 'string') {
    throw new TypeError(`request.url must be a string, got ${describeValue(url)}`);
  }
  if (typeof headers !== 'object' || headers === null) {
    throw new TypeError(`request.headers must be an object, got ${describeValue(headers)}`);
  }
}

/**
 * Parses an `Idempotency-Key` value: a structured-field string (RFC 8941 §3.3.3: `"` … `"`, with
 * `\"` and `\\` escapes, printable ASCII), whose parameters (`"abc";p=1`) are ignored, or, unless
 * `strict`, a bare printable-ASCII value without spaces or commas (a comma means two merged
 * headers). Returns `undefined` when malformed, empty or longer than 255 characters.
 *
 * @example
 * ```ts
 * parseIdempotencyKey('"8e03978e-40d5"'); // '8e03978e-40d5'
 * ```
 */
export function parseIdempotencyKey(value: string, strict = false): string | undefined {
  if (typeof value !== 'string') {
    throw new TypeError(`value must be a string, got ${describeValue(value)}`);
  }
  if (typeof strict !== 'boolean') {
    throw new TypeError(`strict must be a boolean, got ${describeValue(strict)}`);
  }
  return parseKey(value, strict);
}

function parseKey(raw: string, strict: boolean): string | undefined {
  const value = raw.trim();
  let key: string;
  if (value.startsWith('"')) {
    const string = parseSfString(value, 0);
    if (string === undefined) return undefined;
    // RFC 8941 §3.3: an Item may carry parameters (`"abc";p=1`). The draft defines none for this
    // header, so they are checked for syntax and ignored. Anything else after the string (a second
    // list member from merged headers, `"a", "b"`) is malformed.
    if (skipParameters(value, string.end) !== value.length) return undefined;
    key = string.value;
  } else {
    // A bare value is a lenient extension; a comma in one is most likely two keys merged by a
    // proxy (`a,b`), which must not become a third key.
    if (strict || !/^[\x21-\x7e]+$/.test(value) || value.includes(',')) return undefined;
    key = value;
  }
  return key.length >= 1 && key.length <= 255 ? key : undefined;
}

/** Parses an sf-string starting at `start` (a `"`): its value and the index after it. */
function parseSfString(input: string, start: number): { value: string; end: number } | undefined {
  let out = '';
  for (let i = start + 1; i < input.length; i += 1) {
    const c = input.charCodeAt(i);
    if (c === 0x5c) {
      const next = input[i + 1];
      if (next !== '"' && next !== '\\') return undefined;
      out += next;
      i += 1;
    } else if (c === 0x22) return { value: out, end: i + 1 };
    else if (c < 0x20 || c > 0x7e) return undefined;
    else out += input[i];
  }
  return undefined; // unterminated
}

const PARAMETER_KEY = /^[a-z*][a-z0-9_.*-]*/;
// RFC 8941 bare items other than strings: decimal, integer, boolean, byte sequence, token.
const BARE_ITEM =
  /^(?:-?\d{1,12}\.\d{1,3}|-?\d{1,15}|\?[01]|:[A-Za-z0-9+/=]*:|[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*)/;

/** Skips RFC 8941 parameters from `start`; returns the index after them, or -1 when malformed. */
function skipParameters(input: string, start: number): number {
  let i = start;
  while (input[i] === ';') {
    i += 1;
    while (input[i] === ' ') i += 1;
    const key = PARAMETER_KEY.exec(input.slice(i));
    if (!key) return -1;
    i += key[0].length;
    if (input[i] !== '=') continue;
    i += 1;
    if (input[i] === '"') {
      const string = parseSfString(input, i);
      if (string === undefined) return -1;
      i = string.end;
    } else {
      const item = BARE_ITEM.exec(input.slice(i));
      if (!item) return -1;
      i += item[0].length;
    }
  }
  return i;
}

function headerValue(headers: HttpRequestData['headers'], name: string): string | undefined {
  let found: string | readonly string[] | undefined = headers[name];
  if (found === undefined) {
    for (const [header, value] of Object.entries(headers)) {
      if (header.toLowerCase() === name) found = value;
    }
  }
  if (found === undefined) return undefined;
  if (typeof found === 'string') return found;
  if (!Array.isArray(found) || !found.every((item) => typeof item === 'string')) {
    throw new TypeError(
      `request.headers['${name}'] must be a string or an array of strings, got ${describeValue(found)}`,
    );
  }
  // A repeated header is ambiguous: treat it as malformed (a string parse of "a, b" fails).
  return found.length === 1 ? found[0] : found.join(', ');
}

const MAX_OPERATION_LENGTH = 128;
// Long operations keep this much of their text, then `~` and 32 hex digits of a SHA-256.
const OPERATION_PREFIX_LENGTH = MAX_OPERATION_LENGTH - 33;

/**
 * `POST_/orders`: the method and the path without the query. Characters an operation may not hold
 * (spaces, non-ASCII) are percent-encoded as UTF-8. A longer text is not cut (two paths sharing a
 * prefix would share records): it keeps a readable prefix and a hash of the whole.
 */
function defaultOperation(request: HttpRequestData): string {
  const path = request.url.split('?')[0] || '/';
  const operation = `${request.method.toUpperCase()}_${path}`.replace(
    /[^\x21-\x7e]/gu,
    percentEncode,
  );
  if (operation.length <= MAX_OPERATION_LENGTH) return operation;
  return `${operation.slice(0, OPERATION_PREFIX_LENGTH)}~${sha256Hex(operation).slice(0, 32)}`;
}

function percentEncode(char: string): string {
  let out = '';
  for (const byte of Buffer.from(char, 'utf8')) {
    out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function defaultFingerprint(request: HttpRequestData): unknown {
  const { body } = request;
  return {
    method: request.method.toUpperCase(),
    url: request.url,
    body: body instanceof Uint8Array ? Buffer.from(body).toString('base64') : (body ?? null),
  };
}

interface StoredResponse {
  readonly s: number;
  readonly h: Record<string, string>;
  readonly b: string;
  readonly e: 'utf8' | 'base64';
}

function encodeResponse(
  response: HttpResponseData,
  replayHeaders: readonly string[],
): StoredResponse {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    const lower = name.toLowerCase();
    if (!NEVER_STORED.has(lower) && replayHeaders.includes(lower)) headers[lower] = value;
  }
  return typeof response.body === 'string'
    ? { s: response.status, h: headers, b: response.body, e: 'utf8' }
    : {
        s: response.status,
        h: headers,
        b: Buffer.from(response.body).toString('base64'),
        e: 'base64',
      };
}

function decodeResponse(value: unknown): HttpResponseData {
  const stored = value as StoredResponse;
  if (
    typeof stored?.s !== 'number' ||
    !Number.isInteger(stored.s) ||
    stored.s < 200 ||
    stored.s > 599 ||
    typeof stored.b !== 'string' ||
    typeof stored.h !== 'object' ||
    stored.h === null
  ) {
    throw new TypeError('The stored HTTP response is malformed (was the key used outside HTTP?)');
  }
  return {
    status: stored.s,
    headers: { ...stored.h },
    body: stored.e === 'base64' ? new Uint8Array(Buffer.from(stored.b, 'base64')) : stored.b,
  };
}

/**
 * Largest request body the adapters buffer for a fingerprint by default: 1 MiB, as Fastify's and
 * Express's body parsers.
 *
 * @internal
 */
export const DEFAULT_MAX_BODY_BYTES = 1_048_576;

/**
 * Checks an adapter's `maxBodyBytes` option.
 *
 * @internal
 */
export function checkMaxBodyBytes(value: unknown, name: string): number {
  if (value === undefined) return DEFAULT_MAX_BODY_BYTES;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(
      `${name} must be a non-negative integer, got ${typeof value === 'number' ? value : describeValue(value)}`,
    );
  }
  return value;
}

/**
 * The 413 problem an adapter answers when a covered request's body is over its `maxBodyBytes`.
 * The key is not claimed, so a retry with a smaller body may use it.
 *
 * @internal
 */
export function contentTooLarge(limit: number): HttpResponseData {
  return problem(
    413,
    'content-too-large',
    'Request body too large',
    `The request body is larger than the ${limit} bytes this server fingerprints for Idempotency-Key requests.`,
  );
}

/**
 * The 500 problem an adapter sends when it cannot send anything better, so a response is never
 * left unended.
 *
 * @internal
 */
export function internalErrorProblem(): HttpResponseData {
  return problem(
    500,
    'internal-error',
    'Internal server error',
    'The response could not be sent; the outcome of the request is unknown.',
  );
}

/**
 * What an adapter fingerprints for raw body bytes: the parsed value of a JSON body, so formatting
 * does not matter, else the bytes themselves. Bytes that are not valid UTF-8 are never decoded
 * (replacement characters would make different bodies look the same).
 *
 * @internal
 */
export function bodyForFingerprint<B extends Uint8Array>(
  bytes: B,
  contentType: string | null | undefined,
): unknown {
  if (!/\bjson\b/i.test(contentType ?? '')) return bytes;
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return bytes;
  }
}

/**
 * Statuses whose responses have no body (fetch's "null body status"); the `Response` constructor
 * refuses one with a body, even an empty one.
 *
 * @internal
 */
export function isNullBodyStatus(status: number): boolean {
  return status === 101 || status === 103 || status === 204 || status === 205 || status === 304;
}

function problem(
  status: number,
  type: string,
  title: string,
  detail: string,
  extraHeaders: Record<string, string> = {},
): HttpResponseData {
  return {
    status,
    headers: { 'content-type': 'application/problem+json', ...extraHeaders },
    body: JSON.stringify({ type: `${PROBLEM_TYPE}${type}`, title, status, detail }),
  };
}

/** The problem response for an idempotency error, or `undefined` for any other error. */
function problemFor(error: unknown): HttpResponseData | undefined {
  if (!isFlowproofError(error)) return undefined;
  switch (error.code) {
    case 'IDEMPOTENCY_KEY_INVALID':
      return problem(400, 'idempotency-key-invalid', 'Idempotency-Key is invalid', error.message);
    case 'IDEMPOTENCY_KEY_REUSED':
      return problem(
        422,
        'idempotency-key-reused',
        'Idempotency-Key reused with a different request',
        'This Idempotency-Key was already used with a different request; use a new key.',
      );
    case 'IDEMPOTENCY_IN_PROGRESS': {
      const ms = error instanceof IdempotencyInProgressError ? error.retryAfterMs : 1000;
      return problem(
        409,
        'request-in-progress',
        'A request with this Idempotency-Key is being processed',
        'Retry after the time given in Retry-After.',
        { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))) },
      );
    }
    case 'IDEMPOTENCY_OUTCOME_UNKNOWN':
      return problem(
        409,
        'outcome-unknown',
        'The outcome of the first request is unknown',
        'The first request with this Idempotency-Key stopped after starting its side effect; it will not be repeated automatically.',
      );
    case 'IDEMPOTENCY_STALE_OWNER':
      return problem(
        409,
        'lease-lost',
        'The request lost its claim on the Idempotency-Key',
        'Another request took over this Idempotency-Key while this one ran; retry to get its response.',
        { 'retry-after': '1' },
      );
    case 'IDEMPOTENCY_UNAVAILABLE':
      return problem(
        503,
        'idempotency-unavailable',
        'Idempotency store unavailable',
        'The request was not processed; retry later.',
        { 'retry-after': '1' },
      );
    default:
      return undefined;
  }
}
