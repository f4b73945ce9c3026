/**
 * Idempotency for fetch-API servers (`(Request) => Promise<Response>`: Deno, Bun, Cloudflare
 * Workers, Hono, Next.js route handlers…) over {@link HttpIdempotency}.
 */
import type { HttpIdempotency, HttpResponseData } from './http-idempotency.js';

/**
 * Wraps a fetch-API handler. The request body is read from a clone (JSON bodies are parsed for
 * the fingerprint); the handler gets the original request.
 *
 * @throws TypeError when `http` is not made by {@link createHttpIdempotency}.
 * @example
 * ```ts
 * const handler = withFetchIdempotency(createHttpIdempotency({ idempotency }), async (request) =>
 *   Response.json(await createOrder(await request.json()), { status: 201 }),
 * );
 * export default { fetch: handler };
 * ```
 */
export function withFetchIdempotency(
  http: HttpIdempotency,
  handler: (request: Request) => Promise<Response>,
): (request: Request) => Promise<Response> {
  if (typeof http?.handle !== 'function') {
    throw new TypeError('http must be made by createHttpIdempotency()');
  }
  if (typeof handler !== 'function') throw new TypeError('handler must be a function');
  return async (request) => {
    const url = new URL(request.url);
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const response = await http.handle(
      {
        method: request.method,
        url: url.pathname + url.search,
        headers,
        body: await readBody(request),
      },
      async () => {
        const produced = await handler(request);
        const responseHeaders: Record<string, string> = {};
        produced.headers.forEach((value, name) => {
          responseHeaders[name] = value;
        });
        return {
          status: produced.status,
          headers: responseHeaders,
          body: new Uint8Array(await produced.arrayBuffer()),
        } satisfies HttpResponseData;
      },
    );
    const body = response.status === 204 || response.status === 304 ? null : response.body;
    return new Response(body, { status: response.status, headers: response.headers });
  };
}

async function readBody(request: Request): Promise<unknown> {
  if (request.body === null) return undefined;
  const text = await request.clone().text();
  if (/\bjson\b/i.test(request.headers.get('content-type') ?? '')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}
