/**
 * The framework-agnostic core of HTTP idempotency, after the IETF draft "The Idempotency-Key HTTP
 * Header Field": the key comes from the `Idempotency-Key` header (a structured-field string),
 * responses are stored and replayed with `Idempotent-Replayed: true`, and the failure cases are
 * `application/problem+json` responses (400, 409 + `Retry-After`, 422, 503).
 */
import { isFlowproofError } from '../../core/errors.js';
import { assertFunction, assertOptionsObject } from '../../core/options.js';
import { IdempotencyInProgressError } from '../errors.js';
import type { Idempotency } from '../idempotency.js';
import type { IdempotencyScope } from '../scope.js';

/** The request facts the HTTP layer needs; the framework handlers fill them in. */
export interface HttpRequestData {
  /** Request method, e.g. `POST`. */
  readonly method: string;
  /** Path and query, e.g. `/orders?draft=1`. */
  readonly url: string;
  /** Request headers; names in any case; Node's repeated headers as arrays. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The parsed body (an object for JSON), raw text or bytes; `undefined` when there is none. */
  readonly body: unknown;
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

/** Options of {@link createHttpIdempotency}. */
export interface HttpIdempotencyOptions {
  /** The runner (its store, lease, retention, cache, `onUnavailable`… apply). */
  readonly idempotency: Idempotency;
  /**
   * Methods the layer applies to; others pass through untouched.
   * @default ['POST', 'PATCH']
   */
  readonly methods?: readonly string[];
  /**
   * Answer 400 when a covered request has no `Idempotency-Key`; when false such requests pass
   * through unprotected.
   * @default true
   */
  readonly required?: boolean;
  /**
   * Operation name of a request: keys are scoped by it.
   * @default method and path without the query, e.g. `POST /orders`
   */
  readonly operation?: (request: HttpRequestData) => string;
  /**
   * Who the key belongs to (e.g. the authenticated account). Keys are never shared across scopes.
   * @default the flow context's tenant and actor id
   */
  readonly scope?: (request: HttpRequestData) => IdempotencyScope | undefined;
  /**
   * The request parts fingerprinted: a reused key with a different fingerprint is answered 422.
   * @default method, path with query, and body
   */
  readonly fingerprint?: (request: HttpRequestData) => unknown;
  /**
   * Response headers stored and replayed, lowercase. `authorization`, `cookie` and `set-cookie`
   * are never stored, even when listed.
   * @default ['content-type', 'content-language', 'location', 'etag', 'last-modified', 'cache-control']
   */
  readonly replayHeaders?: readonly string[];
  /**
   * Which responses are stored and replayed; the others release the key, so a retry runs again.
   * @default status below 500
   */
  readonly storeResponse?: (status: number) => boolean;
  /**
   * Only accept keys in structured-field string form (`"abc"`). When false, a bare value of
   * printable ASCII characters is accepted too.
   * @default false
   */
  readonly strictKeyFormat?: boolean;
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

/** The HTTP idempotency layer made by {@link createHttpIdempotency}. */
export interface HttpIdempotency {
  /** The two-phase form, for frameworks whose hooks split request and response. */
  begin(request: HttpRequestData): Promise<HttpBeginResult>;
  /** Runs `handler` under idempotency and returns the response to send (fresh or replayed). */
  handle(
    request: HttpRequestData,
    handler: () => Promise<HttpResponseData>,
  ): Promise<HttpResponseData>;
}

/** Header names, lowercase. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
const REPLAYED_HEADER = 'idempotent-replayed';
const NEVER_STORED = new Set(['authorization', 'cookie', 'set-cookie', 'proxy-authorization']);
const DEFAULT_REPLAY_HEADERS = [
  'content-type',
  'content-language',
  'location',
  'etag',
  'last-modified',
  'cache-control',
];
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
export function createHttpIdempotency(options: HttpIdempotencyOptions): HttpIdempotency {
  assertOptionsObject(options, 'options');
  const { idempotency } = options;
  if (typeof idempotency?.begin !== 'function') {
    throw new TypeError('options.idempotency must be made by createIdempotency()');
  }
  const methods = new Set((options.methods ?? ['POST', 'PATCH']).map((m) => m.toUpperCase()));
  const replayHeaders = (options.replayHeaders ?? DEFAULT_REPLAY_HEADERS).map((h) =>
    h.toLowerCase(),
  );
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
  const required = options.required ?? true;
  const strict = options.strictKeyFormat ?? false;
  const operationOf = options.operation ?? defaultOperation;
  const fingerprintOf = options.fingerprint ?? defaultFingerprint;
  const storeResponse = options.storeResponse ?? ((status: number) => status < 500);

  const begin = async (request: HttpRequestData): Promise<HttpBeginResult> => {
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
    const scope = options.scope?.(request);
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
    return {
      type: 'proceed',
      async finish(response) {
        if (!storeResponse(response.status)) {
          await claim.release();
          return response;
        }
        try {
          await claim.complete(encodeResponse(response, replayHeaders));
        } catch (error) {
          const mapped = problemFor(error);
          if (mapped) return mapped;
          throw error;
        }
        return response;
      },
      abort: () => claim.release(),
    };
  };

  return {
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

function respond(response: HttpResponseData): HttpBeginResult {
  return { type: 'respond', response };
}

/**
 * Parses an `Idempotency-Key` value: a structured-field string (RFC 8941 §3.3.3: `"` … `"`, with
 * `\"` and `\\` escapes, printable ASCII), or, unless `strict`, a bare printable-ASCII value.
 * Returns `undefined` when malformed, empty or longer than 255 characters.
 *
 * @example
 * ```ts
 * parseIdempotencyKey('"8e03978e-40d5"'); // '8e03978e-40d5'
 * ```
 */
export function parseIdempotencyKey(value: string, strict = false): string | undefined {
  return parseKey(value, strict);
}

function parseKey(raw: string, strict: boolean): string | undefined {
  const value = raw.trim();
  let key: string;
  if (value.startsWith('"')) {
    let out = '';
    let i = 1;
    for (; i < value.length; i += 1) {
      const c = value.charCodeAt(i);
      if (c === 0x5c) {
        const next = value[i + 1];
        if (next !== '"' && next !== '\\') return undefined;
        out += next;
        i += 1;
      } else if (c === 0x22) break;
      else if (c < 0x20 || c > 0x7e) return undefined;
      else out += value[i];
    }
    if (i !== value.length - 1) return undefined; // unterminated, or parameters after the string
    key = out;
  } else {
    if (strict || !/^[\x21-\x7e]+$/.test(value)) return undefined;
    key = value;
  }
  return key.length >= 1 && key.length <= 255 ? key : undefined;
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
  // A repeated header is ambiguous: treat it as malformed (a string parse of "a, b" fails).
  return found.length === 1 ? found[0] : found.join(', ');
}

function defaultOperation(request: HttpRequestData): string {
  const path = request.url.split('?')[0] || '/';
  return `${request.method.toUpperCase()} ${path}`.slice(0, 128).replace(/\s+/g, '_');
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
