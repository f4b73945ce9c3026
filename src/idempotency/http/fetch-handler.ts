/**
 * Idempotency for fetch-API servers (`(Request) => Promise<Response>`: Deno, Bun, Cloudflare
 * Workers, Hono, Next.js route handlers…) over {@link HttpIdempotency}.
 */
import { describeValue, FlowproofError, isFlowproofError } from '../../core/errors.js';
import { assertKnownKeys, assertOptionsObject } from '../../core/options.js';
import {
  bodyForFingerprint,
  checkMaxBodyBytes,
  contentTooLarge,
  type HttpIdempotency,
  type HttpRequestData,
  type HttpResponseData,
  isNullBodyStatus,
} from './http-idempotency.js';

/** Options of {@link withFetchIdempotency}. */
export interface FetchIdempotencyOptions {
  /**
   * Largest request body, in bytes, read for the fingerprint: a covered request with a larger
   * body is answered 413 (`content-too-large` problem) without running the handler or claiming
   * the key.
   * @default 1048576 (1 MiB)
   */
  readonly maxBodyBytes?: number;
}

/**
 * Wraps a fetch-API handler. For a covered request (its method is, and it has an
 * `Idempotency-Key`), the body is read from a clone (JSON bodies are parsed for the fingerprint,
 * others fingerprinted byte for byte), the handler gets the original request, and its response is
 * buffered to be stored. Every other request goes straight to the handler, and its `Response` is
 * returned as is, unread: streams (server-sent events) keep streaming.
 *
 * @throws TypeError when `http` is not made by {@link createHttpIdempotency}, `handler` is not a
 * function, or an option is invalid (naming it).
 * @example
 * ```ts
 * const handler = withFetchIdempotency(createHttpIdempotency({ idempotency }), async (request) =>
 *   Response.json(await createOrder(await request.json()), { status: 201 }),
 * );
 * export default { fetch: handler };
 * ```
 */
export function withFetchIdempotency(
  http: HttpIdempotency<Request>,
  handler: (request: Request) => Promise<Response>,
  options: FetchIdempotencyOptions = {},
): (request: Request) => Promise<Response> {
  if (typeof http?.begin !== 'function' || typeof http.covers !== 'function') {
    throw new TypeError('http must be made by createHttpIdempotency()');
  }
  if (typeof handler !== 'function') {
    throw new TypeError(`handler must be a function, got ${describeValue(handler)}`);
  }
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['maxBodyBytes'], 'options');
  const maxBodyBytes = checkMaxBodyBytes(options.maxBodyBytes, 'options.maxBodyBytes');
  return async (request) => {
    // Checked by shape, not instanceof: runtimes and polyfills each have their own Request class.
    const candidate = request as Partial<Request> | null | undefined;
    if (
      typeof candidate?.url !== 'string' ||
      typeof candidate.method !== 'string' ||
      typeof candidate.clone !== 'function' ||
      typeof candidate.headers?.forEach !== 'function'
    ) {
      throw new TypeError(`request must be a fetch Request, got ${describeValue(request)}`);
    }
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      throw new TypeError('request.url must be an absolute URL');
    }
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const data: { -readonly [K in keyof HttpRequestData<Request>]: HttpRequestData<Request>[K] } = {
      method: request.method,
      url: url.pathname + url.search,
      headers,
      body: undefined,
      raw: request,
    };
    if (request.body !== null && http.covers(data)) {
      const bytes = await readAtMost(request, maxBodyBytes);
      if (bytes === undefined) return toResponse(contentTooLarge(maxBodyBytes));
      data.body = bodyForFingerprint(bytes, request.headers.get('content-type'));
    }
    const begun = await http.begin(data);
    if (begun.type === 'respond') return toResponse(begun.response);
    if (begun.type === 'pass') return handler(request);
    let produced: Response;
    let body: Uint8Array;
    try {
      produced = await handler(request);
      if (
        typeof (produced as Partial<Response> | undefined)?.arrayBuffer !== 'function' ||
        typeof produced.status !== 'number' ||
        typeof produced.headers?.forEach !== 'function'
      ) {
        throw new FlowproofError(
          'IDEMPOTENCY_RESPONSE_INVALID',
          `The handler must return a Response, got ${describeValue(produced)}; nothing was stored and the key was released`,
          { details: { problem: `expected a Response, got ${describeValue(produced)}` } },
        );
      }
      body = new Uint8Array(await produced.arrayBuffer());
    } catch (error) {
      await begun.abort();
      throw error;
    }
    const response: HttpResponseData = {
      status: produced.status,
      headers: storableHeaders(produced.headers),
      body,
    };
    let final: HttpResponseData;
    try {
      final = await begun.finish(response);
    } catch (error) {
      // A response that is none (Response.error(), status 0) was not stored; the key is released.
      if (isFlowproofError(error, 'IDEMPOTENCY_RESPONSE_INVALID')) throw error;
      // finish() returns the handler's response when the store fails; should the core reject
      // anyway, the side effect happened, so the client still gets that response.
      final = response;
    }
    if (final !== response) return toResponse(final);
    // The handler's own headers, so every Set-Cookie reaches the client (they are never stored).
    return new Response(isNullBodyStatus(produced.status) ? null : body, {
      status: produced.status,
      statusText: produced.statusText,
      headers: produced.headers,
    });
  };
}

/** Reads a clone of the body, or returns `undefined` once it exceeds `limit` bytes. */
async function readAtMost(request: Request, limit: number): Promise<Uint8Array | undefined> {
  if (Number(request.headers.get('content-length')) > limit) return undefined;
  const stream = request.clone().body;
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      // Not awaited: cancelling one branch of a clone settles only once the other is cancelled.
      reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

// Set-Cookie is left out: it is never stored, and Headers.forEach would yield each one apart.
function storableHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (name !== 'set-cookie') out[name] = value;
  });
  return out;
}

// The Response constructor refuses a body, even an empty one, with a null-body status (205…).
function toResponse(response: HttpResponseData): Response {
  return new Response(isNullBodyStatus(response.status) ? null : response.body, {
    status: response.status,
    headers: response.headers,
  });
}
